"""Phones linked to artisans, per-phone preferences and identification attempts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, LANGUAGES, _in
from models.base import Base, UTCDateTime, utcnow

LINK_METHODS = ("rna_import", "identification", "staff")
ATTEMPT_OUTCOMES = ("matched", "wrong_birth_year", "unknown_cin", "not_registered")
# "request": a phone's tries at an RNA registration request (gateway.registration.requests).
COUNTER_SCOPES = ("phone", "cin", "request")


class PhoneLink(Base):
    """History of which phone pointed at which artisan, and how it came to."""

    __tablename__ = "phone_links"
    __table_args__ = (
        CheckConstraint(_in("method", LINK_METHODS), name="method"),
        Index("ix_phone_links_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A phone linked by identification sees no pick-up code before this time (set from
    # RELINK_COOLDOWN_HOURS when it links); NULL for the RNA import's and staff's links.
    pick_up_codes_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PhonePreference(Base):
    """The language chosen on a phone no artisan is linked to yet."""

    __tablename__ = "phone_preferences"
    __table_args__ = (CheckConstraint(_in("language", LANGUAGES), name="language"),)

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(2))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class IdentificationAttempt(Base):
    """One try at CIN + birth year. The CIN is kept only as a keyed digest (no PII at rest)."""

    __tablename__ = "identification_attempts"
    __table_args__ = (
        CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),
        Index("ix_identification_attempts_phone_created_at", "phone", "created_at"),
        Index("ix_identification_attempts_cin_digest_created_at", "cin_digest", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    cin_digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdentificationCounter(Base):
    """Failed identification tries of one phone or one CIN digest, counted atomically.

    A try claims its count before it is evaluated (one INSERT … ON CONFLICT DO UPDATE …
    RETURNING: the row lock on PostgreSQL, the write lock on SQLite, serialise racing
    tries), so tries beyond the limit are refused without being evaluated. `last_at` is
    the last counted try: the count restarts once it is older than the lockout."""

    __tablename__ = "identification_counters"
    __table_args__ = (CheckConstraint(_in("scope", COUNTER_SCOPES), name="scope"),)

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # E.164 phone, or CIN digest
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
