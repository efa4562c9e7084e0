"""Medical reimbursement claims, as CNSS or the paying bank report them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, _in
from models.base import Base, UTCDateTime, utcnow
from models.payments import NETWORKS

CLAIM_STATUSES = ("received", "in_review", "approved", "available", "paid_out", "rejected")


class ReimbursementClaim(Base):
    __tablename__ = "reimbursement_claims"
    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_STATUSES), name="status"),
        CheckConstraint("network IS NULL OR " + _in("network", NETWORKS), name="network"),
        CheckConstraint("amount_centimes >= 0", name="amount_not_negative"),
        CheckConstraint(
            "status != 'available' OR (network IS NOT NULL AND pick_up_code IS NOT NULL)", name="available_has_pick_up"
        ),
        Index("ix_reimbursement_claims_artisan_id_created_at", "artisan_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(40), unique=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id"))
    amount_centimes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255))
    network: Mapped[str | None] = mapped_column(String(16))
    pick_up_code: Mapped[str | None] = mapped_column(String(32))
    available_until: Mapped[dt.date | None] = mapped_column(Date)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Pick-up SMS queued on the day `pick_up_sms_on` (Africa/Casablanca), first notice
    # included: one conditional UPDATE counts a resend, so racing resends cannot pass
    # the daily limit together.
    pick_up_sms_on: Mapped[dt.date | None] = mapped_column(Date)
    pick_up_sms_count: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
