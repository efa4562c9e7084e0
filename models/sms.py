"""The SMS outbox: a row per message, written in the transaction that causes it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, LANGUAGES, _in
from models.base import Base, UTCDateTime, utcnow

SMS_STATES = ("pending", "sending", "sent", "delivered", "failed")
SMS_ENCODINGS = ("gsm7", "ucs2")


class OutboxMessage(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint(_in("state", SMS_STATES), name="state"),
        CheckConstraint(_in("encoding", SMS_ENCODINGS), name="encoding"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint("segments BETWEEN 1 AND 2", name="segments"),
        Index("ix_sms_outbox_state_created_at", "state", "created_at"),
        Index("ix_sms_outbox_provider_message_id", "provider_message_id"),
        Index("ix_sms_outbox_subject_created_at", "subject", "created_at"),
        Index("ix_sms_outbox_created_at", "created_at"),  # the dashboard's periods
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    template: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(SmallInteger)
    encoding: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    # The provider's last word on the message (AT's status, kept as given) and why it failed.
    provider_status: Mapped[str | None] = mapped_column(String(40))
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    # What the message is about (e.g. `claim:42`, `reminder:2026-11`), to count and dedupe.
    subject: Mapped[str | None] = mapped_column(String(64))
    # Sent even in quiet hours: the reference or receipt the artisan is waiting for.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Not before this time (retry backoff, quiet hours).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Sent while a worker died mid-send: it may have reached the phone twice.
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OutboxPart(Base):
    """One part of a message sent in several (SMPP: a submit_sm each, a message_id and a
    receipt each). The row is delivered once every part is; a part failing fails it."""

    __tablename__ = "sms_outbox_parts"
    __table_args__ = (
        UniqueConstraint("outbox_id", "part"),
        Index("ix_sms_outbox_parts_provider_message_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ID, ForeignKey("sms_outbox.id", ondelete="CASCADE"))
    part: Mapped[int] = mapped_column(SmallInteger)
    provider_message_id: Mapped[str] = mapped_column(String(128))
    # The part's last receipt word (DELIVRD, UNDELIV ...); empty until one comes.
    provider_status: Mapped[str | None] = mapped_column(String(40))


class SmsReminder(Base):
    """The monthly dues reminder sent to an artisan: at most one per month, by constraint."""

    __tablename__ = "sms_reminders"
    __table_args__ = (UniqueConstraint("artisan_id", "month"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id", ondelete="CASCADE"))
    month: Mapped[dt.date] = mapped_column(Date)
    outbox_id: Mapped[int | None] = mapped_column(ID, ForeignKey("sms_outbox.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
