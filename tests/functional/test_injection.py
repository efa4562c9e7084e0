"""SQL injection attempts through every door: the USSD answers, the partner API's path
and body, the dashboard's login. Each is refused or treated as plain text, and the
tables are as they were."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.config import Settings
from menus.i18n import Translator
from models import Artisan, PaymentReference, PhoneLink
from tests.functional.test_ops_dashboard import csrf
from tests.functional.test_partner_api import Partner, error_of, new_reference, partner_for, payment
from tests.helpers import Dialer, FrozenClock

PAYLOADS = [
    "' OR '1'='1",
    "JB123456' OR 1=1 --",
    "1; DROP TABLE artisans; --",
    "0000000000' UNION SELECT cin FROM artisans --",
    "\"; UPDATE artisans SET amo_status='covered'; --",
]


def counts(db: Session) -> tuple[int, int, int]:
    return (
        db.scalar(select(func.count()).select_from(Artisan)) or 0,
        db.scalar(select(func.count()).select_from(PhoneLink)) or 0,
        db.scalar(select(func.count()).select_from(PaymentReference)) or 0,
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_identification_takes_an_injection_as_a_wrong_cin(dial: type[Dialer], demo: Session, payload: str) -> None:
    before = counts(demo)
    phone = dial("+212600000009")
    phone.start()
    phone.send("1")
    answer = phone.send(payload)
    assert answer.startswith("CON ")  # asked again, politely: not a CIN, so no year of birth
    assert Translator("ar")("Enter your year of birth (e.g. 1980):") not in answer
    assert counts(demo) == before


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_partner_api_refuses_injections_in_path_and_body(
    client: FlaskClient, demo: Session, settings: Settings, clock: FrozenClock, payload: str
) -> None:
    wafacash: Partner = partner_for(client, demo, settings, clock, "wafacash counters", "wafacash")
    youssef = demo.scalar(select(Artisan.id).where(Artisan.phone == "+212600000002"))
    assert youssef is not None
    reference = new_reference(demo, settings, clock, youssef, "wafacash")
    before = counts(demo)
    path = "/api/v1/references/" + payload
    sent = path.replace(" ", "%20").replace("#", "%23").replace('"', "%22")  # signed as sent, quoted
    looked_up = wafacash.send("GET", sent, b"", wafacash.headers("GET", sent, b""))
    assert looked_up.status_code in {400, 404, 422} and error_of(looked_up)
    for field in ("reference", "network_txn_id", "agent_code"):
        response = wafacash.post("/api/v1/payments", payment(reference) | {field: payload})
        assert response.status_code in {400, 422}, (field, response.get_data(as_text=True))
        assert error_of(response) in {"invalid_field", "invalid_reference"}
    assert counts(demo) == before


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_dashboard_login_refuses_injections(client: FlaskClient, demo: Session, payload: str) -> None:
    token = csrf(client.get("/ops/login").get_data(as_text=True))
    response = client.post("/ops/login", data={"username": payload, "password": payload, "csrf_token": token})
    assert response.status_code == 401
    assert client.get("/ops/").status_code == 302
