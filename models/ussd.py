"""How USSD sessions ended, as the aggregator reports it (drop-off analysis)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID
from models.base import Base, UTCDateTime, utcnow


class UssdSessionOutcome(Base):
    __tablename__ = "ussd_session_outcomes"
    __table_args__ = (
        UniqueConstraint("aggregator", "session_id"),
        Index("ix_ussd_session_outcomes_received_at", "received_at"),  # the dashboard's periods
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    aggregator: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(16))
    service_code: Mapped[str] = mapped_column(String(32))
    network_code: Mapped[str] = mapped_column(String(16))
    # Success, Incomplete, Failed, or whatever else the aggregator says (kept as given).
    status: Mapped[str] = mapped_column(String(32))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    hops_count: Mapped[int | None] = mapped_column(Integer)
    # Our own last screen id, from the live session; never what the user typed (CIN, PIN).
    last_screen: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(2))
    error_message: Mapped[str | None] = mapped_column(String(255))
    cost: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
