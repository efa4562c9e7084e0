"""Drill: a web worker killed (SIGKILL) under load.

The gateway runs as the Procfile's `web:` line says (granian, two workers). One worker,
a child of granian's main process, is killed mid-load: the other worker must carry on,
a replacement must come, and a session begun before the kill must go on after it (its
state lives in Redis, not in the dead process). Only the hop the killed worker was
answering may get no answer; no 5xx; payments and SMS as in the other drills."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from functools import partial

from drills.checks import check_payments, judge_payments_and_sms, settle_sms
from drills.infra import POOL_PHONE_BASE, POOL_SIZE, PreparedCluster, Stack, stack, wait_until
from drills.load import Call, HopRecord, Load, count_hops, wait_for_service
from drills.outage import describe
from drills.report import DrillResult

NAME = "web-worker"
MAX_RECOVERY_S = 5.0
IN_FLIGHT_SLACK = 0.05


@dataclass(frozen=True)
class Plan:
    warm: float
    kills: int
    between: float  # load between two kills, and after the last one
    status_threads: int
    payment_threads: int


SHORT = Plan(warm=1.0, kills=1, between=2.0, status_threads=3, payment_threads=2)
FULL = Plan(warm=5.0, kills=3, between=8.0, status_threads=4, payment_threads=2)


def _witness(load: Load, n: int) -> tuple[Call, bool]:
    """An artisan no other thread dials opens the registration screen before the kill."""
    call = load.call(f"+212{POOL_PHONE_BASE + POOL_SIZE - 1 - n}", "witness")
    call.dial()
    first = call.ok()
    call.send("1")
    return call, first and call.ok()


def _replaced(built: Stack, victim: int) -> bool:
    """As many workers as before, the killed one not among them."""
    pids = built.gateway.worker_pids()
    return len(pids) >= built.gateway.workers and victim not in pids


def _kill_one(built: Stack, result: DrillResult) -> tuple[int | None, float]:
    workers = built.gateway.worker_pids()
    if not workers:
        result.step("no granian worker to kill: granian's main process is gone")
        return None, time.monotonic()
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    result.step(f"SIGKILL granian worker {victim} (workers were {workers}, main {built.gateway.process_id})")
    return victim, killed_at


def run(
    *,
    short: bool = False,
    template: PreparedCluster | None = None,
    echo: bool = True,
    granian_extra: tuple[str, ...] = (),
) -> DrillResult:
    plan = SHORT if short else FULL
    result = DrillResult(NAME, echo=echo)
    kills: list[float] = []
    witness_ok: list[bool] = []
    respawned: list[str] = []
    with stack(NAME, template=template, granian_extra=granian_extra) as built:
        result.step("started " + describe(built))
        result.step("granian: " + " ".join(built.gateway.command()[1:]))
        load = Load(built.gateway.base_url, status_threads=plan.status_threads, payment_threads=plan.payment_threads)
        with built.supervised() as restarts:
            load.start()
            result.step(f"load: {plan.status_threads} status threads, {plan.payment_threads} payment threads")
            try:
                time.sleep(plan.warm)
                for n in range(plan.kills):
                    call, began = _witness(load, n)
                    victim, killed_at = _kill_one(built, result)
                    if victim is None:
                        break
                    kills.append(killed_at)
                    time.sleep(0.1)
                    # The session begun on either worker goes on: the next screens, same session.
                    call.send("98")
                    witness_ok.append(began and call.ok() and call.typed[-2:] == ["1", "98"])
                    result.step(
                        f"session {call.session_id[-8:]} begun before the kill went on after it: "
                        f"{'yes' if witness_ok[-1] else 'NO'} ({call.last_kind})"
                    )
                    replaced = wait_until(partial(_replaced, built, victim), MAX_RECOVERY_S)
                    pids = built.gateway.worker_pids()
                    respawned.append(f"{pids}" if replaced else f"not replaced within 5 s ({pids})")
                    result.step(
                        f"granian main {'alive' if built.gateway.alive() else 'EXITED'}; workers now {pids}"
                        + ("" if replaced else " (no replacement within 5 s)")
                    )
                    time.sleep(plan.between)
                wait_for_service(load.recorder, time.monotonic(), quiet=1.0, limit=2.0)
            finally:
                load.stop()
        result.step("load stopped")
        for restart in restarts:
            result.step(f"supervisor restarted an rq worker: {restart}")
        alive_at_end = built.gateway.alive()
        ledger = check_payments(built.postgres.plain_url, load.payments)
        sms = settle_sms(built)
        result.step(f"settled the outbox: {sms.sweeps} `flask sms sweep` run(s) while a worker ran")

    hops = load.recorder.snapshot()
    counts = count_hops(hops)
    errors = [hop for hop in hops if hop.kind == "error"]
    in_flight = [hop for hop in errors if any(_in_flight(hop, killed) for killed in kills)]
    stray = [hop for hop in errors if not any(_in_flight(hop, killed) for killed in kills)]
    last = kills[-1] if kills else time.monotonic()
    after = [hop for hop in hops if hop.started >= last]
    bad_after = [hop for hop in after if not hop.normal]
    recovery = max((hop.ended - last for hop in bad_after), default=0.0)
    # Still failing when the load stopped: service never came back.
    latest = max((hop.started for hop in hops), default=last)
    tail = [hop for hop in hops if hop.started >= max(last, latest - 1.0)]
    recovered = bool(tail) and all(hop.normal for hop in tail)
    shown = f"{recovery:.2f}" if recovered else "never"
    result.count(
        f"hops: {counts.hops} ({counts.kinds}), HTTP {counts.statuses}, "
        f"p50 {counts.p50_ms:.0f} ms, p99 {counts.p99_ms:.0f} ms, max {counts.max_ms:.0f} ms"
    )
    result.count(
        f"kills: {len(kills)}; hops with no answer: {len(errors)} ({len(in_flight)} in flight at a kill, "
        f"{len(stray)} at other times); resume offers on redial: {load.recorder.resume_offers}"
    )
    for hop in errors:
        nearest = min(kills, key=lambda killed: abs(hop.started - killed)) if kills else hop.started
        result.count(
            f"unanswered hop ({hop.flow}): sent {hop.started - nearest:+.3f} s from a kill, "
            f"failed after {hop.seconds * 1000:.0f} ms"
        )
    result.count(
        f"after the last kill: {len(after)} hops, {len(bad_after)} not answered normally, "
        f"normal service again after {shown} s; workers after each kill: {respawned}"
    )
    result.count(f"sessions begun before a kill that went on after it: {sum(witness_ok)}/{len(witness_ok)}")
    result.count(ledger.line())
    for screen in load.payments.unexpected[:5]:
        result.count(f"unexpected screen: {screen}")
    result.count(sms.line())
    result.count(f"rq workers restarted by the supervisor: {len(restarts)}")

    plain = counts.server_errors == 0 and not counts.kinds.get("http", 0) and not counts.kinds.get("other", 0)
    result.target("no 5xx, every answer CON or END", plain, f"HTTP statuses {counts.statuses}")
    result.target(
        "the other worker carries on (only hops in flight on the killed worker unanswered)",
        bool(kills) and alive_at_end and not stray,
        f"granian main {'alive' if alive_at_end else 'EXITED'}; {len(in_flight)} hops in flight on the killed "
        f"worker(s) unanswered for {len(kills)} kill(s), {len(stray)} others",
    )
    result.target(
        "a replacement worker, full service within 5 s",
        bool(kills)
        and len(respawned) == len(kills)
        and all(not r.startswith("not") for r in respawned)
        and recovered
        and recovery <= MAX_RECOVERY_S,
        f"workers after each kill {respawned}; full service {shown} s after the last kill",
    )
    result.target(
        "sessions continue across the kill",
        bool(witness_ok) and all(witness_ok),
        f"{sum(witness_ok)}/{len(witness_ok)} witness sessions went on",
    )
    judge_payments_and_sms(result, ledger, sms)
    result.summary.update(
        {"hops": str(counts.hops), "5xx": str(counts.server_errors), "errors": str(len(errors)), "recovery s": shown}
    )
    return result


def _in_flight(hop: HopRecord, killed: float) -> bool:
    """In flight at the kill: the killed worker had accepted it (granian's workers accept a
    few connections ahead of their one blocking thread). `killed` is taken just after
    `kill(2)` returned, so a hop sent a few milliseconds later may still be among them."""
    return hop.started <= killed + IN_FLIGHT_SLACK and hop.ended >= killed - IN_FLIGHT_SLACK
