"""Sending outbox rows, delivery reports, opt-out and the sweep's queries. No Flask here.

A row goes pending -> sending -> sent -> delivered (or failed). `sending` is committed
before the provider is called, so a worker that dies mid-send leaves a row the sweep can
see; the sweep puts it back to pending marked `possible_duplicate` (at least once: only a
message in flight at the crash may reach the phone twice)."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
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
from models import Artisan, OutboxMessage, OutboxPart

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
    claim = claim_outbox_rows(db_session=db_session, settings=settings, now=clock(), outbox_ids=[outbox_id])
    if not claim.claimed:
        return claim.left.get(outbox_id, Outcome.SKIPPED)
    row = claim.claimed[0]
    result = send_claimed(sender, row)
    outcomes = record_results(
        db_session=db_session, policy=RetryPolicy.from_settings(settings), clock=clock, results=[(outbox_id, result)]
    )
    return outcomes[outbox_id]


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    recipient: str
    body: str


@dataclass
class Claim:
    claimed: list[ClaimedRow]
    left: dict[int, Outcome]  # the rows not claimed: why (skipped, not due, deferred)


def claim_outbox_rows(
    *,
    db_session: Session,
    settings: Settings,
    now: dt.datetime,
    outbox_ids: Sequence[int],
    skip_locked: bool = False,
) -> Claim:
    """Claim the pending, due rows among `outbox_ids` in one transaction: pending ->
    `sending`, one more attempt, committed before any is sent (a process that dies after
    this leaves rows the sweep puts back, flagged). A row that is not pending, not due,
    or (`skip_locked`) locked by another claim is left; outside `urgent`, quiet hours
    defer it to their end."""
    db = db_session
    wanted = sorted(set(outbox_ids))
    rows = db.execute(
        select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.body, OutboxMessage.urgent)
        .where(
            OutboxMessage.id.in_(wanted),
            OutboxMessage.state == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=skip_locked)
    ).all()
    left = dict.fromkeys(wanted, Outcome.SKIPPED)
    resume = quiet_until(now, settings.quiet_hours)
    deferred = [row.id for row in rows if resume is not None and not row.urgent]
    chosen = {row.id: row for row in rows if row.id not in deferred}
    claimed: list[ClaimedRow] = []
    if deferred:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(deferred))
            .values(next_attempt_at=resume, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        left.update(dict.fromkeys(deferred, Outcome.DEFERRED))
        log.info("sms deferred to the end of quiet hours", extra={"count": len(deferred), "until": str(resume)})
    if chosen:
        # `state` checked again and the claimed ids returned: SQLite takes no row lock.
        won = db.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(sorted(chosen)), OutboxMessage.state == "pending")
            .values(state="sending", attempts=OutboxMessage.attempts + 1, updated_at=now)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        claimed = [ClaimedRow(row_id, chosen[row_id].recipient, chosen[row_id].body) for row_id in sorted(won)]
    for row in claimed:
        del left[row.id]
    not_due = set(left) - set(deferred)
    if not_due:
        # Pending but not due yet: told apart from the others for the RQ job's outcome only.
        for found in db.scalars(
            select(OutboxMessage.id).where(OutboxMessage.id.in_(not_due), OutboxMessage.state == "pending")
        ):
            left[found] = Outcome.NOT_DUE
    db.commit()
    return Claim(claimed, left)


def send_claimed(sender: SmsSender, row: ClaimedRow) -> SendResult:
    """The provider call for a claimed row; a sender that raises may have sent it."""
    try:
        return sender.send(recipient=row.recipient, body=row.body)
    except Exception as error:  # a sender bug or the job timeout: not left `sending` until the sweep
        log.exception("sms sender raised", extra={"outbox_id": row.id})
        return SendResult(SendStatus.RETRY, reason=f"sender error: {type(error).__name__}", maybe_sent=True)


def record_result(
    *, db_session: Session, policy: RetryPolicy, clock: Callable[[], dt.datetime], outbox_id: int, result: SendResult
) -> Outcome:
    return record_results(db_session=db_session, policy=policy, clock=clock, results=[(outbox_id, result)])[outbox_id]


def record_results(
    *,
    db_session: Session,
    policy: RetryPolicy,
    clock: Callable[[], dt.datetime],
    results: Sequence[tuple[int, SendResult]],
) -> dict[int, Outcome]:
    """Record attempts' results (several rows: one transaction, one commit)."""
    db = db_session
    now = clock()
    by_id = dict(results)
    rows = db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(sorted(by_id)))
        .order_by(OutboxMessage.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # as locked now, not as a session read it before
    ).all()
    outcomes = dict.fromkeys(by_id, Outcome.SKIPPED)
    logged = []
    for row in rows:
        result = by_id[row.id]
        if row.state not in ("sending", "pending"):
            continue  # another attempt (after a sweep took this one for dead) finished first: keep its word
        outcomes[row.id] = _apply_result(row, result, policy, now)
        logged.append((row.id, row.template, row.attempts, row.next_attempt_at, result.reason))
    parts = {row_id: ids for row_id, result in results if len(ids := result.provider_part_ids) > 1}
    parts = {row_id: ids for row_id, ids in parts.items() if outcomes[row_id] is Outcome.SENT}
    if parts:
        db.execute(delete(OutboxPart).where(OutboxPart.outbox_id.in_(sorted(parts))))
        db.add_all(
            OutboxPart(outbox_id=row_id, part=index, provider_message_id=part_id)
            for row_id, ids in parts.items()
            for index, part_id in enumerate(ids, start=1)
        )
    db.commit()
    for outbox_id, template, attempts, next_attempt, reason in logged:
        log.info(
            "sms attempt",
            extra={
                "outbox_id": outbox_id,
                "template": template,
                "outcome": outcomes[outbox_id].value,
                "attempts": attempts,
                "reason": reason,
                "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
            },
        )
    for outbox_id in sorted(set(by_id) - {entry[0] for entry in logged}):
        log.warning("sms result arrived after the row moved on", extra={"outbox_id": outbox_id})
    return outcomes


