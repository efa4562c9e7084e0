"""Queue a call out as a `call_outbox` row in the caller's transaction (placed after commit).

Who gets a call instead of an SMS: an artisan who chose it (`reminders_by = voice`, option
6 then 5) while calls out are set up (AT_VOICE_NUMBER and the account's credentials).
Everyone else, and everything else, stays SMS. Leaf module: the reminders and the
reimbursements import it; gateway/voice/calls.py places the rows."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from gateway.logs import mask_phone
from models import Artisan, CallOutbox

log = logging.getLogger(__name__)


def wants_call(artisan: Artisan, *, calls_out: bool) -> bool:
    """True when `artisan` gets a call rather than an SMS (`calls_out`: Settings.calls_out)."""
    return calls_out and artisan.reminders_by == "voice" and bool(artisan.phone)


def queue_call(
    db: Session,
    *,
    artisan: Artisan,
    kind: str,
    subject: str,
    language: str,
    month: dt.date | None = None,
    claim_id: int | None = None,
) -> CallOutbox:
    """Add the call to the outbox; a worker places it once the transaction commits.
    (artisan, subject) is unique: the same reminder is never queued twice."""
    assert artisan.phone is not None
    row = CallOutbox(
        artisan_id=artisan.id,
        phone=artisan.phone,
        kind=kind,
        language=language,
        subject=subject,
        month=f"{month:%Y-%m}" if month else None,
        claim_id=claim_id,
        status="queued",
        attempts=0,
    )
    db.add(row)
    log.info("call queued", extra={"kind": kind, "phone": mask_phone(artisan.phone)})
    return row
