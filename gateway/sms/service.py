"""Sending outbox rows, delivery reports, opt-out and the sweep's queries. No Flask here.

A row goes pending -> sending -> sent -> delivered (or failed). `sending` is committed
before the provider is called, so a worker that dies mid-send leaves a row the sweep can
see; the sweep puts it back to pending marked `possible_duplicate` (at least once: only a
message in flight at the crash may reach the phone twice)."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO
from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.sms.africastalking import (
    DELIVERED_STATUSES,
    FAILED_STATUSES,
    INTERIM_STATUSES,
    PROVIDER_STATUS_LENGTH,
)
from gateway.sms.interfaces import SendResult, SendStatus, SmsSender
from gateway.sms.outbox import queue_sms
from gateway.sms.smpp import DELIVERED_STATS, FAILED_STATS, INTERIM_STATS
from models import Artisan, OutboxMessage

log = logging.getLogger(__name__)

FINAL_STATES = frozenset({"delivered", "failed"})
REASON_LENGTH = 255
# Each transport's report words, read by the one rule below (Africa's Talking's, SMPP's `stat:`).
DELIVERED = DELIVERED_STATUSES | DELIVERED_STATS
FAILED = FAILED_STATUSES | FAILED_STATS
INTERIM = INTERIM_STATUSES | INTERIM_STATS


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    DEFERRED = "deferred"  # quiet hours: next_attempt_at set to their end
    NOT_DUE = "not_due"  # next_attempt_at still ahead: the sweep brings it back
    SKIPPED = "skipped"  # no such row, or not pending (sent already, in flight elsewhere)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: int
    max_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.sms_max_attempts, settings.sms_retry_base_seconds, settings.sms_retry_max_seconds)

    def delay(self, attempts: int) -> dt.timedelta:
        """Wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base ... up to the cap."""
        exponent = min(max(attempts - 1, 0), 30)
        return dt.timedelta(seconds=min(self.base_seconds * 2**exponent, self.max_seconds))


def quiet_until(now: dt.datetime, quiet_hours: tuple[dt.time, dt.time] | None) -> dt.datetime | None:
    """When quiet hours end (UTC), if `now` falls inside them; None otherwise."""
    if quiet_hours is None:
        return None
    start, end = quiet_hours
    local = now.astimezone(MOROCCO)
    moment = local.time().replace(tzinfo=None)
    # 21:00-08:00 runs across midnight.
    inside = start <= moment < end if start <= end else moment >= start or moment < end
    if not inside:
        return None
    day = local.date() + dt.timedelta(days=1) if start > end and moment >= start else local.date()
    return dt.datetime.combine(day, end, tzinfo=MOROCCO).astimezone(dt.UTC)


def _clip(text: str | None, length: int) -> str | None:
    return text[:length] if text else None


def send_outbox_message(
    *,
    db_session: Session,
    sender: SmsSender,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    outbox_id: int,
) -> Outcome:
    """Send one outbox row if it is pending and due; safe to run any number of times.

    Commits twice: `sending` before the provider call, the result after it."""
    db = db_session
    now = clock()
    row = db.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
    if row is None or row.state != "pending":
        db.rollback()
        return Outcome.SKIPPED
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        db.rollback()
        return Outcome.NOT_DUE
    resume = None if row.urgent else quiet_until(now, settings.quiet_hours)
    if resume is not None:
        row.next_attempt_at = resume
        row.updated_at = now
        db.commit()
        log.info("sms deferred to the end of quiet hours", extra={"outbox_id": outbox_id, "until": resume.isoformat()})
        return Outcome.DEFERRED
    row.state = "sending"
    row.attempts += 1
    row.updated_at = now
    recipient, body = row.recipient, row.body
    db.commit()
    try:
        result = sender.send(recipient=recipient, body=body)
    except Exception as error:  # a sender bug or the job timeout: not left `sending` until the sweep
        log.exception("sms sender raised", extra={"outbox_id": outbox_id})
        result = SendResult(SendStatus.RETRY, reason=f"sender error: {type(error).__name__}", maybe_sent=True)
    return record_result(
        db_session=db, policy=RetryPolicy.from_settings(settings), clock=clock, outbox_id=outbox_id, result=result
    )


def record_result(
    *, db_session: Session, policy: RetryPolicy, clock: Callable[[], dt.datetime], outbox_id: int, result: SendResult
) -> Outcome:
    db = db_session
    now = clock()
    row = db.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
    if row is None or row.state not in ("sending", "pending"):
        # Another attempt (after a sweep took this one for dead) finished first: keep its word.
        db.rollback()
        log.warning("sms result arrived after the row moved on", extra={"outbox_id": outbox_id})
        return Outcome.SKIPPED
    row.updated_at = now
    row.provider_status = _clip(result.provider_status, PROVIDER_STATUS_LENGTH) or row.provider_status
    if result.status is SendStatus.SENT:
        row.state = "sent"
        row.provider_message_id = result.provider_message_id
        row.sent_at = now
        row.next_attempt_at = None
        row.failure_reason = None
        outcome = Outcome.SENT
    elif result.status is SendStatus.RETRY and row.attempts < policy.max_attempts:
        row.state = "pending"
        row.next_attempt_at = now + policy.delay(row.attempts)
        row.failure_reason = _clip(result.reason, REASON_LENGTH)
        row.possible_duplicate = row.possible_duplicate or result.maybe_sent
        outcome = Outcome.RETRY
    else:
        row.state = "failed"
        reason = result.reason or "failed"
        if result.status is SendStatus.RETRY:
            reason = f"gave up after {row.attempts} attempts: {reason}"
        row.failure_reason = _clip(reason, REASON_LENGTH)
        row.next_attempt_at = None
        outcome = Outcome.FAILED
    template, attempts, next_attempt = row.template, row.attempts, row.next_attempt_at
    db.commit()
    log.info(
        "sms attempt",
        extra={
            "outbox_id": outbox_id,
            "template": template,
            "outcome": outcome.value,
            "attempts": attempts,
            "reason": result.reason,
            "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
        },
    )
    return outcome


# Delivery reports -----------------------------------------------------------------------


class ReportOutcome(enum.StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    INTERIM = "interim"
    UNKNOWN_STATUS = "unknown_status"
    STALE = "stale"  # an interim or unknown word after a final one: kept out
    UNKNOWN_MESSAGE = "unknown_message"


def record_delivery_report(
    *,
    db_session: Session,
    provider_message_id: str,
    status: str,
    failure_reason: str | None,
    now: dt.datetime,
) -> ReportOutcome:
    """Apply one delivery report; the same report twice changes nothing more. Flushes only.

    Success (SMPP: DELIVRD) is final (delivered); Failed and Rejected (UNDELIV, EXPIRED,
    REJECTD ...) are final (failed) unless the row is delivered already; Sent, Submitted,
    Buffered (ENROUTE, ACCEPTD) and unknown words only update
    `provider_status` of a row that is not final."""
    db = db_session
    row = db.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.provider_message_id == provider_message_id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None:
        return ReportOutcome.UNKNOWN_MESSAGE
    word = status[:PROVIDER_STATUS_LENGTH]
    if status in DELIVERED:
        outcome = ReportOutcome.DELIVERED
        if row.state != "delivered":
            row.state = "delivered"
            row.delivered_at = now
            row.failure_reason = None
    elif status in FAILED:
        if row.state == "delivered":
            return ReportOutcome.STALE
        outcome = ReportOutcome.FAILED
        row.state = "failed"
        row.failure_reason = _clip(f"{status}: {failure_reason}" if failure_reason else status, REASON_LENGTH)
    else:
        if row.state in FINAL_STATES:
            return ReportOutcome.STALE
        outcome = ReportOutcome.INTERIM if status in INTERIM else ReportOutcome.UNKNOWN_STATUS
    row.provider_status = word
    if db.is_modified(row):
        row.updated_at = now
    db.flush()
    return outcome


# Opt-out (STOP / START) -------------------------------------------------------------------


class OptOutChange(enum.StrEnum):
    STOPPED = "stopped"
    STARTED = "started"
    UNCHANGED = "unchanged"  # the same inbound message seen again
    UNKNOWN_PHONE = "unknown_phone"


def set_opt_out(*, db_session: Session, settings: Settings, phone: str, opt_out: bool, inbound_id: str) -> OptOutChange:
    """STOP (`opt_out`) or START from `phone`, confirmed by SMS. Flushes only.

    The confirmation's subject names the inbound message, so a callback the aggregator
    sends twice is confirmed once."""
    db = db_session
    artisan = db.scalar(select(Artisan).where(Artisan.phone == phone).with_for_update())
    if artisan is None:
        return OptOutChange.UNKNOWN_PHONE
    subject = f"inbound:{inbound_id}"[:64]
    seen = db.scalar(select(OutboxMessage.id).where(OutboxMessage.subject == subject).limit(1))
    if seen is not None:
        return OptOutChange.UNCHANGED
    artisan.sms_opt_out = opt_out
    queue_sms(
        db,
        recipient=phone,
        language=artisan.language or settings.default_language,
        template="sms_stopped" if opt_out else "sms_started",
        subject=subject,
        urgent=True,  # the artisan just wrote: the answer comes now, even at night
    )
    db.flush()
    log.info("sms opt-out changed", extra={"phone": mask_phone(phone), "opt_out": opt_out})
    return OptOutChange.STOPPED if opt_out else OptOutChange.STARTED


# The sweep --------------------------------------------------------------------------------


def reset_stuck_sending(
    *, db_session: Session, now: dt.datetime, timeout: dt.timedelta, limit: int = 1000
) -> list[int]:
    """Rows left `sending` longer than `timeout` (their worker died mid-send) go back to
    pending, marked `possible_duplicate`. Flushes only; returns their ids."""
    db = db_session
    rows = db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.state == "sending", OutboxMessage.updated_at <= now - timeout)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.state = "pending"
        row.possible_duplicate = True
        row.next_attempt_at = None
        row.failure_reason = "worker lost mid-send: may have been sent"
        row.updated_at = now
    db.flush()
    if rows:
        log.warning("sms rows stuck in sending put back", extra={"count": len(rows)})
    return [row.id for row in rows]


def due_pending_ids(
    *, db_session: Session, now: dt.datetime, pending_timeout: dt.timedelta, after_id: int = 0, limit: int = 1000
) -> list[int]:
    """Pending rows that should be queued by now: never tried and older than
    `pending_timeout` (their enqueue after commit may have been lost), or due for a retry."""
    return list(
        db_session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state == "pending",
                OutboxMessage.id > after_id,
                or_(
                    and_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.created_at <= now - pending_timeout),
                    OutboxMessage.next_attempt_at <= now,
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
