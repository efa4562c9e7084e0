"""Africa's Talking SMS callbacks over HTTP: delivery reports and incoming STOP / START."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.sms.dispatch import SmsDispatcher
from gateway.sms.outbox import queue_sms
from gateway.sms_app import EXTENSION
from models import Artisan, OutboxMessage
from tests.conftest import CALLBACK_KEY
from tests.helpers import FrozenClock

REPORTS = f"/sms/africastalking/delivery-reports?key={CALLBACK_KEY}"
INBOUND = f"/sms/africastalking/inbound?key={CALLBACK_KEY}"


@pytest.fixture(autouse=True)
def private_queue(app: Flask) -> Iterator[SmsDispatcher]:
    """Confirmations are queued on a queue of this test's own, removed afterwards."""
    original: SmsDispatcher = app.extensions[EXTENSION]
    own = dataclasses.replace(
        original, settings=dataclasses.replace(original.settings, sms_queue=f"hirfa-test-{secrets.token_hex(4)}")
    )
    app.extensions[EXTENSION] = own
    yield own
    app.extensions[EXTENSION] = original
    own.queue.delete(delete_jobs=True)


def _sent_row(db: Session, message_id: str, clock: FrozenClock) -> int:
    row = queue_sms(db, recipient="+212600000042", language="fr", template="phone_linked", code="*4242#")
    db.flush()
    row.state, row.attempts, row.provider_message_id = "sent", 1, message_id
    row.provider_status, row.sent_at = "Success", clock()
    db.commit()
    return row.id


def _row(db: Session, outbox_id: int) -> OutboxMessage:
    db.expire_all()
    row = db.get(OutboxMessage, outbox_id)
    assert row is not None
    return row


def _report(client: FlaskClient, message_id: str, status: str, **extra: str) -> tuple[int, str]:
    form = {"id": message_id, "status": status, "phoneNumber": "+212600000042", "networkCode": "60401", **extra}
    response = client.post(REPORTS, data=form)
    return response.status_code, response.get_data(as_text=True)


def test_success_marks_the_row_delivered_once(client: FlaskClient, db_session: Session, clock: FrozenClock) -> None:
    outbox_id = _sent_row(db_session, "ATXid_ok", clock)
    assert _report(client, "ATXid_ok", "Buffered") == (200, "OK")
    row = _row(db_session, outbox_id)
    assert (row.state, row.provider_status) == ("sent", "Buffered")

    clock.advance(minutes=2)
    assert _report(client, "ATXid_ok", "Success", retryCount="0") == (200, "OK")
    row = _row(db_session, outbox_id)
    assert (row.state, row.provider_status, row.delivered_at) == ("delivered", "Success", clock())
    updated = row.updated_at

    clock.advance(minutes=5)
    assert _report(client, "ATXid_ok", "Success") == (200, "OK")  # the same report again
    assert _report(client, "ATXid_ok", "Submitted") == (200, "OK")  # late and not final
    assert _report(client, "ATXid_ok", "Failed") == (200, "OK")  # cannot undo a delivery
    row = _row(db_session, outbox_id)
    assert (row.state, row.provider_status, row.delivered_at, row.updated_at) == (
        "delivered",
        "Success",
        clock() - dt.timedelta(minutes=5),
        updated,
    )


@pytest.mark.parametrize("status", ["Failed", "Rejected"])
def test_failed_and_rejected_are_final(
    client: FlaskClient, db_session: Session, clock: FrozenClock, status: str
) -> None:
    outbox_id = _sent_row(db_session, f"ATXid_{status}", clock)
    assert _report(client, f"ATXid_{status}", status, failureReason="UserIsInactive")[0] == 200
    row = _row(db_session, outbox_id)
    assert (row.state, row.provider_status, row.failure_reason) == ("failed", status, f"{status}: UserIsInactive")
    assert _report(client, f"ATXid_{status}", "Sent")[0] == 200
    assert _row(db_session, outbox_id).provider_status == status


