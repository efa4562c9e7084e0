"""Drill: an RQ worker killed (SIGKILL) while it sends SMS.

Outbox rows are queued through the outbox service and committed (one job each, enqueued
after the commit). A worker, as the Procfile's `worker:` line runs it, sends them through
the real Africa's Talking sender to the local fake; it is killed while the fake holds one
of its requests (the message in flight). A new worker carries on; `flask sms sweep` puts
the row left `sending` back once SMS_SENDING_TIMEOUT_SECONDS has passed. Every row must
end sent: lost 0; only a message in flight at a kill may go twice, marked
`possible_duplicate`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import psycopg

from drills.checks import settle_sms
from drills.infra import PreparedCluster, Stack, stack
from drills.report import DrillResult
from gateway import create_app, db
from gateway.config import Settings
from gateway.db import get_db
from gateway.sms.dispatch import SmsDispatcher
from gateway.sms.outbox import queue_sms
from gateway.sms_app import EXTENSION
from gateway.wiring import EXTENSION as HIRFA

NAME = "rq-worker"
PHONE_BASE = 620_000_000  # +2126200xxxxx: one recipient per row
HOLD_SECONDS = 30.0  # the fake holds the request in flight this long (the worker dies first)


@dataclass(frozen=True)
class Plan:
    messages: int
    kills: int


SHORT = Plan(messages=60, kills=1)
FULL = Plan(messages=200, kills=2)


def _queue(built: Stack, count: int) -> int:
    """Queue `count` SMS through the outbox service in one transaction; returns how many
    jobs RQ holds after the commit."""
    app = create_app(Settings.from_env(built.env()))
    try:
        with app.app_context():
            session = get_db()
            for n in range(count):
                queue_sms(
                    session, recipient=f"+212{PHONE_BASE + n}", language="fr", template="phone_linked", code="*4242#"
                )
            session.commit()  # after the commit: one job per row on the queue
        sms: SmsDispatcher = app.extensions[EXTENSION]
        return int(sms.queue.count)
    finally:
        app.extensions[db.EXTENSION].kw["bind"].dispose()
        app.extensions[HIRFA].redis.close()


def _states(built: Stack) -> dict[str, int]:
    with psycopg.connect(built.postgres.plain_url) as connection:
        return dict(Counter(row[0] for row in connection.execute("SELECT state FROM sms_outbox")))


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    plan = SHORT if short else FULL
    result = DrillResult(NAME, echo=echo)
    in_flight: list[int] = []
    with stack(NAME, template=template, web_workers=0, rq_workers=0) as built:
        result.step(
            f"started private redis :{built.redis.port}, postgres :{built.postgres.port}, "
            f"fake Africa's Talking {built.fake.base_url} (no web server: the outbox is filled directly)"
        )
        jobs = _queue(built, plan.messages)
        result.step(f"queued {plan.messages} SMS (outbox rows, one commit): {jobs} jobs on RQ after the commit")
        built.fake.slow_seconds = HOLD_SECONDS
        share = plan.messages // (plan.kills + 1)
        for _ in range(plan.kills):
            with built.fake.arrived:
                seen = len(built.fake.received)
            built.fake.script(*["success"] * (share - 1), "slow")
            worker = built.start_worker()
            result.step(f"started rq worker {worker.name} (the Procfile's worker: line)")
            if not built.fake.wait_for(seen + share, timeout=60):
                result.step("the worker never reached the message to kill it on:\n" + built.log_tail())
                break
            worker.kill()
            states = _states(built)
            in_flight.append(states.get("sending", 0))
            result.step(
                f"SIGKILL rq worker {worker.name} (pid {worker.process.pid}) while the fake held its request "
                f"#{seen + share}; outbox now {states}"
            )
        worker = built.start_worker()
        result.step(f"started rq worker {worker.name}; sweeping every few seconds until every row is settled")
        sms = settle_sms(built, limit=45.0)
        result.step(f"settled: {sms.sweeps} `flask sms sweep` run(s), {sms.settle_s:.1f} s; outbox {_states(built)}")

    result.count(f"kills: {len(in_flight)}; rows left `sending` by each kill: {in_flight}")
    result.count(sms.line())
    result.target(
        "the worker was killed while sending",
        len(in_flight) == plan.kills and all(count >= 1 for count in in_flight),
        f"rows in flight at each kill: {in_flight}",
    )
    result.target("lost SMS: 0, every row sent", sms.lost == 0 and sms.sent == plan.messages, sms.line())
    result.target(
        "only messages in flight at a kill went twice, each marked possible_duplicate",
        sms.unflagged_duplicates == 0 and sms.duplicates <= sum(in_flight),
        f"{sms.duplicates} sent twice, {sms.flagged} flagged, {sms.unflagged_duplicates} unflagged",
    )
    result.summary.update({"recovery s": f"{sms.settle_s:.1f}", **sms.columns()})
    return result
