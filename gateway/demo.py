"""The demo artisans (README, "Dialing the demo"), with dates relative to today so that they stay true."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from gateway.clock import add_months, local_today, month_start
from gateway.ops.staff import create_staff, end_sessions, hash_password
from gateway.partners.keys import DEMO_KEY_NAMES
from gateway.payments.agents import ensure_cash_point, hash_pin
from gateway.registration.chambers import demo_chambers, upsert_chamber
from models import (
    Agent,
    Artisan,
    Chamber,
    IdentificationAttempt,
    IdentificationCounter,
    PaidMonth,
    PartnerKey,
    Payment,
    PaymentReference,
    PhoneLink,
    RegistrationRequest,
    ReimbursementClaim,
    StaffMember,
)

DEMO_PREFIX = "DEMO-"
# The demo's /ops login. Known to all, like the agents' PIN 1234: production refuses a
# database that holds it (holds_demo_data).
DEMO_STAFF = ("demo", "hirfa-demo-ops")
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
    dict(
        network="fellah_cash",
        code="FLC-FES-VN",
        name="Fellah Cash Fès Ville Nouvelle",
        address="Avenue Hassan II, Fès",
        commune_code="03.231.01.0",
        opening_hours="Lun-Ven 08:30-18:00",
    ),
    dict(
        network="wafacash",
        code="WFC-MRK-MEDINA",
        name="Wafacash Marrakech Médina",
        address="Rue Bab Agnaou, Médina, Marrakech",
        commune_code="07.351.01.0",
        opening_hours="Lun-Sam 09:00-20:00",
    ),
    dict(
        network="fellah_cash",
        code="FLC-MRK-DAOUDIAT",
        name="Fellah Cash Marrakech Daoudiate",
        address="Boulevard Abdelkrim El Khattabi, Marrakech",
        commune_code="07.351.01.0",
        opening_hours="Lun-Ven 08:30-17:30",
    ),
    dict(
        network="wafacash",
        code="WFC-TZN-MECHOUAR",
        name="Wafacash Tiznit Méchouar",
        address="Place du Méchouar, Tiznit",
        commune_code="09.581.01.07",
        opening_hours="Lun-Sam 09:00-19:00",
    ),
    dict(
        network="fellah_cash",
        code="FLC-TZN-CENTRE",
        name="Fellah Cash Tiznit Centre",
        address="Avenue Mohammed V, Tiznit",
        commune_code="09.581.01.07",
        opening_hours="Lun-Ven 08:30-17:30",
    ),
    dict(
        network="wafacash",
        code="WFC-CAS-MAARIF",
        name="Wafacash Casablanca Maârif",
        address="Boulevard Zerktouni, Maârif, Casablanca",
        commune_code="06.141.01.0",
        opening_hours="Lun-Sam 09:00-20:00",
    ),
    dict(
        network="fellah_cash",
        code="FLC-CAS-DERB-SULTAN",
        name="Fellah Cash Casablanca Derb Sultan",
        address="Boulevard El Fida, Casablanca",
        commune_code="06.141.01.0",
        opening_hours="Lun-Ven 08:30-18:00",
    ),
    dict(
        network="wafacash",
        code="WFC-RBT-AGDAL",
        name="Wafacash Rabat Agdal",
        address="Avenue de France, Agdal, Rabat",
        commune_code="04.421.01.0",
        opening_hours="Lun-Sam 09:00-19:00",
    ),
    dict(
        network="fellah_cash",
        code="FLC-RBT-HASSAN",
        name="Fellah Cash Rabat Hassan",
        address="Avenue Allal Ben Abdellah, Rabat",
        commune_code="04.421.01.0",
        opening_hours="Lun-Ven 08:30-17:30",
    ),
)
DEMO_AGENTS = (
    dict(network="wafacash", agent_code="WFC-FES-001", phone="+212700000001", cash_point="WFC-FES-BATHA"),
    dict(network="fellah_cash", agent_code="FLC-MRK-001", phone="+212700000002", cash_point="FLC-MRK-GUELIZ"),
)
DEMO_PIN = "1234"


def demo_claims(today: dt.date) -> list[dict[str, Any]]:
    """Fatima's reimbursements: one to collect at Fellah Cash, one collected long ago.

    `age` is how many days ago Hirfa heard of the claim, `changed` of its last status."""
    return [
        dict(
            claim_number="DEMO-CLM-0001",
            rna_number="DEMO-FES-0001",
            amount_centimes=45000,
            status="available",
            network="fellah_cash",
            pick_up_code="FC-4821-7730",
            available_until=today + dt.timedelta(days=14),
            reason=None,
            age=12,
            changed=1,
        ),
        dict(
            claim_number="DEMO-CLM-0002",
            rna_number="DEMO-FES-0001",
            amount_centimes=21000,
            status="paid_out",
            network="wafacash",
            pick_up_code="WF-1934-2208",
            available_until=today - dt.timedelta(days=60),
            reason=None,
            age=95,
            changed=70,
        ),
    ]


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


def _claims(db: Session, now: dt.datetime, artisan_ids: dict[str, int]) -> None:
    """Reset the demo artisans' claims to those of the README (kept by claim number, so ids stay)."""
    rows = demo_claims(local_today(now))
    numbers = [values["claim_number"] for values in rows]
    db.execute(
        delete(ReimbursementClaim).where(
            ReimbursementClaim.artisan_id.in_(list(artisan_ids.values())),
            ReimbursementClaim.claim_number.not_in(numbers),
        )
    )
    for values in rows:
        artisan_id = artisan_ids[values.pop("rna_number")]
        created = now - dt.timedelta(days=values.pop("age"))
        changed = now - dt.timedelta(days=values.pop("changed"))
        claim = db.scalar(select(ReimbursementClaim).where(ReimbursementClaim.claim_number == values["claim_number"]))
        if claim is None:
            claim = ReimbursementClaim(claim_number=values["claim_number"])
            db.add(claim)
        for key, value in values.items():
            setattr(claim, key, value)
        claim.artisan_id = artisan_id
        claim.created_at = created
        claim.status_changed_at = claim.updated_at = changed
    db.flush()


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


