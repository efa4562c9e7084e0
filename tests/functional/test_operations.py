"""Health, readiness, metrics and AT's end-of-session notifications."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import UssdSessionOutcome
from tests.conftest import CALLBACK_KEY
from tests.helpers import Dialer


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_metrics_count_hops_by_screen(dial: type[Dialer], client: FlaskClient) -> None:
    def hops_on(screen: str) -> float:
        for line in client.get("/metrics").get_data(as_text=True).splitlines():
            if line.startswith("hirfa_ussd_hops_total{") and f'screen="{screen}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = hops_on("status")
    phone = dial("+212600000001")
    phone.start()
    phone.send("1")
    assert hops_on("status") == before + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert "hirfa_ussd_hop_seconds_bucket" in text and "hirfa_ussd_errors_total" in text


def _event(phone: Dialer, status: str = "Incomplete") -> dict[str, str]:
    return {
        "date": "2026-11-24 10:00:05",
        "sessionId": phone.session_id,
        "serviceCode": "*4242#",
        "networkCode": "60401",
        "phoneNumber": phone.phone,
        "status": status,
        "cost": "MAD 0.00",
        "durationInMillis": "12000",
        "hopsCount": "2",
        "input": "1*JB123456",
        "lastAppResponse": "CON ...",
        "errorMessage": "",
    }


def test_end_of_session_notification_is_stored_once(dial: type[Dialer], client: FlaskClient, demo: Session) -> None:
    phone = dial("+212600000003")
    phone.start()
    phone.send("1")
    url = f"/ussd/africastalking/events?key={CALLBACK_KEY}"
    assert client.post(url, data=_event(phone)).status_code == 200
    assert client.post(url, data=_event(phone, "Failed")).status_code == 200  # repeated: updated
    rows = demo.scalars(select(UssdSessionOutcome).where(UssdSessionOutcome.session_id == phone.session_id)).all()
    assert len(rows) == 1
    outcome = rows[0]
    assert outcome.status == "Failed" and outcome.last_screen == "status" and outcome.language == "fr"
    assert outcome.duration_ms == 12000 and outcome.hops_count == 2
    assert outcome.reported_at is not None and outcome.reported_at.tzinfo is not None


def test_end_of_session_notification_needs_key_and_fields(client: FlaskClient) -> None:
    form = {"sessionId": "x1", "phoneNumber": "+212600000001", "status": "Success"}
    assert client.post("/ussd/africastalking/events?key=nope", data=form).status_code == 403
    bad = {**form, "durationInMillis": "soon"}
    assert client.post(f"/ussd/africastalking/events?key={CALLBACK_KEY}", data=bad).status_code == 400
    assert client.post(f"/ussd/africastalking/events?key={CALLBACK_KEY}", data={"sessionId": "x1"}).status_code == 400
