"""Artisans as the national register of handicrafts (RNA) knows them, with AMO fields."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

ID = BigInteger().with_variant(Integer(), "sqlite")

CATEGORIES = ("artisan", "maalem", "cooperative", "enterprise")
RNA_STATUSES = ("registered", "pending", "struck_off")
AMO_STATUSES = ("not_registered", "pre_registered", "registered")
LANGUAGES = ("ar", "fr")
REMINDER_CHANNELS = ("sms", "voice")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Artisan(Base):
    __tablename__ = "artisans"
    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint(_in("rna_status", RNA_STATUSES), name="rna_status"),
        CheckConstraint(_in("amo_status", AMO_STATUSES), name="amo_status"),
        CheckConstraint("language IS NULL OR " + _in("language", LANGUAGES), name="language"),
        CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="birth_year"),
        CheckConstraint(_in("reminders_by", REMINDER_CHANNELS), name="reminders_by"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    rna_number: Mapped[str] = mapped_column(String(32), unique=True)
    cin: Mapped[str] = mapped_column(String(10), unique=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    trade: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16), default="artisan")
    contribution_category: Mapped[str] = mapped_column(
        String(32), ForeignKey("contribution_categories.code"), default="rna_no_income_tax"
    )
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))
    rna_status: Mapped[str] = mapped_column(String(16), default="registered")
    cnss_number: Mapped[str | None] = mapped_column(String(20))
    amo_status: Mapped[str] = mapped_column(String(16), default="not_registered")
    # Months are stored as the first day of the month.
    amo_start_month: Mapped[dt.date | None] = mapped_column(Date)
    amo_first_paid_month: Mapped[dt.date | None] = mapped_column(Date)
    amo_paid_through: Mapped[dt.date | None] = mapped_column(Date)
    # STOP by SMS or from the menu: no more reminders (what the artisan asked for still comes).
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # How the monthly reminder and "your reimbursement is ready" come: sms (the default) or
    # voice (a call out, option 6 then 5; an SMS still when the calls fail).
    reminders_by: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
