"""The demo artisans of DESIGN.md, with dates relative to today so that they stay true."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.clock import local_today
from gateway.payments.agents import ensure_cash_point, hash_pin
from gateway.registration.amo import add_months, month_start
from models import Agent, Artisan, IdentificationAttempt, PaidMonth, Payment, PaymentReference, PhoneLink

DEMO_PREFIX = "DEMO-"
DEMO_MONTHLY_CENTIMES = 13500  # the rna_no_income_tax amount seeded by the first migration


def demo_artisans(today: dt.date) -> list[dict[str, Any]]:
    current = month_start(today)
    return [
        dict(
            rna_number="DEMO-FES-0001",
            cin="CD234567",
            first_name="Fatima",
            last_name="Bennani",
            birth_year=1975,
            phone="+212600000001",
            trade="pottery",
            category="artisan",
            province_code="03.231",
            commune_code="03.231.01.0",
            language=None,
            rna_status="registered",
            cnss_number="1000000001",
            amo_status="registered",
            amo_start_month=add_months(current, -24),
            amo_first_paid_month=add_months(current, -24),
            amo_paid_through=add_months(current, -1),
        ),
        dict(
            rna_number="DEMO-MRK-0002",
            cin="EE345678",
            first_name="Youssef",
            last_name="Alaoui",
            birth_year=1988,
            phone="+212600000002",
            trade="weaving",
            category="artisan",
            province_code="07.351",
            commune_code="07.351.01.0",
            language=None,
            rna_status="registered",
            cnss_number="1000000002",
            amo_status="pre_registered",
            amo_start_month=add_months(current, -2),
            amo_first_paid_month=None,
            amo_paid_through=None,
        ),
        dict(
            rna_number="DEMO-TIZ-0003",
            cin="JK456789",
            first_name="Aicha",
            last_name="Ouhammou",
            birth_year=1970,
            phone="+212600000003",
            trade="jewellery",
            category="cooperative",
            province_code="09.581",
            commune_code="09.581.01.07",
            language="fr",
            rna_status="registered",
            cnss_number="1000000003",
            amo_status="registered",
            amo_start_month=add_months(current, -20),
            amo_first_paid_month=add_months(current, -20),
            amo_paid_through=add_months(current, -6),
        ),
        dict(
            rna_number="DEMO-MRK-0009",
            cin="JB123456",
            first_name="Omar",
            last_name="Alaoui",
            birth_year=1980,
            phone=None,
            trade="leather",
            category="maalem",
            province_code="07.351",
            commune_code="07.351.01.0",
            language=None,
            rna_status="registered",
            cnss_number="1000000009",
            amo_status="registered",
            amo_start_month=add_months(current, -12),
            amo_first_paid_month=add_months(current, -12),
            amo_paid_through=add_months(current, -1),
        ),
    ]


UNLINKED_DEMO_PHONES = ("+212600000009",)
DEMO_CASH_POINTS = (
    dict(
        network="wafacash",
        code="WFC-FES-BATHA",
        name="Wafacash Fès Batha",
        address="Place Batha, Fès",
        commune_code="03.231.01.0",
        opening_hours="Lun-Sam 09:00-19:00",
    ),
    dict(
        network="fellah_cash",
        code="FLC-MRK-GUELIZ",
        name="Fellah Cash Marrakech Guéliz",
        address="Avenue Mohammed V, Guéliz, Marrakech",
        commune_code="07.351.01.0",
        opening_hours="Lun-Ven 08:30-18:00, Sam 09:00-13:00",
    ),
)
DEMO_AGENTS = (
    dict(network="wafacash", agent_code="WFC-FES-001", phone="+212700000001", cash_point="WFC-FES-BATHA"),
    dict(network="fellah_cash", agent_code="FLC-MRK-001", phone="+212700000002", cash_point="FLC-MRK-GUELIZ"),
)
DEMO_PIN = "1234"


def _reset_payments(db: Session, artisan_ids: list[int]) -> None:
    """Forget the demo artisans' references and payments (a demo run leaves some)."""
    payments = select(Payment.id).where(Payment.artisan_id.in_(artisan_ids))
    db.execute(delete(PaidMonth).where(PaidMonth.artisan_id.in_(artisan_ids)))
    db.execute(delete(Payment).where(Payment.id.in_(payments)))
    db.execute(delete(PaymentReference).where(PaymentReference.artisan_id.in_(artisan_ids)))


def _paid_history(db: Session, artisan: Artisan) -> None:
    """Months paid before Hirfa, from the first paid month to the paid-through month."""
    if artisan.amo_first_paid_month is None or artisan.amo_paid_through is None:
        return
    month = artisan.amo_first_paid_month
    while month <= artisan.amo_paid_through:
        db.add(PaidMonth(artisan_id=artisan.id, month=month, amount_centimes=DEMO_MONTHLY_CENTIMES, payment_id=None))
        month = add_months(month, 1)


def _agents(db: Session) -> None:
    points = {values["code"]: ensure_cash_point(db, **values) for values in DEMO_CASH_POINTS}
    for values in DEMO_AGENTS:
        agent = db.scalar(select(Agent).where(Agent.agent_code == values["agent_code"]))
        if agent is None:
            agent = Agent(agent_code=values["agent_code"])
            db.add(agent)
        agent.network = values["network"]
        agent.phone = values["phone"]
        agent.cash_point_id = points[values["cash_point"]].id
        agent.pin_hash = hash_pin(DEMO_PIN)
        agent.status = "active"
        agent.failed_pin_attempts = 0
    db.flush()


def load_demo(db: Session, *, clock: Callable[[], dt.datetime]) -> list[str]:
    """Insert or reset the demo artisans; returns their phones. Flushes only."""
    now = clock()
    rows = demo_artisans(local_today(now))
    # Reset: unlink demo phones first so that a phone linked during a demo is free again.
    db.execute(delete(IdentificationAttempt).where(IdentificationAttempt.phone.in_(UNLINKED_DEMO_PHONES)))
    for existing in db.scalars(select(Artisan).where(Artisan.rna_number.startswith(DEMO_PREFIX))):
        existing.phone = None
    db.flush()
    demo_ids = list(db.scalars(select(Artisan.id).where(Artisan.rna_number.startswith(DEMO_PREFIX))))
    _reset_payments(db, demo_ids)
    db.flush()
    phones = []
    for values in rows:
        artisan = db.scalar(select(Artisan).where(Artisan.rna_number == values["rna_number"]))
        created = artisan is None
        if artisan is None:
            artisan = Artisan(created_at=now, **values)
            db.add(artisan)
        else:
            for key, value in values.items():
                setattr(artisan, key, value)
        db.flush()
        _paid_history(db, artisan)
        if values["phone"]:
            phones.append(values["phone"])
            if created:
                db.add(PhoneLink(phone=values["phone"], artisan_id=artisan.id, method="staff", linked_at=now))
    _agents(db)
    db.flush()
    return phones + list(UNLINKED_DEMO_PHONES) + [values["phone"] for values in DEMO_AGENTS]


def holds_demo_data(db: Session) -> bool:
    return db.scalar(select(Artisan.id).where(Artisan.rna_number.startswith(DEMO_PREFIX)).limit(1)) is not None
