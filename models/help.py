"""Artisans' requests for help (option 5): a call-back, export support, the chamber's contact."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, _in
from models.base import Base, UTCDateTime, utcnow

HELP_KINDS = ("advisor_callback", "export_support", "chamber_contact")
HELP_STATUSES = ("open", "closed")


class HelpRequest(Base):
    __tablename__ = "help_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", HELP_KINDS), name="kind"),
        CheckConstraint(_in("status", HELP_STATUSES), name="status"),
        CheckConstraint("status != 'closed' OR closed_at IS NOT NULL", name="closed_has_date"),
        # One open request of a kind per artisan, even when two hops race.
        Index(
            "uq_help_requests_open_kind",
            "artisan_id",
            "kind",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_help_requests_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id"))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(8), default="open")
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(80))
