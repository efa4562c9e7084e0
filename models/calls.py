"""Calls out (reminders by voice): a row per call, written in the transaction that causes it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, LANGUAGES, _in
from models.base import Base, UTCDateTime, utcnow

CALL_KINDS = ("dues_reminder", "claim_ready")
# queued (waiting for its time or a worker) -> calling (AT took it, ringing or talking) ->
# answered | no_answer | failed (final: the call's outcome, or the attempts ran out).
CALL_STATUSES = ("queued", "calling", "answered", "no_answer", "failed")


class CallOutbox(Base):
    __tablename__ = "call_outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", CALL_KINDS), name="kind"),
        CheckConstraint(_in("status", CALL_STATUSES), name="status"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        # One call per artisan and subject (`reminder:2026-11`, `claim:42`).
        UniqueConstraint("artisan_id", "subject"),
        Index("ix_call_outbox_status_next_at", "status", "next_at"),
        Index("ix_call_outbox_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(64))
    # What the call is about, by id: the reminder's month (YYYY-MM) or the claim.
    month: Mapped[str | None] = mapped_column(String(7))
    claim_id: Mapped[int | None] = mapped_column(ID, ForeignKey("reimbursement_claims.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Not before this time (quiet hours, the retry); None: now.
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Africa's Talking's sessionId of the current attempt (its callbacks name the call by it).
    session_id: Mapped[str | None] = mapped_column(String(128))
    # AT's last word (status, hangupCause) or why the request failed.
    outcome: Mapped[str | None] = mapped_column(String(255))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # The SMS sent instead when every attempt failed.
    fallback_sms_id: Mapped[int | None] = mapped_column(ID, ForeignKey("sms_outbox.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
