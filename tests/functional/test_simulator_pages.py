"""The phone simulator's page and JSON endpoints (development only), over the Flask client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models import OutboxMessage
from tests.conftest import CALLBACK_KEY
from tests.integration.test_production import SECRETS


def outbox(recipient: str, body: str, created_at: dt.datetime, state: str = "pending") -> OutboxMessage:
    return OutboxMessage(
        recipient=recipient,
        language="fr",
        template="payment_reference",
        body=body,
        segments=1,
        encoding="gsm7",
        state=state,
        created_at=created_at,
    )


def test_page_speaks_to_the_real_endpoint_with_the_callback_key(client: FlaskClient, demo: Session) -> None:
    response = client.get("/simulator")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"/ussd/africastalking?key={CALLBACK_KEY}" in page
    assert f"/ussd/africastalking/events?key={CALLBACK_KEY}" in page
    assert 'value="*4242#"' in page
    assert 'value="+212600000002"' in page and 'value="+212700000002"' in page
    for asset in ("simulator.js", "simulator.css"):
        with client.get(f"/simulator/static/{asset}") as static:
            assert static.status_code == 200, asset


def test_page_in_arabic_is_right_to_left(client: FlaskClient, demo: Session) -> None:
    page = client.get("/simulator?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page


def test_short_code_comes_from_the_settings(make_app: Callable[..., Flask], db_session: Session) -> None:
    app = make_app(ussd_service_codes=("*555#", "*4242#"))
    page = app.test_client().get("/simulator").get_data(as_text=True)
    assert 'value="*555#"' in page


def test_phones_lists_demo_artisans_and_agents(client: FlaskClient, demo: Session) -> None:
    response = client.get("/simulator/phones")
    assert response.status_code == 200
    phones = {row["phone"]: row for row in response.get_json()["phones"]}
    assert list(phones) == [
        "+212600000001",
        "+212600000002",
        "+212600000003",
        "+212600000009",
        "+212700000001",
        "+212700000002",
    ]
    assert phones["+212600000002"]["role"] == "artisan"
    assert "Youssef" in phones["+212600000002"]["labels"]["fr"]
    assert "Youssef" in phones["+212600000002"]["labels"]["ar"]
    assert phones["+212600000009"]["role"] == "unknown" and "JB123456" in phones["+212600000009"]["labels"]["fr"]
    assert phones["+212700000002"]["role"] == "agent" and "FLC-MRK-001" in phones["+212700000002"]["labels"]["fr"]
    assert "1234" in phones["+212700000002"]["labels"]["fr"]


def test_sms_of_one_phone_newest_first_in_casablanca_time(client: FlaskClient, db_session: Session) -> None:
    first = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    db_session.add_all(
        [
            outbox("+212600000002", "older", first),
            outbox("+212600000002", "newer", first + dt.timedelta(minutes=5), state="sent"),
            outbox("+212600000001", "someone else's", first + dt.timedelta(minutes=1)),
        ]
    )
    db_session.commit()
    response = client.get("/simulator/sms", query_string={"phone": "+212600000002"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["phone"] == "+212600000002"
    assert [row["body"] for row in data["messages"]] == ["newer", "older"]
    assert data["messages"][0]["state"] == "sent"
    assert data["messages"][0]["local_time"] == "24/11/2026 10:05"  # UTC+1
    assert data["messages"][1]["created_at"] == "2026-11-24T09:00:00+00:00"


def test_sms_accepts_a_number_without_its_plus(client: FlaskClient, db_session: Session) -> None:
    response = client.get("/simulator/sms", query_string={"phone": "212600000002"})
    assert response.status_code == 200
    assert response.get_json() == {"phone": "+212600000002", "messages": []}


def test_sms_refuses_a_bad_phone_in_json(client: FlaskClient) -> None:
    for query in ({"phone": "not a phone"}, {"phone": "+2"}, {}):
        response = client.get("/simulator/sms", query_string=query)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "bad_request"
        assert "phone" in response.get_json()["error"]["message"]


def test_production_serves_no_simulator(make_app: Callable[..., Flask], db_session: Session) -> None:
    production = make_app(env="production", **SECRETS)
    assert "simulator" not in production.blueprints
    client = production.test_client()
    for path in ("/simulator", "/simulator/phones", "/simulator/sms?phone=%2B212600000002"):
        assert client.get(path).status_code == 404, path
    assert CALLBACK_KEY not in client.get("/simulator").get_data(as_text=True)


SIMULATOR_PATHS = (
    "/simulator",
    "/simulator/phones",
    "/simulator/sms?phone=%2B212600000002",
    "/simulator/static/simulator.js",
)


def test_the_simulator_answers_this_machine_only(client: FlaskClient, make_app: Callable[..., Flask]) -> None:
    # The page carries the callback key and the SMS feed every phone's codes: a development
    # instance reachable from a network shows them to nobody else.
    for address, expected in (("10.0.0.5", 404), ("192.0.2.1", 404), ("2001:db8::1", 404), ("::1", 200)):
        for path in SIMULATOR_PATHS:
            with client.get(path, environ_base={"REMOTE_ADDR": address}) as response:
                assert response.status_code == expected, (address, path)
                assert CALLBACK_KEY not in response.get_data(as_text=True) or expected == 200
    for address in ("127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1"):
        assert client.get("/simulator", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    # Behind a local proxy, the client it names decides, not the proxy's own loopback address.
    proxied = make_app(trusted_proxies=1).test_client()
    assert proxied.get("/simulator", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert (
        proxied.get("/simulator/sms?phone=%2B212600000002", headers={"X-Forwarded-For": "203.0.113.9"}).status_code
        == 404
    )
    assert proxied.get("/simulator", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
