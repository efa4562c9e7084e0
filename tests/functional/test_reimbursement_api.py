"""`PUT /api/v1/reimbursements/{claim_number}` over the Flask client: signed requests from
the reimbursement feed's key, real PostgreSQL and Redis, the demo artisans (Aicha,
+212600000003, reads French) and a frozen clock (2026-11-24 10:00 UTC)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.config import Settings
from gateway.partners.keys import create_key
from gateway.partners.signing import signed_headers
from models import OutboxMessage, ReimbursementClaim
from tests.helpers import FrozenClock

MISSING = object()  # a field left out of a request
PATH = "/api/v1/reimbursements/CLM-2026-0042"


@dataclasses.dataclass
class Feed:
    """A partner's system: signs each request with its key, at the app's clock."""

    client: FlaskClient
    key_id: str
    secret: str
    clock: FrozenClock

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        stamp = int(self.clock().timestamp())
        return signed_headers(method, path, body, self.key_id, self.secret, timestamp=stamp)

    def put(self, path: str, payload: dict[str, Any] | bytes) -> TestResponse:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {**self.headers("PUT", path, body), "Content-Type": "application/json"}
        return self.client.put(path, data=body, headers=headers)


def partner(client: FlaskClient, db: Session, settings: Settings, clock: FrozenClock, network: str | None) -> Feed:
    key, secret = create_key(
        db, name=f"key {network}", network=network, reimbursements=network is None, settings=settings, clock=clock
    )
    db.commit()
    return Feed(client, key.key_id, secret, clock)


@pytest.fixture
def feed(client: FlaskClient, demo: Session, settings: Settings, clock: FrozenClock) -> Feed:
    return partner(client, demo, settings, clock, None)


def claim(**changes: Any) -> dict[str, Any]:
    body = {"cin": "JK456789", "amount_centimes": 32050, "status": "received"} | changes
    return {name: value for name, value in body.items() if value is not MISSING}


def error_of(response: TestResponse) -> str:
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return str(body["error"]["code"])


def claims(db: Session) -> list[ReimbursementClaim]:
    db.expire_all()
    return list(db.scalars(select(ReimbursementClaim).where(ReimbursementClaim.claim_number.not_like("DEMO-%"))))


def claim_sms(db: Session) -> list[str]:
    query = select(OutboxMessage.template).where(OutboxMessage.template.startswith("claim_")).order_by(OutboxMessage.id)
    return list(db.scalars(query))


def test_a_new_claim_is_created_and_the_artisan_told(feed: Feed, demo: Session) -> None:
    response = feed.put(PATH, claim())
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json() == {
        "claim_number": "CLM-2026-0042",
        "status": "received",
        "amount_centimes": 32050,
        "currency": "MAD",
        "network": None,
        "pick_up_code": None,
        "available_until": None,
        "reason": None,
        "status_changed_at": "2026-11-24T10:00:00Z",
    }
    [row] = claims(demo)
    assert (row.claim_number, row.status, row.amount_centimes) == ("CLM-2026-0042", "received", 32050)
    [message] = demo.scalars(select(OutboxMessage).where(OutboxMessage.template == "claim_received"))
    assert (message.recipient, message.language, message.subject) == ("+212600000003", "fr", f"claim:{row.id}")


def test_updates_answer_200_and_only_a_new_status_sends_an_sms(feed: Feed, demo: Session, clock: FrozenClock) -> None:
    assert feed.put(PATH, claim()).status_code == 201
    clock.advance(seconds=1)
    same = feed.put(PATH, claim())
    assert same.status_code == 200 and same.get_json()["status_changed_at"] == "2026-11-24T10:00:00Z"
    clock.advance(seconds=2)
    ready = claim(status="available", network="fellah_cash", pick_up_code="FC-1234-5678", available_until="2026-12-08")
    response = feed.put(PATH, ready)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["status"], body["network"], body["pick_up_code"], body["available_until"]) == (
        "available",
        "fellah_cash",
        "FC-1234-5678",
        "2026-12-08",
    )
    assert body["status_changed_at"] == "2026-11-24T10:00:03Z"
    assert feed.put(PATH, ready).status_code == 200
    assert feed.put(PATH, claim(status="paid_out", cin=None, cnss_number="1000000003")).status_code == 200
    assert claim_sms(demo) == ["claim_received", "claim_available", "claim_paid_out"]
    [row] = claims(demo)
    assert (row.status, row.network, row.pick_up_code) == ("paid_out", None, None)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_json"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"amount_centimes": NaN, "status": "received", "cin": "JK456789"}', "invalid_json"),
        (b'{"amount_centimes": 32050, "status": "received", "cin": "JK456789", "cin": "AB123456"}', "duplicate_key"),
        (
            b'{"amount_centimes": 32050, "status": "received", "cin": "JK456789", "x": {"k": 1, "k": 1}}',
            "duplicate_key",
        ),
        (claim(status=MISSING), "invalid_field"),
        (claim(amount_centimes=MISSING), "invalid_field"),
        (claim(cin=MISSING), "invalid_field"),
        (claim(cin=None), "invalid_field"),
        (claim(unexpected=1), "invalid_field"),
        (claim(cin="JK 456789"), "invalid_field"),
        (claim(cin=12345), "invalid_field"),
        (claim(cnss_number=1000000003), "invalid_field"),
        (claim(amount_centimes="32050"), "invalid_field"),
        (claim(amount_centimes=320.5), "invalid_field"),
        (claim(amount_centimes=True), "invalid_field"),
        (claim(amount_centimes=-1), "invalid_field"),
        (claim(amount_centimes=2**31), "invalid_field"),
        (claim(status="lost"), "invalid_field"),
        (claim(status=["received"]), "invalid_field"),
        (claim(network="western_union"), "invalid_field"),
        (claim(pick_up_code="X" * 33), "invalid_field"),
        (claim(available_until="08/12/2026"), "invalid_field"),
        (claim(available_until="2026-02-30"), "invalid_field"),
        (claim(available_until="2026-12-08T00:00:00Z"), "invalid_field"),
        (claim(reason=""), "invalid_field"),
        (claim(reason="R" * 256), "invalid_field"),
        (claim(reason="nul\x00byte"), "invalid_field"),
    ],
)
def test_malformed_claims_are_bad_requests(feed: Feed, demo: Session, body: dict[str, Any] | bytes, code: str) -> None:
    response = feed.put(PATH, body)
    assert (response.status_code, error_of(response)) == (400, code)
    assert claims(demo) == [] and claim_sms(demo) == []


@pytest.mark.parametrize("number", ["-CLM", "C" * 41, "CLM,1", "CLM 1", "رقم"])
def test_a_malformed_claim_number_is_a_bad_request(feed: Feed, demo: Session, number: str) -> None:
    response = feed.put(f"/api/v1/reimbursements/{number}", claim())
    assert (response.status_code, error_of(response)) == (400, "invalid_field")
    assert claims(demo) == []


@pytest.mark.parametrize(
    "body",
    [
        claim(status="available"),
        claim(status="available", network="wafacash", pick_up_code="WF-1"),
        claim(status="available", network="wafacash", pick_up_code="WF-1", available_until="2026-11-23"),
        claim(status="rejected"),
    ],
)
def test_inconsistent_claims_are_unprocessable(feed: Feed, demo: Session, body: dict[str, Any]) -> None:
    response = feed.put(PATH, body)
    assert (response.status_code, error_of(response)) == (422, "inconsistent_fields")
    assert claims(demo) == [] and claim_sms(demo) == []


def test_an_unknown_artisan_is_not_found(feed: Feed, demo: Session) -> None:
    for body in (claim(cin="ZZ999999"), claim(cin=None, cnss_number="42"), claim(cnss_number="1000000001")):
        response = feed.put(PATH, body)
        assert (response.status_code, error_of(response)) == (404, "artisan_not_found")
    assert claims(demo) == []


def test_a_claim_cannot_move_to_another_artisan(feed: Feed, demo: Session) -> None:
    assert feed.put(PATH, claim()).status_code == 201
    response = feed.put(PATH, claim(cin="CD234567", status="approved"))
    assert (response.status_code, error_of(response)) == (409, "claim_artisan_mismatch")
    assert [row.status for row in claims(demo)] == ["received"] and claim_sms(demo) == ["claim_received"]


@pytest.mark.parametrize("network", ["wafacash", "fellah_cash"])
def test_a_cash_networks_key_is_refused(
    client: FlaskClient, demo: Session, settings: Settings, clock: FrozenClock, network: str
) -> None:
    counter = partner(client, demo, settings, clock, network)
    response = counter.put(PATH, claim())
    assert (response.status_code, error_of(response)) == (403, "wrong_partner")
    assert claims(demo) == []


def test_unsigned_and_badly_signed_requests_are_refused(client: FlaskClient, feed: Feed, demo: Session) -> None:
    body = json.dumps(claim()).encode()
    unsigned = client.put(PATH, data=body, headers={"Content-Type": "application/json"})
    assert (unsigned.status_code, error_of(unsigned)) == (401, "missing_signature")
    headers = feed.headers("PUT", PATH, body)
    tampered = client.put(PATH, data=json.dumps(claim(amount_centimes=1)).encode(), headers=headers)
    assert (tampered.status_code, error_of(tampered)) == (401, "bad_signature")
    other_path = client.put("/api/v1/reimbursements/CLM-2026-0043", data=body, headers=headers)
    assert (other_path.status_code, error_of(other_path)) == (401, "bad_signature")
    assert client.put(PATH, data=body, headers=headers).status_code == 201
    replayed = client.put(PATH, data=body, headers=headers)
    assert (replayed.status_code, error_of(replayed)) == (401, "replayed")
    assert demo.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_other_methods_are_refused_as_json(feed: Feed) -> None:
    body = b""
    response = feed.client.get(PATH, headers=feed.headers("GET", PATH, body))
    assert (response.status_code, error_of(response)) == (405, "method_not_allowed")