def load_demo(
    db: Session, *, clock: Callable[[], dt.datetime], cin_digest: Callable[[str], str] | None = None
) -> list[str]:
    """Insert or reset the demo artisans; returns their phones. Flushes only. With
    `cin_digest` (the app's keyed digest), the demo CINs' identification counts go too."""
    now = clock()
    rows = demo_artisans(local_today(now))
    if cin_digest is not None:
        digests = [cin_digest(values["cin"]) for values in rows]
        db.execute(
            delete(IdentificationCounter).where(
                IdentificationCounter.scope == "cin", IdentificationCounter.key.in_(digests)
            )
        )
    # Reset: unlink demo phones first so that a phone linked during a demo is free again.
    db.execute(delete(IdentificationAttempt).where(IdentificationAttempt.phone.in_(UNLINKED_DEMO_PHONES)))
    db.execute(
        delete(IdentificationCounter).where(
            IdentificationCounter.scope.in_(("phone", "request")), IdentificationCounter.key.in_(UNLINKED_DEMO_PHONES)
        )
    )
    # Their registration requests too, and a file staff made from one lets the phone go.
    db.execute(delete(RegistrationRequest).where(RegistrationRequest.phone.in_(UNLINKED_DEMO_PHONES)))
    for registered in db.scalars(select(Artisan).where(Artisan.phone.in_(UNLINKED_DEMO_PHONES))):
        registered.phone = None
    for existing in db.scalars(select(Artisan).where(Artisan.rna_number.startswith(DEMO_PREFIX))):
        existing.phone = None
    db.flush()
    demo_ids = list(db.scalars(select(Artisan.id).where(Artisan.rna_number.startswith(DEMO_PREFIX))))
    _reset_payments(db, demo_ids)
    db.flush()
    phones = []
    artisan_ids: dict[str, int] = {}
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
        artisan_ids[artisan.rna_number] = artisan.id
        _paid_history(db, artisan)
        if values["phone"]:
            phones.append(values["phone"])
            if created:
                db.add(PhoneLink(phone=values["phone"], artisan_id=artisan.id, method="staff", linked_at=now))
    _claims(db, now, artisan_ids)
    _agents(db)
    for chamber in demo_chambers():
        upsert_chamber(db, chamber)
    db.flush()
    return phones + list(UNLINKED_DEMO_PHONES) + [values["phone"] for values in DEMO_AGENTS]


