"""Reimbursement claims as the paying body reports them. Services flush; the edge commits.

One set of rules for the partner API and the CSV import: every field is checked here,
and every check comes before anything is written, so a refused claim leaves nothing
behind and a caller may go on with the next one in the same transaction.

Every status change queues one SMS to the artisan (the outbox row is in the caller's
transaction); the same status again queues nothing. A new claim counts as a change."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import Final, NamedTuple

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO, local_today
from gateway.errors import Refusal
from gateway.sms.outbox import MAX_SEGMENTS, queue_sms, render, segments
from gateway.voice.call_outbox import queue_call, wants_call
from menus.i18n import Translator, format_amount
from menus.networks import NETWORK_NAMES
from menus.ports import ResendOutcome
from models import Artisan, OutboxMessage, PhoneLink, ReimbursementClaim
from models.payments import NETWORKS
from models.reimbursements import CLAIM_STATUSES

Clock = Callable[[], dt.datetime]

# Field rules, shared with the OpenAPI document (written unanchored: checked with fullmatch).
# Claim numbers travel in a URL path: letters, digits and . _ - only, starting with one of the first two.
CLAIM_NUMBER_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}"
CIN_PATTERN: Final = r"[A-Za-z]{1,2}[0-9]{1,7}"
CNSS_PATTERN: Final = r"[0-9]{1,20}"
# Read out at a counter and sent by SMS: GSM-7 characters that cost one septet each.
PICK_UP_CODE_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9./_-]{0,31}"
DATE_PATTERN: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
REASON_PATTERN: Final = r"[^\x00-\x1f\x7f]+"
REASON_MAX: Final = 255
AMOUNT_MAX: Final = 2_147_483_647  # the column is a PostgreSQL integer

CLAIM_NUMBER_RE: Final = re.compile(CLAIM_NUMBER_PATTERN)
CIN_RE: Final = re.compile(CIN_PATTERN)
CNSS_RE: Final = re.compile(CNSS_PATTERN)
PICK_UP_CODE_RE: Final = re.compile(PICK_UP_CODE_PATTERN)
DATE_RE: Final = re.compile(DATE_PATTERN)
REASON_RE: Final = re.compile(REASON_PATTERN)

TEMPLATE_BY_STATUS: Final = {status: f"claim_{status}" for status in CLAIM_STATUSES}
PICK_UP_TEMPLATE: Final = TEMPLATE_BY_STATUS["available"]
# The same news without the code, to a phone still in its cooldown (pick_up_code_withheld_until).
PICK_UP_LATER_TEMPLATE: Final = "claim_available_later"
MAX_PICK_UP_SMS_A_DAY: Final = 3
ELLIPSIS: Final = "..."  # not "…": that one is outside GSM-7 and would halve a French SMS


class ClaimUpsert(NamedTuple):
    """What `upsert_claim` did: `changed` when anything stored changed, `created` for a new claim.

    An SMS was queued when the claim is new or its status changed (and the artisan has a phone)."""

    claim: ReimbursementClaim
    changed: bool
    created: bool


def _invalid(message: str) -> Refusal:
    return Refusal("invalid_field", message)


def _inconsistent(message: str) -> Refusal:
    return Refusal("inconsistent_fields", message)


def parse_date(text: str, name: str) -> dt.date:
    """`YYYY-MM-DD` as a date (the form of the API and of the CSV files)."""
    try:
        if DATE_RE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        pass
    raise _invalid(f"{name}: not a date YYYY-MM-DD")


def _check_fields(
    *,
    claim_number: str,
    cin: str | None,
    cnss_number: str | None,
    amount_centimes: int,
    status: str,
    network: str | None,
    pick_up_code: str | None,
    available_until: dt.date | None,
    reason: str | None,
) -> None:
    if not CLAIM_NUMBER_RE.fullmatch(claim_number):
        raise _invalid("claim_number: 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if cin is None and cnss_number is None:
        raise _invalid("cin or cnss_number: one of them is required")
    if cin is not None and not CIN_RE.fullmatch(cin):
        raise _invalid("cin: 1 or 2 letters then 1 to 7 digits")
    if cnss_number is not None and not CNSS_RE.fullmatch(cnss_number):
        raise _invalid("cnss_number: 1 to 20 digits")
    # bool is an int in Python, and `true` is not an amount.
    whole = isinstance(amount_centimes, int) and not isinstance(amount_centimes, bool)
    if not whole or not 0 <= amount_centimes <= AMOUNT_MAX:
        raise _invalid(f"amount_centimes: a whole number from 0 to {AMOUNT_MAX}")
    if status not in CLAIM_STATUSES:
        raise _invalid(f"status: one of {', '.join(CLAIM_STATUSES)}")
    if network is not None and network not in NETWORKS:
        raise _invalid(f"network: one of {', '.join(NETWORKS)}")
    if pick_up_code is not None and not PICK_UP_CODE_RE.fullmatch(pick_up_code):
        raise _invalid("pick_up_code: 1 to 32 letters, digits, '.', '/', '_' or '-', starting with a letter or digit")
    if reason is not None and (
        len(reason) > REASON_MAX
        or not REASON_RE.fullmatch(reason)
        # Lone surrogates are valid in JSON but not in UTF-8, hence not in PostgreSQL.
        or any(unicodedata.category(char) == "Cs" for char in reason)
    ):
        raise _invalid(f"reason: 1 to {REASON_MAX} characters, no control characters")
    if status == "available":
        missing = [
            name
            for name, value in (
                ("network", network),
                ("pick_up_code", pick_up_code),
                ("available_until", available_until),
            )
            if value is None
        ]
        if missing:
            raise _inconsistent(f"an available claim needs {', '.join(missing)}")
    if status == "rejected" and reason is None:
        raise _inconsistent("a rejected claim needs a reason")


def _artisan(db: Session, *, cin: str | None, cnss_number: str | None) -> Artisan:
    """The one artisan holding every identifier given."""
    query = select(Artisan)
    if cin is not None:
        query = query.where(Artisan.cin == cin.upper())
    if cnss_number is not None:
        query = query.where(Artisan.cnss_number == cnss_number)
    found = db.scalars(query.limit(2)).all()
    given = " and ".join(name for name, value in (("CIN", cin), ("CNSS number", cnss_number)) if value is not None)
    if not found:
        raise Refusal("artisan_not_found", f"no artisan with this {given}")
    if len(found) > 1:
        # CNSS numbers are not unique in the register; the CIN is.
        raise Refusal("artisan_ambiguous", f"several artisans hold this {given}; send the CIN")
    return found[0]


def _locked_claim(db: Session, claim_number: str) -> ReimbursementClaim | None:
    # Locked so that two reports of the same change, arriving together, queue one SMS.
    return db.scalar(
        select(ReimbursementClaim).where(ReimbursementClaim.claim_number == claim_number).with_for_update()
    )


def upsert_claim(
    db: Session,
    *,
    claim_number: str,
    cin: str | None = None,
    cnss_number: str | None = None,
    amount_centimes: int,
    status: str,
    network: str | None = None,
    pick_up_code: str | None = None,
    available_until: dt.date | None = None,
    reason: str | None = None,
    clock: Clock,
    default_language: str,
    calls_out: bool = False,
) -> ClaimUpsert:
    """Create or replace the claim `claim_number` of the artisan with this CIN and/or CNSS number.

    The values given are the claim's whole state (what is not given is cleared). An
    available claim needs network, pick_up_code and an available_until not in the
    past; a rejected one a reason. The claim stays with the artisan it was first
    reported for. A new claim or a new status queues one SMS in the artisan's language
    (`default_language` when they have none); nothing is queued otherwise. With `calls_out`
    (AT_VOICE_NUMBER set), "ready at the cash point" is a call to an artisan who chose
    reminders by voice (gateway/voice/calls.py), the SMS only if the call fails.

    Raises Refusal before writing anything. Flushes; the caller commits."""
    _check_fields(
        claim_number=claim_number,
        cin=cin,
        cnss_number=cnss_number,
        amount_centimes=amount_centimes,
        status=status,
        network=network,
        pick_up_code=pick_up_code,
        available_until=available_until,
        reason=reason,
    )
    artisan = _artisan(db, cin=cin, cnss_number=cnss_number)
    now = clock()
    values = {
        "amount_centimes": amount_centimes,
        "status": status,
        "network": network,
        "pick_up_code": pick_up_code,
        "available_until": available_until,
        "reason": reason,
    }
    claim = _locked_claim(db, claim_number)
    if claim is None:
        _check_date(values, now)
        claim = ReimbursementClaim(
            claim_number=claim_number, artisan_id=artisan.id, status_changed_at=now, created_at=now, updated_at=now
        )
        for name, value in values.items():
            setattr(claim, name, value)
        try:
            with db.begin_nested():
                db.add(claim)
        except IntegrityError:
            # The same new claim reported twice at once: the other one got in first.
            claim = _locked_claim(db, claim_number)
            if claim is None:
                raise
        else:
            _notify(db, claim, artisan, now=now, default_language=default_language, calls_out=calls_out)
            return ClaimUpsert(claim, changed=True, created=True)
    if claim.artisan_id != artisan.id:
        raise Refusal("claim_artisan_mismatch", "claim_number: this claim belongs to another artisan")
    changes = {name: value for name, value in values.items() if getattr(claim, name) != value}
    if not changes:
        return ClaimUpsert(claim, changed=False, created=False)
    if "status" in changes or "available_until" in changes:
        _check_date(values, now)
    for name, value in changes.items():
        setattr(claim, name, value)
    claim.updated_at = now
    if "status" in changes:
        claim.status_changed_at = now
    db.flush()
    if "status" in changes:
        _notify(db, claim, artisan, now=now, default_language=default_language, calls_out=calls_out)
    return ClaimUpsert(claim, changed=True, created=False)


def _check_date(values: dict[str, object], now: dt.datetime) -> None:
    until = values["available_until"]
    if values["status"] == "available" and isinstance(until, dt.date) and until < local_today(now):
        raise _inconsistent("available_until: an available claim cannot end in the past")


def _notify(
    db: Session,
    claim: ReimbursementClaim,
    artisan: Artisan,
    *,
    now: dt.datetime,
    default_language: str,
    urgent: bool = False,
    counted: bool = False,
    calls_out: bool = False,
) -> OutboxMessage | None:
    """Queue the SMS for the claim's current status (nothing when the artisan has no phone).

    A pick-up SMS counts towards the day's limit, unless the caller `counted` it already.
    With `calls_out`, an artisan who chose calls gets "ready" as a call instead (None returned)."""
    if not artisan.phone:
        return None
    if claim.status == "available" and wants_call(artisan, calls_out=calls_out):
        changed = claim.status_changed_at or now
        queue_call(
            db,
            artisan=artisan,
            kind="claim_ready",
            subject=f"claim:{claim.id}:{changed:%Y%m%d%H%M%S}",
            language=artisan.language or default_language,
            claim_id=claim.id,
        )
        db.flush()
        return None
    if claim.status == "available" and not counted:
        _count_pick_up_sms(db, claim.id, local_today(now))
    language = artisan.language or default_language
    template = TEMPLATE_BY_STATUS[claim.status]
    values: dict[str, str] = {
        "claim": claim.claim_number,
        "amount": format_amount(claim.amount_centimes, language),
    }
    if claim.status == "available":
        assert claim.network is not None and claim.pick_up_code is not None and claim.available_until is not None
        values |= {
            "network": Translator(language)(NETWORK_NAMES[claim.network]),
            "until": f"{claim.available_until:%d/%m/%Y}",
        }
        withheld_until = pick_up_code_withheld_until(db, artisan=artisan, now=now)
        if withheld_until is None:
            values["code"] = claim.pick_up_code
        else:
            template = PICK_UP_LATER_TEMPLATE
            values["when"] = f"{withheld_until.astimezone(MOROCCO):%d/%m %H:%M}"
    if claim.status == "rejected":
        values["reason"] = _fitted_reason(template, language, values, claim.reason or "")
    message = queue_sms(
        db,
        recipient=artisan.phone,
        language=language,
        template=template,
        subject=subject_of(claim.id),
        urgent=urgent,
        **values,
    )
    # On our clock rather than the database's: the daily resend limit counts by it.
    message.created_at = message.updated_at = now
    db.flush()
    return message


def claim_status_sms(
    db: Session, claim: ReimbursementClaim, artisan: Artisan, *, now: dt.datetime, default_language: str
) -> OutboxMessage | None:
    """The SMS of the claim's current status, whatever the artisan chose (a call out that
    failed sends it: gateway/voice/calls.py)."""
    return _notify(db, claim, artisan, now=now, default_language=default_language)


def _fitted_reason(template: str, language: str, values: dict[str, str], reason: str) -> str:
    """The reason, shortened with "..." if the whole SMS would take more than MAX_SEGMENTS.

    The full reason stays on the claim, for the USSD menu."""
    text, kept = reason, len(reason)
    while True:
        count, encoding = segments(body := render(template, language, **values, reason=text))
        if count <= MAX_SEGMENTS:
            return text
        # Counted in characters, where segments count septets or UTF-16 units: a cut may
        # fall short, and the next pass cuts again (always by one at least).
        excess = max(len(body) - MAX_SEGMENTS * (153 if encoding == "gsm7" else 67), 1)
        kept -= excess + (len(ELLIPSIS) if text == reason else 0)
        if kept <= 0:
            raise ValueError(f"SMS {template!r} in {language!r} does not fit even without a reason")
        text = reason[:kept].rstrip() + ELLIPSIS


def subject_of(claim_id: int) -> str:
    return f"claim:{claim_id}"


# The artisan's side (menu option 3) ------------------------------------------------------


def artisan_claims(db: Session, *, artisan_id: int, limit: int) -> list[ReimbursementClaim]:
    """The artisan's latest claims, newest first."""
    return list(
        db.scalars(
            select(ReimbursementClaim)
            .where(ReimbursementClaim.artisan_id == artisan_id)
            .order_by(ReimbursementClaim.created_at.desc(), ReimbursementClaim.id.desc())
            .limit(limit)
        )
    )


