"""A dependency stopped then started again under load (the Redis and PostgreSQL drills)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from drills.checks import check_payments, judge_payments_and_sms, settle_sms
from drills.infra import PreparedCluster, Stack, stack
from drills.load import HopCounts, Load, count_hops, outage, wait_for_service
from drills.report import DrillResult

MAX_DEGRADED_MS = 1000  # a hop answers a polite END within 1 s while a dependency is down
MAX_RECOVERY_S = 5.0  # full service within 5 s after it returns


@dataclass(frozen=True)
class Plan:
    warm: float  # load before the fault
    down: float  # how long the dependency stays down
    quiet: float  # normal answers only for this long after it returns: full service
    limit: float  # ... or give up waiting after this long
    status_threads: int
    payment_threads: int


SHORT = Plan(warm=1.0, down=1.5, quiet=1.0, limit=8.0, status_threads=3, payment_threads=2)
FULL = Plan(warm=5.0, down=10.0, quiet=5.0, limit=20.0, status_threads=4, payment_threads=2)


def describe(built: Stack) -> str:
    return (
        f"private redis :{built.redis.port}, postgres :{built.postgres.port} ({built.postgres.bin.parent.name}), "
        f"granian :{built.gateway.port} (workers {built.gateway.worker_pids()}), "
        f"{len(built.workers)} rq worker, fake Africa's Talking {built.fake.base_url}"
    )


def dependency_drill(
    name: str,
    *,
    short: bool,
    template: PreparedCluster | None,
    stop: Callable[[Stack], str],
    start: Callable[[Stack], str],
    echo: bool = True,
) -> DrillResult:
    plan = SHORT if short else FULL
    result = DrillResult(name, echo=echo)
    with stack(name, template=template) as built:
        result.step("started " + describe(built))
        load = Load(built.gateway.base_url, status_threads=plan.status_threads, payment_threads=plan.payment_threads)
        with built.supervised() as restarts:
            load.start()
            result.step(f"load: {plan.status_threads} status threads, {plan.payment_threads} payment threads")
            try:
                time.sleep(plan.warm)
                result.step(stop(built))
                down_at = time.monotonic()
                time.sleep(plan.down)
                result.step(start(built))
                up_at = time.monotonic()
                wait_for_service(load.recorder, up_at, quiet=plan.quiet, limit=plan.limit)
                result.step(
                    f"waited for full service ({plan.quiet:.1f} s of normal answers, {plan.limit:.0f} s at most)"
                )
            finally:
                load.stop()
        result.step("load stopped")
        for restart in restarts:
            result.step(f"supervisor restarted an rq worker: {restart}")
        ledger = check_payments(built.postgres.plain_url, load.payments)
        sms = settle_sms(built)
        result.step(f"settled the outbox: {sms.sweeps} `flask sms sweep` run(s) while a worker ran")
    finish(result, load, down_at, up_at, ledger_line=ledger.line(), sms_line=sms.line())
    result.count(f"rq workers restarted by the supervisor: {len(restarts)}")
    hops = load.recorder.snapshot()
    counts = count_hops(hops)
    seen = outage(hops, down_at, up_at)
    plain = counts.server_errors == 0 and not _odd(counts.kinds)
    result.target("no 5xx, every answer CON or END", plain, _kinds(counts))
    result.target("no connection errors", counts.kinds.get("error", 0) == 0, f"{counts.kinds.get('error', 0)} errors")
    result.target(
        "polite END within 1 s while down",
        seen.hops_down > 0
        and seen.kinds_down.get("unavailable", 0) > 0
        and seen.max_down_ms <= MAX_DEGRADED_MS
        and seen.max_degraded_ms <= MAX_DEGRADED_MS,
        f"{seen.hops_down} hops while down {seen.kinds_down}, slowest {seen.max_down_ms:.0f} ms; "
        f"slowest polite END {seen.max_degraded_ms:.0f} ms",
    )
    result.target(
        "full service within 5 s after it returns",
        seen.recovery_s <= MAX_RECOVERY_S and seen.normal_after > 0,
        f"{seen.recovery_s:.2f} s ({seen.degraded_after} degraded answers after it returned, "
        f"{seen.normal_after} normal)",
    )
    judge_payments_and_sms(result, ledger, sms)
    result.summary.update(
        {
            "down s": f"{up_at - down_at:.1f}",
            "max END ms": f"{max(seen.max_down_ms, seen.max_degraded_ms):.0f}",
            "recovery s": f"{seen.recovery_s:.2f}",
        }
    )
    return result


def _odd(kinds: dict[str, int]) -> bool:
    return bool(kinds.get("http", 0) or kinds.get("other", 0))


def _kinds(counts: HopCounts) -> str:
    return f"HTTP statuses {counts.statuses}, answers {counts.kinds}"


def finish(result: DrillResult, load: Load, down_at: float, up_at: float, *, ledger_line: str, sms_line: str) -> None:
    hops = load.recorder.snapshot()
    counts = count_hops(hops)
    seen = outage(hops, down_at, up_at)
    result.count(
        f"hops: {counts.hops} ({counts.kinds}), HTTP {counts.statuses}, "
        f"p50 {counts.p50_ms:.0f} ms, p99 {counts.p99_ms:.0f} ms, max {counts.max_ms:.0f} ms"
    )
    result.count(
        f"while down ({up_at - down_at:.1f} s): {seen.hops_down} hops {seen.kinds_down}, "
        f"slowest answer {seen.max_down_ms:.0f} ms"
    )
    result.count(
        f"after it returned: {seen.degraded_after} degraded answers, full service after {seen.recovery_s:.2f} s, "
        f"{seen.normal_after} normal answers"
    )
    result.count(f"sessions redialed after a polite END (payment flows): {load.payments.redials}")
    result.count(ledger_line)
    for screen in load.payments.unexpected[:5]:
        result.count(f"unexpected screen: {screen}")
    result.count(sms_line)
    result.summary.update(
        {
            "hops": str(counts.hops),
            "ENDs": str(counts.kinds.get("unavailable", 0)),
            "5xx": str(counts.server_errors),
            "errors": str(counts.kinds.get("error", 0)),
        }
    )
