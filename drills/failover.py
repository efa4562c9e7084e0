"""A fault in the highly available topology under load (the cluster drills): callers dial
through HAProxy while one server is killed; nothing tells the apps, they must find the
survivor themselves (Sentinel, libpq's several hosts, HAProxy's checks and retries)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from drills.checks import check_payments, judge_payments_and_sms, settle_sms
from drills.infra import PreparedCluster
from drills.load import Load, count_hops, wait_for_service
from drills.report import DrillResult
from drills.topology import Cluster, cluster

# A fault: does it (steps into the result) and returns when it began (time.monotonic()),
# from which "full service" is timed.
Fault = Callable[[Cluster, DrillResult], float]


@dataclass(frozen=True)
class Plan:
    warm: float  # load before the fault
    quiet: float  # normal answers only for this long: full service
    limit: float  # ... or stop waiting after this long
    status_threads: int
    payment_threads: int


SHORT = Plan(warm=1.5, quiet=2.0, limit=20.0, status_threads=3, payment_threads=2)
FULL = Plan(warm=5.0, quiet=8.0, limit=40.0, status_threads=4, payment_threads=2)


@dataclass(frozen=True)
class Targets:
    recovery_s: float  # full service within this long after the fault began
    # Faults (their index) during which hops may go unanswered: a hard restart of the one
    # load balancer (nobody listens for a moment).
    lossy: tuple[int, ...] = ()
    polite_ends: bool = True  # polite ENDs are allowed (a dependency is away for a moment)


def describe(built: Cluster) -> str:
    assert built.haproxy is not None and built.replica is not None and built.standby is not None
    return (
        f"HAProxy :{built.haproxy.port} -> web :{built.instances[0].port}, :{built.instances[1].port}; "
        f"redis master :{built.redis.port}, replica :{built.replica.port}, "
        f"sentinels {[sentinel.port for sentinel in built.sentinels]}; "
        f"postgres primary :{built.postgres.port}, standby :{built.standby.port} (synchronous); "
        f"{len(built.workers)} rq worker, clock"
    )


def cluster_drill(
    name: str,
    *,
    short: bool,
    template: PreparedCluster | None,
    faults: list[Fault],
    targets: Targets,
    echo: bool = True,
) -> DrillResult:
    """Start the cluster, load it through HAProxy, run `faults` one after another (each
    waits for full service), then count what callers, the database and the SMS provider saw."""
    plan = SHORT if short else FULL
    result = DrillResult(name, echo=echo)
    began: list[float] = []
    with cluster(name, template=template) as built:
        result.step("started " + describe(built))
        load = Load(built.base_url, status_threads=plan.status_threads, payment_threads=plan.payment_threads)
        with built.supervised() as restarts:
            load.start()
            result.step(f"load through HAProxy: {plan.status_threads} status, {plan.payment_threads} payment threads")
            try:
                time.sleep(plan.warm)
                for fault in faults:
                    began.append(fault(built, result))
                    wait_for_service(load.recorder, began[-1], quiet=plan.quiet, limit=plan.limit)
                    result.step(f"normal answers only for {plan.quiet:.0f} s (or {plan.limit:.0f} s went by)")
            finally:
                load.stop()
        result.step("load stopped")
        assert built.haproxy is not None
        retried, redispatched = built.haproxy.retries()
        result.step(f"HAProxy (its current process) retried {retried} hops, {redispatched} on another instance")
        for restart in restarts:
            result.step(f"supervisor restarted an rq worker: {restart}")
        ledger = check_payments(built.postgres.plain_url, load.payments)
        sms = settle_sms(built)
        result.step(f"settled the outbox: {sms.sweeps} `flask sms sweep` run(s)")

    hops = load.recorder.snapshot()
    counts = count_hops(hops)
    ends = counts.kinds.get("unavailable", 0)
    unanswered = counts.kinds.get("error", 0)
    recoveries = []
    excused = 0  # unanswered hops during a fault that may lose some
    for n, start in enumerate(began):
        until = began[n + 1] if n + 1 < len(began) else float("inf")
        # A hop fails when its answer fails: one in flight when the next fault began is that fault's.
        bad = [hop for hop in hops if start <= hop.ended < until and not hop.normal]
        recoveries.append(max((hop.ended - start for hop in bad), default=0.0))
        if n in targets.lossy:
            excused += sum(1 for hop in bad if hop.kind == "error")
    recovery = max(recoveries, default=0.0)
    latest = max((hop.started for hop in hops), default=0.0)
    tail = [hop for hop in hops if hop.started >= latest - 1.0]
    recovered = bool(began) and bool(tail) and all(hop.normal for hop in tail)
    slowest_end = max((hop.seconds for hop in hops if hop.kind == "unavailable"), default=0.0) * 1000
    result.count(
        f"hops: {counts.hops} ({counts.kinds}), HTTP {counts.statuses}, "
        f"p50 {counts.p50_ms:.0f} ms, p99 {counts.p99_ms:.0f} ms, max {counts.max_ms:.0f} ms"
    )
    result.count(
        f"polite ENDs: {ends} (slowest {slowest_end:.0f} ms); unanswered hops: {unanswered}; 5xx: "
        f"{counts.server_errors}; full service after each fault: {', '.join(f'{r:.2f} s' for r in recoveries)}"
    )
    result.count(
        f"sessions redialed (payment flows): {load.payments.redials}; resume offers: {load.recorder.resume_offers}"
    )
    result.count(ledger.line())
    for screen in load.payments.unexpected[:5]:
        result.count(f"unexpected screen: {screen}")
    result.count(sms.line())
    result.count(f"rq workers restarted by the supervisor: {len(restarts)}")

    plain = counts.server_errors == 0 and not counts.kinds.get("http", 0) and not counts.kinds.get("other", 0)
    result.target("no 5xx, every answer CON or END", plain, f"HTTP statuses {counts.statuses}, answers {counts.kinds}")
    result.target(
        "every hop answered" + (" (but while nothing listens)" if targets.lossy else ""),
        unanswered == excused,
        f"{unanswered} hops got no answer, {excused} of them while nothing listened",
    )
    if not targets.polite_ends:
        result.target("not one polite END (the survivors carry on at once)", ends == 0, f"{ends} polite ENDs")
    result.target(
        f"full service within {targets.recovery_s:g} s of each fault",
        recovered and recovery <= targets.recovery_s,
        f"{', '.join(f'{r:.2f} s' for r in recoveries)}; normal at the end: {'yes' if recovered else 'NO'}",
    )
    judge_payments_and_sms(result, ledger, sms)
    result.summary.update(
        {
            "hops": str(counts.hops),
            "ENDs": str(ends),
            "5xx": str(counts.server_errors),
            "errors": str(unanswered),
            "max END ms": f"{slowest_end:.0f}",
            "recovery s": f"{recovery:.2f}",
        }
    )
    return result
