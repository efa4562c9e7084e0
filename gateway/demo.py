"""The demo artisans of DESIGN.md, with dates relative to today so that they stay true."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.registration.amo import add_months, month_start
from gateway.registration.service import local_today
from models import Artisan, IdentificationAttempt, PhoneLink

DEMO_PREFIX = "DEMO-"


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


def load_demo(db: Session, *, clock: Callable[[], dt.datetime]) -> list[str]:
    """Insert or reset the demo artisans; returns their phones. Flushes only."""
    now = clock()
    rows = demo_artisans(local_today(now))
    # Reset: unlink demo phones first so that a phone linked during a demo is free again.
    db.execute(delete(IdentificationAttempt).where(IdentificationAttempt.phone.in_(UNLINKED_DEMO_PHONES)))
    for existing in db.scalars(select(Artisan).where(Artisan.rna_number.startswith(DEMO_PREFIX))):
        existing.phone = None
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
        if values["phone"]:
            phones.append(values["phone"])
            if created:
                db.add(PhoneLink(phone=values["phone"], artisan_id=artisan.id, method="staff", linked_at=now))
    db.flush()
    return phones + list(UNLINKED_DEMO_PHONES)


def holds_demo_data(db: Session) -> bool:
    return db.scalar(select(Artisan.id).where(Artisan.rna_number.startswith(DEMO_PREFIX)).limit(1)) is not None
