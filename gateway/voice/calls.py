"""Calls out: placing `call_outbox` rows, their outcome, what the call says, the SMS instead.

A row goes queued -> calling -> answered, or back to queued for its one retry
(VOICE_CALL_RETRY_MINUTES later), then no_answer / failed with an SMS sent instead: a
reminder nobody heard is a reminder missed, and the SMS is what everyone else gets (an
artisan who cannot read has it read to them, or sees the pick-up code at the counter).

- Placing claims the row by compare-and-set (one UPDATE ... WHERE status = 'queued' AND
  due), committed before AT is asked: two workers never call twice.
- Never in quiet hours (SMS_QUIET_HOURS), not even a claim: the row waits for their end.
- The outcome comes from AT's last callback (isActive=0, direction=Outbound) on the voice
  callback URL: the channel calls `record_outcome`. A call whose outcome never comes counts
  as not answered after VOICE_CALL_OUTCOME_MINUTES (the sweep).
- When the artisan answers, AT asks the voice callback what to do: `call_message` gives
  the text, in the artisan's language, through the translator the channel passes (the
  voice renderer's, so amounts and months are spoken).

No Flask here: gateway/calls_app.py is the edge (the RQ job, enqueue after commit, sweep)."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO, local_today, months_between
from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.payments.service import artisan_dues
from gateway.reimbursements.service import claim_status_sms, pick_up_code_withheld_until
from gateway.sms.outbox import queue_sms
from gateway.sms.service import quiet_until
from gateway.voice.caller import CallResult
from menus.i18n import N_, Translator
from menus.networks import NETWORK_NAMES
from models import Artisan, CallOutbox, OutboxMessage, ReimbursementClaim

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # the call, and one retry
OUTCOME_LENGTH = 255
# What a call says (the voice callback plays it when the artisan answers).
DUES_TEXT = N_(
    "Hello, this is Hirfa. You owe AMO contributions for {months}: {amount}. To pay, dial {code} and choose 2."
)
NOTHING_DUE_TEXT = N_("Hello, this is Hirfa. Your AMO contributions are paid up. Thank you.")
CLAIM_READY_TEXT = N_(
    "Hello, this is Hirfa. Your reimbursement of {amount} is ready at {network} until {until}. "
    "Your pick-up code is {code}. Bring your CIN."
)
CLAIM_READY_LATER_TEXT = N_(
    "Hello, this is Hirfa. Your reimbursement of {amount} is ready at {network} until {until}. "
    "Your pick-up code shows from {when} in menu 3 when you dial {short_code}."
)
CLAIM_NEWS_TEXT = N_("Hello, this is Hirfa. There is news of your reimbursement: dial {code} and choose 3.")


class Caller(Protocol):
    def call(self, phone: str) -> CallResult: ...


class Placed(enum.StrEnum):
    CALLING = "calling"  # AT took the call
    RETRY = "retry"  # AT refused it: tried again later
    FAILED = "failed"  # refused again: an SMS instead
    DEFERRED = "deferred"  # quiet hours: next_at set to their end
    SKIPPED = "skipped"  # not queued, not due, or claimed by another worker


def place_call(
    *, db_session: Session, caller: Caller, settings: Settings, clock: Callable[[], dt.datetime], call_id: int
) -> Placed:
    """Place call `call_id` if it is queued and due; running it twice (or in two workers at
    once) calls once. Commits: the claim before AT is asked, the result after."""
    db = db_session
    now = clock()
    due = and_(CallOutbox.id == call_id, CallOutbox.status == "queued")
    due = and_(due, or_(CallOutbox.next_at.is_(None), CallOutbox.next_at <= now))
    resume = quiet_until(now, settings.quiet_hours)
    if resume is not None:
        moved = db.execute(update(CallOutbox).where(due).values(next_at=resume, updated_at=now))
        deferred = moved.rowcount  # type: ignore[attr-defined]
        db.commit()
        return Placed.DEFERRED if deferred else Placed.SKIPPED
    moved = db.execute(
        update(CallOutbox)
        .where(due)
        .values(status="calling", attempts=CallOutbox.attempts + 1, session_id=None, updated_at=now)
    )
    claimed = moved.rowcount  # type: ignore[attr-defined]
    db.commit()
    if not claimed:
        return Placed.SKIPPED
    row = db.get(CallOutbox, call_id)
    assert row is not None
    phone = row.phone
    db.rollback()  # no transaction open while AT answers
    try:
        result = caller.call(phone)
    except Exception as error:  # a caller bug: the row is not left calling until the sweep
        log.exception("caller raised", extra={"call_id": call_id})
        result = CallResult(False, reason=f"caller error: {type(error).__name__}")
    row = db.scalar(select(CallOutbox).where(CallOutbox.id == call_id).with_for_update())
    if row is None or row.status != "calling" or row.session_id is not None:
        db.rollback()
        return Placed.SKIPPED
    now = clock()
    if result.placed:
        row.session_id = result.session_id
        row.updated_at = now
        outcome = Placed.CALLING
    else:
        row.outcome = (result.reason or "refused")[:OUTCOME_LENGTH]
        outcome = Placed.RETRY if _attempt_failed(db, row, settings, now, "failed") else Placed.FAILED
    attempts = row.attempts
    db.commit()
    log.info(
        "call attempt",
        extra={"call_id": call_id, "phone": mask_phone(phone), "outcome": outcome.value, "attempts": attempts},
    )
    return outcome


def _attempt_failed(db: Session, row: CallOutbox, settings: Settings, now: dt.datetime, final: str) -> bool:
    """The attempt did not reach the artisan: queue the retry (True), or end the row as
    `final` and queue the SMS instead (False). Flushes only."""
    row.updated_at = now
    if row.attempts < MAX_ATTEMPTS:
        row.status = "queued"
        row.next_at = now + dt.timedelta(minutes=settings.voice_call_retry_minutes)
        return True
    row.status = final
    row.next_at = None
    message = fallback_sms(db, row, settings, now)
    db.flush()
    row.fallback_sms_id = message.id if message is not None else None
    return False


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    RETRY = "retry"
    GAVE_UP = "gave_up"  # the last attempt: an SMS instead
    ALREADY = "already"  # the same report again, or a row that moved on: nothing done
    UNKNOWN = "unknown"  # no call of ours has this sessionId


# AT's final `status` of an outbound call: Success (answered), NotAnswered, Failed, Aborted...
ANSWERED = frozenset({"Success"})
NOT_ANSWERED = frozenset({"NotAnswered"})


def record_outcome(
    db_session: Session,
    session_id: str,
    status: str,
    duration: int | None,
    *,
    settings: Settings,
    now: dt.datetime,
    hangup_cause: str | None = None,
) -> Outcome:
    """Apply AT's last callback of an outbound call (isActive=0, direction=Outbound): the
    outcome and duration; a call not answered is retried once, then an SMS goes instead.
    The same report twice changes nothing more. Flushes only: the caller commits."""
    db = db_session
    row = db.scalar(select(CallOutbox).where(CallOutbox.session_id == session_id).with_for_update())
    if row is None:
        return Outcome.UNKNOWN
    if row.status != "calling":
        return Outcome.ALREADY
    row.duration_seconds = duration
    row.outcome = " ".join(part for part in (status, hangup_cause) if part)[:OUTCOME_LENGTH] or None
    if status in ANSWERED:
        row.status = "answered"
        row.updated_at = now
        result = Outcome.ANSWERED
    else:
        final = "no_answer" if status in NOT_ANSWERED else "failed"
        result = Outcome.RETRY if _attempt_failed(db, row, settings, now, final) else Outcome.GAVE_UP
    db.flush()
    log.info("call outcome", extra={"call_id": row.id, "status": status, "outcome": result.value})
    return result


def expire_silent_calls(*, db_session: Session, settings: Settings, now: dt.datetime, limit: int = 1000) -> int:
    """Calls left `calling` past VOICE_CALL_OUTCOME_MINUTES (AT's last callback lost, or the
    worker died before asking AT) count as not answered. Flushes only; returns how many."""
    db = db_session
    rows = db.scalars(
        select(CallOutbox)
        .where(
            CallOutbox.status == "calling",
            CallOutbox.updated_at <= now - dt.timedelta(minutes=settings.voice_call_outcome_minutes),
        )
        .order_by(CallOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.outcome = "no outcome from Africa's Talking"
        _attempt_failed(db, row, settings, now, "no_answer")
    db.flush()
    return len(rows)


def due_call_ids(*, db_session: Session, now: dt.datetime, settings: Settings, limit: int = 1000) -> list[int]:
    """Queued rows due now: new ones older than SMS_PENDING_TIMEOUT_SECONDS (their enqueue
    after commit may have been lost) and retries or deferred ones whose time came."""
    pending = now - dt.timedelta(seconds=settings.sms_pending_timeout_seconds)
    return list(
        db_session.scalars(
            select(CallOutbox.id)
            .where(
                CallOutbox.status == "queued",
                or_(
                    and_(CallOutbox.next_at.is_(None), CallOutbox.created_at <= pending),
                    CallOutbox.next_at <= now,
                ),
            )
            .order_by(CallOutbox.id)
            .limit(limit)
        )
    )


# What the call says, and the SMS instead ----------------------------------------------------


@dataclass(frozen=True)
class CallMessage:
    call_id: int
    language: str  # the artisan's (ar, fr): the voice channel picks its voice language
    text: str


def find_call(db: Session, *, session_id: str | None = None, call_id: int | None = None) -> CallOutbox | None:
    if call_id is not None:
        return db.get(CallOutbox, call_id)
    if session_id:
        return db.scalar(select(CallOutbox).where(CallOutbox.session_id == session_id))
    return None


def call_message(
    db_session: Session,
    *,
    settings: Settings,
    now: dt.datetime,
    session_id: str | None = None,
    call_id: int | None = None,
    translator: Callable[[str], Translator] = Translator,
) -> CallMessage | None:
    """What to say to the artisan who answered call `session_id` (AT's) or `call_id` (ours),
    with today's figures; None when no call of ours matches. Reads only."""
    db = db_session
    row = find_call(db, session_id=session_id, call_id=call_id)
    artisan = db.get(Artisan, row.artisan_id) if row is not None else None
    if row is None or artisan is None:
        return None
    t = translator(row.language)
    if row.kind == "dues_reminder":
        text = _dues_text(db, artisan, t, settings, now)
    else:
        text = _claim_text(db, artisan, claim_id=row.claim_id, t=t, settings=settings, now=now)
    return CallMessage(call_id=row.id, language=row.language, text=text)


def _dues_text(db: Session, artisan: Artisan, t: Translator, settings: Settings, now: dt.datetime) -> str:
    dues = artisan_dues(db, artisan, local_today(now))
    if not dues.months:
        return t(NOTHING_DUE_TEXT)
    first, last = dues.months[0][0], dues.months[-1][0]
    months = t.months(first, months_between(first, last) + 1)
    return t(DUES_TEXT, months=months, amount=t.money(dues.total_centimes), code=settings.short_code)


def _claim_text(
    db: Session, artisan: Artisan, *, claim_id: int | None, t: Translator, settings: Settings, now: dt.datetime
) -> str:
    claim = db.get(ReimbursementClaim, claim_id) if claim_id is not None else None
    if claim is None or claim.status != "available" or claim.network is None or claim.available_until is None:
        return t(CLAIM_NEWS_TEXT, code=settings.short_code)
    values = {
        "amount": t.money(claim.amount_centimes),
        "network": t(NETWORK_NAMES[claim.network]),
        "until": f"{claim.available_until:%d/%m/%Y}",
    }
    withheld = pick_up_code_withheld_until(db, artisan=artisan, now=now)
    if withheld is not None:
        when = f"{withheld.astimezone(MOROCCO):%d/%m %H:%M}"
        return t(CLAIM_READY_LATER_TEXT, when=when, short_code=settings.short_code, **values)
    return t(CLAIM_READY_TEXT, code=claim.pick_up_code, **values)


def fallback_sms(db: Session, row: CallOutbox, settings: Settings, now: dt.datetime) -> OutboxMessage | None:
    """The SMS sent when every attempt failed: what an artisan who chose SMS gets."""
    artisan = db.get(Artisan, row.artisan_id)
    if artisan is None or not artisan.phone:
        return None
    if row.kind == "claim_ready":
        claim = db.get(ReimbursementClaim, row.claim_id) if row.claim_id is not None else None
        if claim is None:
            return None
        return claim_status_sms(db, claim, artisan, now=now, default_language=settings.default_language)
    dues = artisan_dues(db, artisan, local_today(now))
    if not dues.months or artisan.sms_opt_out:
        return None
    first, last = dues.months[0][0], dues.months[-1][0]
    return queue_sms(
        db,
        recipient=artisan.phone,
        language=row.language,
        template="dues_reminder",
        subject=f"reminder:{row.month}" if row.month else None,
        months=Translator(row.language).months(first, months_between(first, last) + 1),
        amount=Translator(row.language).money(dues.total_centimes),
        code=settings.short_code,
    )
