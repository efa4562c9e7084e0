"""The SMS outbox: a row per message, written in the transaction that causes it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, Text
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
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
