"""Cash points, agents, payment references, payments and the months they paid, partner keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.artisan import ID, _in
from models.banks import BANKS
from models.base import Base, UTCDateTime, utcnow

NETWORKS = ("wafacash", "fellah_cash")
AGENT_STATUSES = ("active", "locked", "disabled")
REFERENCE_STATUSES = ("open", "paid", "cancelled")
CHANNELS = ("ussd", "api")
PARTNER_KINDS = ("network", "reimbursements", "bank")
KEY_STATUSES = ("active", "revoked")


class CashPoint(Base):
    __tablename__ = "cash_points"
    __table_args__ = (CheckConstraint(_in("network", NETWORKS), name="network"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    network: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255), default="")
    commune_code: Mapped[str] = mapped_column(String(16))
    opening_hours: Mapped[str] = mapped_column(String(120), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Agent(Base):
    """A counter agent of a cash network; the PIN is only ever stored hashed."""

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(_in("network", NETWORKS), name="network"),
        CheckConstraint(_in("status", AGENT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    network: Mapped[str] = mapped_column(String(16))
    agent_code: Mapped[str] = mapped_column(String(32), unique=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    cash_point_id: Mapped[int | None] = mapped_column(ID, ForeignKey("cash_points.id"))
    pin_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    failed_pin_attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PaymentReference(Base):
    """What an artisan will pay at a counter: months, amount, network, until when.

    Expiry is read from `expires_at`; the status only says open, paid or cancelled."""

    __tablename__ = "payment_references"
    __table_args__ = (
        CheckConstraint(_in("network", NETWORKS), name="network"),
        CheckConstraint(_in("status", REFERENCE_STATUSES), name="status"),
        CheckConstraint("month_count BETWEEN 1 AND 24", name="month_count"),
        CheckConstraint("amount_centimes > 0", name="amount_positive"),
        Index("ix_payment_references_artisan_id_status", "artisan_id", "status"),
        Index("ix_payment_references_status_expires_at", "status", "expires_at"),  # expired unpaid
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    reference: Mapped[str] = mapped_column(String(10), unique=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id"))
    network: Mapped[str] = mapped_column(String(16))
    first_month: Mapped[dt.date] = mapped_column(Date)
    month_count: Mapped[int] = mapped_column(SmallInteger)
    amount_centimes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PartnerKey(Base):
    """A partner's API key: a network's counter system, the reimbursement feed, or a bank.

    The secret is kept encrypted (HMAC needs it back); it is shown once, at creation."""

    __tablename__ = "partner_keys"
    __table_args__ = (
        CheckConstraint(_in("kind", PARTNER_KINDS), name="kind"),
        CheckConstraint(_in("status", KEY_STATUSES), name="status"),
        CheckConstraint("network IS NULL OR " + _in("network", NETWORKS), name="network"),
        CheckConstraint("(kind = 'network') = (network IS NOT NULL)", name="network_for_network_kind"),
        CheckConstraint("bank IS NULL OR " + _in("bank", BANKS), name="bank"),
        CheckConstraint("(kind = 'bank') = (bank IS NOT NULL)", name="bank_for_bank_kind"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    network: Mapped[str | None] = mapped_column(String(16))
    bank: Mapped[str | None] = mapped_column(String(8))  # a bank key sees only this bank's leads
    secret_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Payment(Base):
    """Cash received against a reference. One standing (not reversed) payment per
    reference, enforced by the database; a reversed reference may be paid again.

    `created_at` is when Hirfa recorded the payment, on its own clock: it decides the
    business day (settlement, same-day reversal, an agent's day). `paid_at` is the
    network's word for when the cash changed hands, kept as information."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_in("network", NETWORKS), name="network"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint("amount_centimes > 0", name="amount_positive"),
        CheckConstraint("(agent_id IS NOT NULL) OR (partner_key_id IS NOT NULL)", name="confirmed_by"),
        UniqueConstraint("network", "network_txn_id"),
        Index(
            "ux_payments_reference_id_standing",
            "reference_id",
            unique=True,
            postgresql_where=text("reversed_at IS NULL"),
            sqlite_where=text("reversed_at IS NULL"),
        ),
        Index("ix_payments_network_created_at", "network", "created_at"),  # settlement: payments of a day
        Index("ix_payments_network_reversed_at", "network", "reversed_at"),  # settlement: reversals of a day
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    reference_id: Mapped[int] = mapped_column(ID, ForeignKey("payment_references.id"))
    receipt_number: Mapped[str] = mapped_column(String(16), unique=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id"), index=True)
    network: Mapped[str] = mapped_column(String(16))
    amount_centimes: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[int | None] = mapped_column(ID, ForeignKey("agents.id"))
    agent_code: Mapped[str | None] = mapped_column(String(32))
    partner_key_id: Mapped[int | None] = mapped_column(ID, ForeignKey("partner_keys.id"))
    network_txn_id: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the partner's request body: the same id with another body is a conflict.
    request_digest: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reversal_reason: Mapped[str | None] = mapped_column(String(255))


class PaidMonth(Base):
    """One month of contributions paid. A month is paid once: the database says so."""

    __tablename__ = "paid_months"
    __table_args__ = (
        UniqueConstraint("artisan_id", "month"),
        CheckConstraint("amount_centimes > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    artisan_id: Mapped[int] = mapped_column(ID, ForeignKey("artisans.id", ondelete="CASCADE"))
    month: Mapped[dt.date] = mapped_column(Date)
    amount_centimes: Mapped[int] = mapped_column(Integer)
    # None for months paid before Hirfa (history from CNSS).
    payment_id: Mapped[int | None] = mapped_column(ID, ForeignKey("payments.id"), index=True)