def _apply_result(row: OutboxMessage, result: SendResult, policy: RetryPolicy, now: dt.datetime) -> Outcome:
    row.updated_at = now
    row.provider_status = _clip(result.provider_status, PROVIDER_STATUS_LENGTH) or row.provider_status
    if result.status is SendStatus.SENT:
        row.state = "sent"
        row.provider_message_id = result.provider_message_id
        row.sent_at = now
        row.next_attempt_at = None
        row.failure_reason = None
        return Outcome.SENT
    if result.status is SendStatus.RETRY and row.attempts < policy.max_attempts:
        row.state = "pending"
        row.next_attempt_at = now + policy.delay(row.attempts)
        row.failure_reason = _clip(result.reason, REASON_LENGTH)
        row.possible_duplicate = row.possible_duplicate or result.maybe_sent
        return Outcome.RETRY
    row.state = "failed"
    reason = result.reason or "failed"
    if result.status is SendStatus.RETRY:
        reason = f"gave up after {row.attempts} attempts: {reason}"
    row.failure_reason = _clip(reason, REASON_LENGTH)
    row.next_attempt_at = None
    return Outcome.FAILED


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
    `provider_status` of a row that is not final.

    A message sent in parts (`sms_outbox_parts`) gets a report per part: it is delivered
    when every part is (a phone shows a concatenated SMS only once it has all its parts),
    and failed as soon as one part fails (the text can no longer arrive whole); until
    then a part's DELIVRD counts as an interim word (`DELIVRD 1/2`)."""
    db = db_session
    part = db.scalar(
        select(OutboxPart)
        .where(OutboxPart.provider_message_id == provider_message_id)
        .order_by(OutboxPart.id.desc())
        .limit(1)
        .with_for_update()
    )
    query = select(OutboxMessage).with_for_update()
    if part is not None:
        query = query.where(OutboxMessage.id == part.outbox_id)
    else:
        query = query.where(OutboxMessage.provider_message_id == provider_message_id)
    row = db.scalar(query.order_by(OutboxMessage.id.desc()).limit(1))
    if row is None:
        return ReportOutcome.UNKNOWN_MESSAGE
    word = status[:PROVIDER_STATUS_LENGTH]
    if part is not None:
        part.provider_status = word
        waiting = _parts_waiting(db, part, row, word, now) if status in DELIVERED else None
        if waiting is not None:
            return waiting
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


def _parts_waiting(
    db: Session, part: OutboxPart, row: OutboxMessage, word: str, now: dt.datetime
) -> ReportOutcome | None:
    """A part delivered: None once every part of its row is, else how the report counts."""
    parts = db.scalars(select(OutboxPart.provider_status).where(OutboxPart.outbox_id == part.outbox_id)).all()
    done = sum(1 for seen in parts if seen in DELIVERED)
    if done == len(parts):
        return None
    if row.state in FINAL_STATES:
        db.flush()
        return ReportOutcome.STALE
    row.provider_status = f"{word} {done}/{len(parts)}"[:PROVIDER_STATUS_LENGTH]
    row.updated_at = now
    db.flush()
    return ReportOutcome.INTERIM


# Opt-out (STOP / START) -------------------------------------------------------------------


class OptOutChange(enum.StrEnum):
    STOPPED = "stopped"
    STARTED = "started"
    UNCHANGED = "unchanged"  # the same inbound message seen again
    UNKNOWN_PHONE = "unknown_phone"


def set_opt_out(
    *,
    db_session: Session,
    settings: Settings,
    phone: str,
    opt_out: bool,
    inbound_id: str,
    seen_after: dt.datetime | None = None,
) -> OptOutChange:
    """STOP (`opt_out`) or START from `phone`, confirmed by SMS. Flushes only.

    The confirmation's subject names the inbound message, so a callback the aggregator
    sends twice is confirmed once. `seen_after` is for ids made from the message's
    content (SMPP gives none): the same content is a redelivery only if it came after
    that moment and the artisan's choice is still what it asked for; a STOP after a
    START after a STOP is a new message."""
    db = db_session
    artisan = db.scalar(select(Artisan).where(Artisan.phone == phone).with_for_update())
    if artisan is None:
        return OptOutChange.UNKNOWN_PHONE
    subject = f"inbound:{inbound_id}"[:64]
    query = select(OutboxMessage.id).where(OutboxMessage.subject == subject)
    if seen_after is not None:
        query = query.where(OutboxMessage.created_at >= seen_after)
    seen = db.scalar(query.limit(1))
    if seen is not None and (seen_after is None or artisan.sms_opt_out == opt_out):
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
