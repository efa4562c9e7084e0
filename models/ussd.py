"""USSD sessions: from Hirfa's own hops, and how the aggregator says they ended."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID
from models.base import Base, UTCDateTime


class UssdSessionOutcome(Base):
    """One USSD session, from its first hop (Hirfa writes the row then and on the hop
    that sends its last screen, never on the hops between); the aggregator's report,
    when one comes, adds its status to the same row."""

    __tablename__ = "ussd_session_outcomes"
    __table_args__ = (
        UniqueConstraint("aggregator", "session_id"),
        Index("ix_ussd_session_outcomes_started_at", "started_at"),  # the dashboard's periods
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    aggregator: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(16))
    service_code: Mapped[str] = mapped_column(String(32))
    network_code: Mapped[str] = mapped_column(String(16))
    # The first hop, or the report when Hirfa saw no hop. Nullable for one release only
    # (the previous one inserts reports without it: migration 0011).
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Hirfa's side: the last hop it wrote down (the first, or the last screen), when it sent
    # that last screen (an END: the session completed), and how many hops it answered.
    last_hop_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    hops_answered: Mapped[int | None] = mapped_column(Integer)
    # The aggregator's report, once it comes: Success, Incomplete, Failed, or whatever
    # else it says (kept as given).
    status: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    hops_count: Mapped[int | None] = mapped_column(Integer)
    # Our own last screen id, from the live session; never what the user typed (CIN, PIN).
    last_screen: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))  # a language code: ar, fr, ary (voice)…
    error_message: Mapped[str | None] = mapped_column(String(255))
    cost: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the report's