def artisan_claim(db: Session, *, artisan_id: int, claim_id: int) -> ReimbursementClaim | None:
    """One of the artisan's claims; None when it is not theirs."""
    claim = db.get(ReimbursementClaim, claim_id)
    return claim if claim is not None and claim.artisan_id == artisan_id else None


def pick_up_code_withheld_until(db: Session, *, artisan: Artisan, now: dt.datetime) -> dt.datetime | None:
    """Until when the artisan's phone may not see pick-up codes, None when it may now.

    A phone newly linked by identification waits RELINK_COOLDOWN_HOURS (the time its
    latest link to this artisan set): someone who got hold of a CIN and a year of birth,
    or of the SIM, must not collect the money before the owner, told by SMS on their old
    phone, can react. Links made by the RNA import or staff set no wait."""
    if not artisan.phone:
        return None
    link_from = db.scalar(
        select(PhoneLink.pick_up_codes_from)
        .where(PhoneLink.artisan_id == artisan.id, PhoneLink.phone == artisan.phone)
        .order_by(PhoneLink.linked_at.desc(), PhoneLink.id.desc())
        .limit(1)
    )
    return link_from if link_from is not None and link_from > now else None


def can_resend(claim: ReimbursementClaim, today: dt.date) -> bool:
    """Whether the pick-up code may be sent again: the claim is available and not past its date."""
    return claim.status == "available" and claim.available_until is not None and claim.available_until >= today