def load_demo_staff(db: Session, *, clock: Callable[[], dt.datetime]) -> tuple[str, str]:
    """The demo's staff account for /ops (created, or its password and lock reset);
    returns its username and password. Flushes only."""
    staff = db.scalar(select(StaffMember).where(StaffMember.username == DEMO_STAFF[0]))
    if staff is None:
        create_staff(db, username=DEMO_STAFF[0], password=DEMO_STAFF[1], clock=clock)
    else:
        staff.password_hash = hash_password(DEMO_STAFF[1])
        staff.active, staff.failed_logins, staff.locked_until = True, 0, None
        db.flush()
        end_sessions(db, staff_id=staff.id)  # a reset demo starts with nobody logged in
    return DEMO_STAFF


CONTRIBUTOR_COLUMNS = (
    "rna_number, cin, first_name, last_name, birth_year, phone, trade, category, contribution_category, "
    "province_code, commune_code, rna_status, amo_status, amo_start_month, sms_opt_out, created_at, updated_at"
)


def copy_contributors(
    connection: psycopg.Connection[Any], *, count: int, tag: str, phone: Callable[[int], str], now: dt.datetime
) -> None:
    """`count` generated artisans for load (benchmarks, fault drills): pre-registered for
    AMO three months ago, so three months are due. Written with COPY, as 500,000 rows
    must take seconds. RNA numbers `TAG-0000001`..., phones from `phone(index)`."""
    start = add_months(month_start(local_today(now)), -2)
    with connection.cursor() as cursor, cursor.copy(f"COPY artisans ({CONTRIBUTOR_COLUMNS}) FROM STDIN") as copy:
        for i in range(count):
            copy.write_row(
                (
                    f"{tag}-{i:07d}",
                    f"{tag[:2]}{i:07d}",
                    tag.title(),
                    "Artisan",
                    1980,
                    phone(i),
                    "pottery",
                    "artisan",
                    "rna_no_income_tax",
                    "03.231",
                    "03.231.01.0",
                    "registered",
                    "pre_registered",
                    start,
                    False,
                    now,
                    now,
                )
            )


def holds_demo_data(db: Session) -> bool:
    """Whether anything `flask demo load` or `make run` made, and the README publishes, is
    here: demo artisans, the demo staff login, an active demo partner key (its secret was
    printed in a terminal), an agent not disabled with a demo code or phone (PIN 1234), an
    active demo chamber of crafts (its address and phone are placeholders)."""
    demo_codes = [values["agent_code"] for values in DEMO_AGENTS]
    demo_phones = [values["phone"] for values in DEMO_AGENTS]
    checks = (
        select(StaffMember.id).where(StaffMember.username == DEMO_STAFF[0]),
        select(Artisan.id).where(Artisan.rna_number.startswith(DEMO_PREFIX)),
        select(PartnerKey.id).where(PartnerKey.name.in_(list(DEMO_KEY_NAMES)), PartnerKey.status == "active"),
        select(Agent.id).where(
            or_(Agent.agent_code.in_(demo_codes), Agent.phone.in_(demo_phones)), Agent.status != "disabled"
        ),
        select(Chamber.region_code).where(Chamber.demo.is_(True), Chamber.active.is_(True)),
    )
    return any(db.scalar(check.limit(1)) is not None for check in checks)
