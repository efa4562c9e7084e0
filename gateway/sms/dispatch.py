"""Getting outbox rows to the workers: enqueue after commit, and re-enqueue what was lost.

Every `OutboxMessage` flushed in a session is enqueued on RQ once that session commits
(never before: a worker must find the row). The job id is derived from the row, and the
job is idempotent, so a row enqueued twice is sent once. A failed enqueue (Redis down) is
logged, never raised into the request: `flask sms sweep` finds the row later.

With the embedded fakeredis there can be no worker (its Redis lives in this process), so
rows are sent inline right after the commit when the sender is local (console, fake):
`make run` shows each SMS in its log. A real provider is never called inside a request:
with it, `flask sms sweep` (or the clock) sends them.

No Flask here: the app's edge (gateway/sms_app.py) builds the dispatcher, says how to send
a row inline, and tells the commit hook where the current dispatcher is."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.queue import EnqueueData
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from gateway.config import Settings
from gateway.riders import Command, current_riders
from gateway.sms.interfaces import SmsSender
from models import OutboxMessage

log = logging.getLogger(__name__)

NEW_ROWS = "hirfa.sms.new_outbox_ids"
# The RQ entry point, named (not imported): it lives at the app's edge and builds its context.
SEND_JOB = "gateway.sms_app.send_sms"
# A job that raised (database gone) is tried again by RQ, then left to the sweep.
JOB_RETRY = Retry(max=3, interval=[10, 60, 300])
FAILED_JOB_TTL = 7 * 24 * 3600
# A job still queued after a day is dropped by RQ; the sweep queues its row again.
QUEUED_JOB_TTL = 24 * 3600
LIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.DEFERRED})
RUNNING_STATUSES = frozenset({JobStatus.STARTED, JobStatus.SCHEDULED})
LOCAL_SENDERS = frozenset({"console", "fake"})  # instant, no network: fine right after a commit


def smpp_ids_key(redis_prefix: str) -> str:
    """The Redis list of outbox ids `flask smpp run` sends."""
    return f"{redis_prefix}sms:smpp:ids"


def job_id_for(prefix: str, outbox_id: int) -> str:
    """`hirfa:` + row 42 -> `hirfa-sms-42`: one job id per row (RQ allows [A-Za-z0-9_-])."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", prefix) + f"sms-{outbox_id}"