def _count_pick_up_sms(db: Session, claim_id: int, today: dt.date, *, artisan_id: int | None = None) -> bool:
    """Count one more pick-up SMS of the claim today; with `artisan_id` (a resend), only
    when the claim is that artisan's, still available and under the day's limit.

    One conditional UPDATE: racing resends each change the row or find the limit
    reached, on PostgreSQL (a row lock, the condition checked again) and SQLite (one
    writer at a time) alike. Returns whether it counted."""
    claim = ReimbursementClaim
    same_day = claim.pick_up_sms_on == today
    statement = (
        update(claim)
        .where(claim.id == claim_id)
        .values(pick_up_sms_on=today, pick_up_sms_count=case((same_day, claim.pick_up_sms_count + 1), else_=1))
        .returning(claim.id)
        .execution_options(synchronize_session=False)
    )
    if artisan_id is not None:
        statement = statement.where(
            claim.artisan_id == artisan_id,
            claim.status == "available",
            claim.available_until >= today,
            case((same_day, claim.pick_up_sms_count), else_=0) < MAX_PICK_UP_SMS_A_DAY,
        )
    return db.execute(statement).first() is not None


def resend_pick_up(
    db: Session, *, artisan_id: int, claim_id: int, clock: Clock, default_language: str
) -> ResendOutcome:
    """Queue the pick-up SMS of an available claim again, at most MAX_PICK_UP_SMS_A_DAY a
    day (Africa/Casablanca), the first notice included.

    The artisan asked for it and is waiting: it goes out even in quiet hours."""
    now = clock()
    today = local_today(now)
    claim = artisan_claim(db, artisan_id=artisan_id, claim_id=claim_id)
    artisan = db.get(Artisan, artisan_id)
    if claim is None or artisan is None or not artisan.phone or not can_resend(claim, today):
        return ResendOutcome.NOT_AVAILABLE
    if not _count_pick_up_sms(db, claim.id, today, artisan_id=artisan_id):
        # Not counted: the limit, or the claim changed since it was read.
        db.refresh(claim)
        return ResendOutcome.LIMIT if can_resend(claim, today) else ResendOutcome.NOT_AVAILABLE
    db.refresh(claim)
    _notify(db, claim, artisan, now=now, default_language=default_language, urgent=True, counted=True)
    return ResendOutcome.SENT