def test_an_unknown_status_is_kept_and_logged(
    client: FlaskClient, db_session: Session, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    outbox_id = _sent_row(db_session, "ATXid_odd", clock)
    with caplog.at_level(logging.WARNING):
        assert _report(client, "ATXid_odd", "AbsentSubscriber") == (200, "OK")
    row = _row(db_session, outbox_id)
    assert (row.state, row.provider_status) == ("sent", "AbsentSubscriber")
    assert "delivery report kept aside" in caplog.text


def test_a_report_for_an_unknown_message_is_answered_200(client: FlaskClient) -> None:
    assert _report(client, "ATXid_never_sent", "Success") == (200, "OK")


@pytest.mark.parametrize(
    "form",
    [
        {"status": "Success"},
        {"id": "ATXid_x"},
        {"id": "ATXid_x", "status": "Suc cess!"},
        {"id": "x" * 200, "status": "Success"},
        {"id": "ATXid_x", "status": "Success", "retryCount": "many"},
    ],
)
def test_a_malformed_report_is_400(client: FlaskClient, form: dict[str, str]) -> None:
    response = client.post(REPORTS, data=form)
    assert response.status_code == 400 and response.content_type.startswith("text/plain")


@pytest.mark.parametrize("path", ["delivery-reports", "inbound"])
@pytest.mark.parametrize("query", ["", "?key=wrong"])
def test_callbacks_without_the_key_are_403(client: FlaskClient, path: str, query: str) -> None:
    assert client.post(f"/sms/africastalking/{path}{query}", data={"id": "x", "status": "Success"}).status_code == 403


def test_database_down_is_503_never_500(make_app: Callable[..., Flask]) -> None:
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    client = app.test_client()
    assert client.post(REPORTS, data={"id": "ATXid_x", "status": "Success"}).status_code == 503
    form = {"from": "+212600000002", "to": "4242", "text": "STOP", "id": "in-db-down", "date": "2026-11-24"}
    assert client.post(INBOUND, data=form).status_code == 503


# STOP / START ------------------------------------------------------------------------------


def _inbound(client: FlaskClient, text: str, message_id: str, phone: str = "+212600000002") -> int:
    form = {"from": phone, "to": "4242", "text": text, "date": "2026-11-24 10:00:00", "id": message_id, "linkId": ""}
    return client.post(INBOUND, data=form).status_code


def _artisan(db: Session, phone: str) -> Artisan:
    db.expire_all()
    artisan = db.scalar(select(Artisan).where(Artisan.phone == phone))
    assert artisan is not None
    return artisan


def _confirmations(db: Session, phone: str) -> list[str]:
    return list(
        db.scalars(select(OutboxMessage.template).where(OutboxMessage.recipient == phone).order_by(OutboxMessage.id))
    )


def test_stop_opts_out_and_start_opts_back_in(client: FlaskClient, demo: Session, private_queue: SmsDispatcher) -> None:
    phone = "+212600000002"
    before = _confirmations(demo, phone)
    assert _inbound(client, " stop. ", "in-1") == 200
    assert _artisan(demo, phone).sms_opt_out
    assert _inbound(client, " stop. ", "in-1") == 200  # the aggregator sent it twice
    assert _confirmations(demo, phone) == [*before, "sms_stopped"]

    assert _inbound(client, "Start", "in-2") == 200
    assert not _artisan(demo, phone).sms_opt_out
    confirmation = demo.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient == phone).order_by(OutboxMessage.id.desc()).limit(1)
    )
    assert confirmation is not None
    assert (confirmation.template, confirmation.urgent, confirmation.subject) == ("sms_started", True, "inbound:in-2")
    assert private_queue.job_id(confirmation.id) in private_queue.queue.job_ids  # queued after the commit


def test_stop_in_arabic(client: FlaskClient, demo: Session) -> None:
    assert _inbound(client, "توقف", "in-ar", phone="+212600000003") == 200
    assert _artisan(demo, "+212600000003").sms_opt_out


def test_other_texts_and_unknown_phones_change_nothing(client: FlaskClient, demo: Session) -> None:
    assert _inbound(client, "stop please", "in-3") == 200
    assert not _artisan(demo, "+212600000002").sms_opt_out
    assert _inbound(client, "STOP", "in-4", phone="+212611111111") == 200
    assert _confirmations(demo, "+212611111111") == []


@pytest.mark.parametrize(
    "form",
    [
        {"to": "4242", "text": "STOP", "id": "in-x"},
        {"from": "not a phone", "to": "4242", "text": "STOP", "id": "in-x"},
        {"from": "+212600000002", "to": "4242", "id": "in-x"},
        {"from": "+212600000002", "to": "4242", "text": "STOP"},
    ],
)
def test_a_malformed_incoming_sms_is_400(client: FlaskClient, form: dict[str, str]) -> None:
    assert client.post(INBOUND, data=form).status_code == 400