@dataclass
class SmsDispatcher:
    """The app's SMS machinery: its sender and its RQ queue (or inline sending)."""

    settings: Settings
    redis: redis.Redis
    sender: SmsSender
    inline: bool
    # How a row is sent inline (the job's own function, given by the app's edge).
    send_now: Callable[[int], object] | None = None
    queue: Queue = field(init=False)

    def __post_init__(self) -> None:
        self.queue = Queue(self.settings.sms_queue, connection=self.redis, serializer=JSONSerializer)

    def job_id(self, outbox_id: int) -> str:
        return job_id_for(self.settings.redis_prefix, outbox_id)

    def _job_data(self, outbox_id: int) -> EnqueueData:
        return Queue.prepare_data(
            SEND_JOB,
            args=(outbox_id,),
            job_id=self.job_id(outbox_id),
            timeout=self.settings.sms_job_timeout_seconds,
            result_ttl=0,  # nothing to keep: the row is the record
            ttl=QUEUED_JOB_TTL,
            failure_ttl=FAILED_JOB_TTL,
            retry=JOB_RETRY,
            description=f"send sms {outbox_id}",
        )

    def enqueue(self, outbox_ids: Sequence[int]) -> int:
        """Queue a send job for each row (inline: send now). Never raises; returns how many
        were queued (or sent inline)."""
        if not outbox_ids:
            return 0
        if self.settings.sms_backend == "smpp":
            return self._push_to_smpp(outbox_ids)
        if self.inline:
            if self.send_now is None:
                raise RuntimeError("an inline dispatcher needs send_now")
            for outbox_id in outbox_ids:
                try:
                    self.send_now(outbox_id)
                except Exception:
                    log.exception("inline sms send failed; the sweep will retry", extra={"outbox_id": outbox_id})
            return len(outbox_ids)
        try:
            self.queue.enqueue_many([self._job_data(outbox_id) for outbox_id in outbox_ids])
        except Exception:
            log.warning(
                "sms enqueue failed; the sweep will queue them", extra={"count": len(outbox_ids)}, exc_info=True
            )
            return 0
        return len(outbox_ids)

    def _push_to_smpp(self, outbox_ids: Sequence[int]) -> int:
        """SMS_BACKEND=smpp: the SMPP process pops these ids (gateway/sms/smpp_process.py).
        An id pushed twice is sent once: the send claims its row."""
        try:
            self.redis.rpush(smpp_ids_key(self.settings.redis_prefix), *outbox_ids)
        except Exception:
            log.warning("sms push failed; the sweep will push them", extra={"count": len(outbox_ids)}, exc_info=True)
            return 0
        return len(outbox_ids)

    def enqueue_commands(self, outbox_ids: Sequence[int]) -> list[Command]:
        """The Redis commands `enqueue` would send for these rows (not inline), unsent:
        RQ's own, built on a pipeline that is never executed, in its MULTI … EXEC."""
        if self.settings.sms_backend == "smpp":
            return [("RPUSH", smpp_ids_key(self.settings.redis_prefix), *outbox_ids)]
        pipe = self.redis.pipeline(transaction=True)
        self.queue.enqueue_many([self._job_data(outbox_id) for outbox_id in outbox_ids], pipeline=pipe)
        return [("MULTI",), *(tuple(args) for args, _options in pipe.command_stack), ("EXEC",)]

    def enqueue_committed(self, outbox_ids: Sequence[int]) -> None:
        """What the commit hook calls: queue the rows (inline: send them unless that would
        mean a real provider call inside the request; the sweep sends those). In a hop,
        the jobs ride with the hop's session write (gateway/riders.py): no round trip of
        their own; queued the usual way if that write does not carry them."""
        if self.inline and self.sender.name not in LOCAL_SENDERS:
            log.warning("embedded Redis: `flask sms sweep` sends these", extra={"count": len(outbox_ids)})
            return
        riders = current_riders()
        if riders is not None and not self.inline:
            ids = list(outbox_ids)
            try:
                riders.add(self.enqueue_commands(ids), lambda: self.enqueue(ids))
                return
            except Exception:
                log.warning("sms jobs not built to ride with the hop; queued now", exc_info=True)
        self.enqueue(outbox_ids)

    def enqueue_unless_queued(self, outbox_ids: Sequence[int], *, force: Iterable[int] = ()) -> int:
        """Queue rows whose job is gone, finished, failed or stale; leave live jobs alone.
        `force`: rows known to have no live job (their worker died): their old job is dropped."""
        if not outbox_ids:
            return 0
        if self.inline or self.settings.sms_backend == "smpp":
            return self.enqueue(outbox_ids)
        forced = set(force)
        jobs = Job.fetch_many(
            [self.job_id(outbox_id) for outbox_id in outbox_ids], connection=self.redis, serializer=JSONSerializer
        )
        stale_after = dt.timedelta(seconds=self.settings.sms_sending_timeout_seconds)
        now = dt.datetime.now(dt.UTC)  # RQ's own timestamps are real time, whatever the app's clock
        chosen = []
        for outbox_id, job in zip(outbox_ids, jobs, strict=True):
            if job is not None:
                if outbox_id not in forced and _alive(job, now, stale_after):
                    continue
                job.delete()
            chosen.append(outbox_id)
        return self.enqueue(chosen)


def _alive(job: Job, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    status = job.get_status(refresh=False)
    if status in LIVE_STATUSES:
        return True
    if status in RUNNING_STATUSES:
        moments = [moment for moment in (job.enqueued_at, job.started_at, job.ended_at) if moment is not None]
        latest = max((m if m.tzinfo else m.replace(tzinfo=dt.UTC) for m in moments), default=None)
        # A job started (or waiting for RQ's retry) longer ago than a send can take is dead.
        return latest is not None and now - latest < stale_after
    return False


def _no_app() -> SmsDispatcher | None:
    return None


_current: Callable[[], SmsDispatcher | None] = _no_app


def enqueue_after_commit(current: Callable[[], SmsDispatcher | None]) -> None:
    """Queue each session's new outbox rows once it commits, on the dispatcher `current()`
    returns then (None: committed outside the app; the sweep queues them)."""
    global _current  # noqa: PLW0603 - one hook per process, on every session
    _current = current
    if not event.contains(Session, "after_flush", _collect_new_rows):
        event.listen(Session, "after_flush", _collect_new_rows)
        event.listen(Session, "after_commit", _enqueue_after_commit)
        event.listen(Session, "after_transaction_end", _forget_on_end)


def _collect_new_rows(session: Session, _flush: UOWTransaction) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if ids:
        session.info.setdefault(NEW_ROWS, set()).update(ids)


def _enqueue_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the rows are not committed yet
    ids: set[int] | None = session.info.pop(NEW_ROWS, None)
    if not ids:
        return
    found = _current()
    if found is None:
        log.warning("sms rows committed outside the app: the sweep will queue them", extra={"count": len(ids)})
        return
    found.enqueue_committed(sorted(ids))


def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        # Rolled back or closed without a commit: those rows never existed.
        session.info.pop(NEW_ROWS, None)
