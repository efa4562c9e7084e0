"""Bank leads: an artisan's request, with consent, to be contacted by a partner bank for
an account (the offers of the Crédit Agricole du Maroc and Attijariwafa bank conventions)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, _in
from models.base import Base, UTCDateTime, utcnow

BANKS = ("cam", "awb")  # Crédit Agricole du Maroc, Attijariwafa bank
LEAD_STATUSES = ("new", "contacted", "account_opened", "declined")
OPEN_LEAD_STATUSES = ("new", "contacted")


class BankLead(Base):
    __tablename__ = "bank_leads"
    __table_args__ = (
        CheckConstraint(_in("bank", BANKS), name="bank"),
        CheckConstraint(_in("status", LEAD_STATUSES), name="status"),
        CheckConstraint("status != 'declined' OR reason IS NOT NULL", name="declined_has_reason"),
        # One open lead per artisan and bank, even when two hops race.
        Index(
            "uq_bank_leads_open",
            "artisan_id",
            "bank",
            unique=True,
            postgresql_where=text(_in("status", OPEN_LEAD_STATUSES)),
            sqlite_where=text(_in("status", OPEN_LEAD_STATUSES)),
        ),
        Index("ix_bank_leads_bank_id", "bank", "id"),  # the bank's pages, by cursor
        Index("ix_bank_leads_created_at", "created_at"),  # the dashboard's periods
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id"))
    bank: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="new")
    reason: Mapped[str | None] = mapped_column(String(255))
    # Which consent text the artisan agreed to (a catalogue text's version), and when.
    consent_version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
