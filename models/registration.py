"""RNA registration requests made from a phone, and the chambers of crafts they go to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, LANGUAGES, _in
from models.base import Base, UTCDateTime, utcnow

REQUEST_STATUSES = ("open", "registered", "rejected")
OPEN = text("status = 'open'")


class Chamber(Base):
    """The chamber of crafts of a region (غرفة الصناعة التقليدية), imported from CSV.
    `demo` rows come from `flask demo load`: production refuses to start while one is active."""

    __tablename__ = "chambers"

    region_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name_ar: Mapped[str] = mapped_column(String(80))
    name_fr: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RegistrationRequest(Base):
    """A phone's request to be registered in the RNA, handled by staff on /ops.

    The CIN is here in clear (staff need it at the chamber); it never waits in Redis
    between hops in clear (menus.ports.RegistrationDesk.seal_cin)."""

    __tablename__ = "registration_requests"
    __table_args__ = (
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="birth_year"),
        CheckConstraint("status = 'open' OR decided_at IS NOT NULL", name="decided_has_date"),
        CheckConstraint("status != 'registered' OR artisan_id IS NOT NULL", name="registered_has_artisan"),
        # One open request per CIN and per phone, however many confirms race.
        Index("uq_registration_requests_open_cin", "cin", unique=True, postgresql_where=OPEN, sqlite_where=OPEN),
        Index("uq_registration_requests_open_phone", "phone", unique=True, postgresql_where=OPEN, sqlite_where=OPEN),
        Index("ix_registration_requests_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    cin: Mapped[str] = mapped_column(String(10))
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    trade: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(2))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(String(120))
    artisan_id: Mapped[int | None] = mapped_column(ID, ForeignKey("artisans.id"))
