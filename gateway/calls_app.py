"""The Flask edge of calls out (gateway/voice/calls.py): the caller, the RQ job, enqueue
after commit, and the sweep the SMS clock runs every minute.

Jobs go on the SMS queue (SMS_QUEUE): the `worker:` process that sends SMS places calls
too. The job id names the row and its attempt; a job run twice calls once anyway (the
row is claimed by compare-and-set). With the embedded Redis there is no worker, and a real
provider is never called inside a request: the clock's sweep places due calls itself."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from gateway.config import Settings
from gateway.sms_app import app_session, job_app
from gateway.voice.caller import AfricasTalkingCaller
from gateway.voice.calls import Caller, Placed, due_call_ids, expire_silent_calls, place_call
from gateway.wiring import EXTENSION as HIRFA
from gateway.wiring import Hirfa
from models import CallOutbox

log = logging.getLogger(__name__)

EXTENSION = "hirfa.calls"
NEW_ROWS = "hirfa.calls.new_ids"
PLACE_JOB = "gateway.calls_app.place_call_job"
QUEUED_JOB_TTL = 24 * 3600


@dataclass
class CallDispatcher:
    settings: Settings
    redis: redis.Redis
    caller: Caller | None  # None: calls out are not set up (AT_VOICE_NUMBER)
    queue: Queue = field(init=False)

    def __post_init__(self) -> None:
        self.queue = Queue(self.settings.sms_queue, connection=self.redis, serializer=JSONSerializer)

    @property
    def inline(self) -> bool:
        return self.settings.uses_embedded_redis

    def job_id(self, call_id: int, attempt: int) -> str:
        return re.sub(r"[^A-Za-z0-9_-]+", "-", self.settings.redis_prefix) + f"call-{call_id}-{attempt}"

    def enqueue(self, rows: Sequence[tuple[int, int]]) -> int:
        """Queue a job per (call id, attempts so far). Never raises; returns how many."""
        if not rows or self.inline:
            return 0
        jobs = [
            Queue.prepare_data(
                PLACE_JOB,
                args=(call_id,),
                job_id=self.job_id(call_id, attempt),
                timeout=self.settings.sms_job_timeout_seconds,
                result_ttl=0,
                ttl=QUEUED_JOB_TTL,
                description=f"place call {call_id}",
            )
            for call_id, attempt in rows
        ]
        try:
            self.queue.enqueue_many(jobs)
        except Exception:
            log.warning("call enqueue failed; the sweep will queue them", extra={"count": len(rows)}, exc_info=True)
            return 0
        return len(rows)


def init_app(app: Flask, settings: Settings, client: redis.Redis) -> None:
    caller = AfricasTalkingCaller.from_settings(settings) if settings.calls_out else None
    app.extensions[EXTENSION] = CallDispatcher(settings=settings, redis=client, caller=caller)
    if not event.contains(Session, "after_flush", _collect_new_rows):
        event.listen(Session, "after_flush", _collect_new_rows)
        event.listen(Session, "after_commit", _enqueue_after_commit)
        event.listen(Session, "after_transaction_end", _forget_on_end)


def dispatcher_of(app: Flask) -> CallDispatcher:
    found: CallDispatcher = app.extensions[EXTENSION]
    return found


def place_call_job(call_id: int) -> str:
    """RQ job: place call `call_id` if it is queued and due. Returns what happened."""
    app = job_app()
    calls = dispatcher_of(app)
    if calls.caller is None:
        log.error("a call job without AT_VOICE_NUMBER: left queued", extra={"call_id": call_id})
        return Placed.SKIPPED.value
    parts: Hirfa = app.extensions[HIRFA]
    with app_session(app) as db:
        placed = place_call(
            db_session=db, caller=calls.caller, settings=calls.settings, clock=parts.clock, call_id=call_id
        )
    return placed.value


def sweep_calls(app: Flask) -> int:
    """Calls whose outcome never came count as not answered; due calls are queued (placed
    here with the embedded Redis). Returns how many were queued or placed."""
    calls = dispatcher_of(app)
    parts: Hirfa = app.extensions[HIRFA]
    with app_session(app) as db:
        expire_silent_calls(db_session=db, settings=calls.settings, now=parts.clock())
        db.commit()
        ids = due_call_ids(db_session=db, now=parts.clock(), settings=calls.settings)
        attempts = dict(db.query(CallOutbox.id, CallOutbox.attempts).filter(CallOutbox.id.in_(ids)).all())
        db.rollback()
    if not ids or calls.caller is None:
        return 0
    if calls.inline:
        for call_id in ids:
            place_call_job(call_id)
        return len(ids)
    return calls.enqueue([(call_id, attempts.get(call_id, 0)) for call_id in ids])


def _collect_new_rows(session: Session, _flush: UOWTransaction) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, CallOutbox)]
    if ids:
        session.info.setdefault(NEW_ROWS, set()).update(ids)


def _enqueue_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    ids: set[int] | None = session.info.pop(NEW_ROWS, None)
    if not ids:
        return
    if not has_app_context() or EXTENSION not in current_app.extensions:
        log.warning("calls committed outside the app: the sweep will queue them", extra={"count": len(ids)})
        return
    dispatcher_of(current_app).enqueue([(call_id, 0) for call_id in sorted(ids)])


def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(NEW_ROWS, None)
