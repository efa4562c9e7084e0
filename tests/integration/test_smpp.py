"""SMS over SMPP against a third-party SMSC (the npm package `smpp`, tests/smsc/server.js)
over real sockets, with real PostgreSQL and Redis: `flask smpp run`'s SmppProcess in a thread."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError

from gateway import create_app
from gateway.config import Settings
from gateway.db import EXTENSION as db_extension
from gateway.db import get_db
from gateway.demo import load_demo
from gateway.smpp_app import app_smpp_process
from gateway.sms.interfaces import SendResult, SendStatus
from gateway.sms.outbox import queue_sms
from gateway.sms.service import claim_outbox_rows
from gateway.sms.smpp import SmppConnection
from gateway.sms.smpp_process import SmppProcess, serve_metrics
from gateway.sms_app import app_session, dispatcher_of, sweep_app
from models import Artisan, OutboxMessage, OutboxPart, PaymentReference
from tests.conftest import create_database, dispose, drop_database
from tests.smsc.fixture import PASSWORD, SYSTEM_ID, Smsc, free_port, smsc

__all__ = ["smsc"]

# 100 Arabic letters: more than one UCS-2 SMS (70), less than two parts (2 x 67).
ARABIC = "مرجع الأداء الخاص بكم هو 12345678، صالح لمدة ثلاثة أيام لدى وكالات الأداء المعتمدة شكرا لكم"


@pytest.fixture(scope="module")
def smpp_app(settings: Settings, smsc: Smsc) -> Iterator[Flask]:
    url = create_database("hirfa_smpp")
    own = dataclasses.replace(
        settings,
        database_url=url,
        sms_backend="smpp",
        sms_quiet_hours="",
        sms_retry_base_seconds=1,
        smpp_host="127.0.0.1",
        smpp_port=smsc.port,
        smpp_system_id=SYSTEM_ID,
        smpp_password=PASSWORD,
        smpp_source_addr="HIRFA",
        smpp_window=10,
        smpp_max_per_second=1000,
    )
    app = create_app(own)
    app.extensions["hirfa"].redis.delete(f"{own.redis_prefix}sms:smpp:ids")
    with app.app_context():
        session = get_db()
        now = dt.datetime.now(dt.UTC)
        load_demo(session, clock=lambda: now)
        session.commit()
    try:
        yield app
    finally:
        dispose(app)
        drop_database(url)


@pytest.fixture(scope="module")
def running(smpp_app: Flask) -> Iterator[SmppProcess]:
    process = app_smpp_process(smpp_app)
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    assert process.connection.wait_bound(10)
    yield process
    process.stop()
    thread.join(10)


def queue(app: Flask, body: str, recipient: str = "+212600000001") -> int:
    with app.app_context():
        db = get_db()
        row = queue_sms(db, recipient=recipient, language="ar", template="sms_stopped", urgent=True)
        row.body = body
        db.commit()
        return row.id


def row_of(app: Flask, outbox_id: int) -> OutboxMessage:
    with app.app_context():
        row = get_db().get(OutboxMessage, outbox_id)
        assert row is not None
        return row


def state_of(app: Flask, outbox_id: int) -> tuple[str, int]:
    row = row_of(app, outbox_id)
    return row.state, row.attempts


def wait_for(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_arabic_two_segment_sms_arrives_as_two_ucs2_parts_with_one_reference(
    smpp_app: Flask, running: SmppProcess, smsc: Smsc
) -> None:
    outbox_id = queue(smpp_app, ARABIC)
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "sent")
    parts = [p for p in smsc.pdus("submit") if p["destination_addr"] == "212600000001" and p["data_coding"] == 8]
    parts = parts[-2:]
    assert len(parts) == 2
    assert all(p["esm_class"] & 0x40 and p["source_addr"] == "HIRFA" and p["source_addr_ton"] == 5 for p in parts)
    headers = [bytes.fromhex(p["udh"][0]) for p in parts]
    # IEI 00 (concatenation, 8-bit reference), length 3: reference, total, index.
    assert [h[:2] for h in headers] == [b"\x00\x03", b"\x00\x03"]
    assert headers[0][2] == headers[1][2]
    assert [(h[3], h[4]) for h in headers] == [(2, 1), (2, 2)]
    text = "".join(
        bytes.fromhex(p["message"]).decode("utf-16-be") if _is_hex(p["message"]) else p["message"] for p in parts
    )
    assert text == ARABIC
    assert row_of(smpp_app, outbox_id).provider_message_id.startswith("smsc-")


def _is_hex(value: str) -> bool:
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def test_a_latin_sms_goes_as_gsm7(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    outbox_id = queue(smpp_app, "Votre reference: 12345678", recipient="+212600000002")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "sent")
    last = [p for p in smsc.pdus("submit") if p["destination_addr"] == "212600000002"][-1]
    assert (last["data_coding"], last["esm_class"], last["udh"]) == (0, 0, [])


def test_a_receipt_marks_the_row_delivered(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    outbox_id = queue(smpp_app, "Recu")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "sent")
    message_id = row_of(smpp_app, outbox_id).provider_message_id
    smsc.call(f"/receipt?id={message_id}&stat=DELIVRD")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "delivered")
    assert row_of(smpp_app, outbox_id).provider_status == "DELIVRD"
    other = queue(smpp_app, "Perdu")
    wait_for(lambda: row_of(smpp_app, other).state == "sent")
    smsc.call(f"/receipt?id={row_of(smpp_app, other).provider_message_id}&stat=UNDELIV")
    wait_for(lambda: row_of(smpp_app, other).state == "failed")
    assert row_of(smpp_app, other).failure_reason.startswith("UNDELIV")


def test_a_throttled_submit_is_retried_then_delivered(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    smsc.call("/throttle?n=1")
    outbox_id = queue(smpp_app, "Encore")
    # One read per check: two reads could see `pending` before the claim and `attempts == 1` after it.
    wait_for(lambda: state_of(smpp_app, outbox_id) == ("pending", 1))
    row = row_of(smpp_app, outbox_id)
    assert (row.failure_reason, row.provider_status) == ("ESME_RTHROTTLED", "ESME_RTHROTTLED"), (
        row.state,
        row.attempts,
        row.failure_reason,
        row.provider_status,
    )
    assert not row.possible_duplicate
    # The retry comes due (SMS_RETRY_BASE_SECONDS=1): the clock's sweep pushes it again
    # (swept until it goes: on a busy machine the first sweep may still find it not due).
    time.sleep(1.1)

    def swept_and_sent() -> bool:
        sweep_app(smpp_app)
        time.sleep(0.2)
        return row_of(smpp_app, outbox_id).state == "sent"

    wait_for(swept_and_sent)
    assert row_of(smpp_app, outbox_id).attempts == 2
    smsc.call(f"/receipt?id={row_of(smpp_app, outbox_id).provider_message_id}&stat=DELIVRD")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "delivered")


def test_an_invalid_destination_is_final(smpp_app: Flask, running: SmppProcess) -> None:
    from gateway.sms.interfaces import SendStatus  # noqa: PLC0415
    from gateway.sms.smpp import classify, status_name  # noqa: PLC0415

    assert (classify(0x0B), status_name(0x0B)) == (SendStatus.FAILED, "ESME_RINVDSTADR")
    assert {classify(s) for s in (0x58, 0x14, 0x08)} == {SendStatus.RETRY}


def test_stop_over_smpp_opts_out(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    phone = "+212600000003"
    assert smsc.call("/deliver?from=212600000003&text=STOP")["sessions"] == 1
    wait_for(lambda: _opted_out(smpp_app, phone))
    smsc.call("/deliver?from=212600000003&text=START")
    wait_for(lambda: not _opted_out(smpp_app, phone))
    smsc.call("/deliver?from=212600000003&text=%D8%AA%D9%88%D9%82%D9%81")  # توقف, UCS-2
    wait_for(lambda: _opted_out(smpp_app, phone))
    with smpp_app.app_context():
        get_db().execute(update(Artisan).where(Artisan.phone == phone).values(sms_opt_out=False))
        get_db().commit()


def _opted_out(app: Flask, phone: str) -> bool:
    with app.app_context():
        return bool(get_db().scalar(select(Artisan.sms_opt_out).where(Artisan.phone == phone)))


def test_a_wrong_password_is_refused_and_logged_once(smsc: Smsc, caplog: pytest.LogCaptureFixture) -> None:
    connection = SmppConnection(
        host="127.0.0.1",
        port=smsc.port,
        system_id=SYSTEM_ID,
        password="wrong",
        on_deliver=lambda _pdu: 0,
        bind_retry_seconds=0.2,
    )
    thread = threading.Thread(target=connection.run, daemon=True)
    with caplog.at_level(logging.ERROR, logger="gateway.sms.smpp"):
        thread.start()
        wait_for(lambda: len([p for p in smsc.pdus("bind") if not p["accepted"]]) >= 3)
        connection.stop()
        thread.join(5)
    refusals = [r for r in caplog.records if r.getMessage() == "smpp bind refused"]
    assert len(refusals) == 1
    assert refusals[0].status == "ESME_RBINDFAIL"  # type: ignore[attr-defined]
    assert not connection.liveness.bound
    assert connection.liveness.last_error == "bind refused: ESME_RBINDFAIL"


def test_liveness_on_the_process_own_metrics(running: SmppProcess) -> None:
    port = free_port()
    serve_metrics(running.connection, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    assert "hirfa_smpp_bound 1.0" in text
    assert "hirfa_smpp_window 10.0" in text
    assert "hirfa_smpp_window_in_use 0.0" in text
    assert 'hirfa_smpp_last_error_info{error=""} 1.0' in text


def test_an_idle_link_sends_enquire_link(smsc: Smsc) -> None:
    before = len(smsc.pdus("enquire_link"))
    connection = SmppConnection(
        host="127.0.0.1",
        port=smsc.port,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        on_deliver=lambda _pdu: 0,
        enquire_link_seconds=0.2,
    )
    thread = threading.Thread(target=connection.run, daemon=True)
    thread.start()
    try:
        assert connection.wait_bound(5)
        wait_for(lambda: len(smsc.pdus("enquire_link")) >= before + 2)
        assert connection.liveness.bound
    finally:
        connection.stop()
        thread.join(5)


def test_flask_smpp_run_refuses_to_start_without_its_settings(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["smpp", "run"])
    assert result.exit_code == 1
    assert "SMPP_HOST, SMPP_SYSTEM_ID, SMPP_PASSWORD, SMPP_SOURCE_ADDR" in result.output


# USSD over SMPP ------------------------------------------------------------------------

YOUSSEF = "212600000002"
REFERENCE = re.compile(r"\b(\d{3})-(\d{3})-(\d{4})\b")


def ussd_answers(smsc: Smsc, phone: str) -> list[dict[str, Any]]:
    return [p for p in smsc.pdus("submit") if p.get("ussd_service_op") is not None and p["destination_addr"] == phone]


def ussd_text(pdu: dict[str, Any]) -> str:
    text: str = pdu["message"]  # the SMSC decodes GSM-7 and UCS-2 (data_coding) itself
    return text


def ussd(smsc: Smsc, text: str, *, session: int, turn: int, op: int) -> dict[str, Any]:
    """One indication from Youssef; the submit_sm that answers it."""
    before = len(ussd_answers(smsc, YOUSSEF))
    info = f"{session:02x}{turn << 1:02x}"
    query = urllib.parse.urlencode({"from": YOUSSEF, "text": text, "op": op, "session": info})
    assert smsc.call(f"/ussd?{query}")["sessions"] == 1
    wait_for(lambda: len(ussd_answers(smsc, YOUSSEF)) > before)
    answer = ussd_answers(smsc, YOUSSEF)[-1]
    assert answer["its_session_info"] == info  # echoed
    return answer


def references_of(app: Flask, phone: str) -> list[str]:
    with app.app_context():
        db = get_db()
        artisan = db.scalar(select(Artisan).where(Artisan.phone == phone))
        assert artisan is not None
        return list(db.scalars(select(PaymentReference.reference).where(PaymentReference.artisan_id == artisan.id)))


def test_smpplib_parses_a_deliver_sm_with_ussd_service_op(smpp_app: Flask, smsc: Smsc) -> None:
    seen: list[Any] = []
    connection = SmppConnection(
        host="127.0.0.1",
        port=smsc.port,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        on_deliver=lambda pdu: seen.append(pdu) or 0,
    )
    thread = threading.Thread(target=connection.run, daemon=True)
    thread.start()
    try:
        assert connection.wait_bound(10)
        smsc.call("/ussd?from=212600000009&text=%2A4242%23&op=1&session=0700")
        wait_for(lambda: bool(seen))
        assert (seen[0].ussd_service_op, seen[0].its_session_info, seen[0].short_message) == (1, 0x0700, b"*4242#")
    finally:
        connection.stop()
        thread.join(10)


def test_a_four_hop_ussd_session_over_smpp_reaches_a_payment_reference(
    smpp_app: Flask, running: SmppProcess, smsc: Smsc
) -> None:
    before = references_of(smpp_app, "+212600000002")
    first = ussd(smsc, "*4242#", session=3, turn=0, op=1)
    assert first["ussd_service_op"] == 2  # USSR request: the screen waits
    # Arabic (the caller's language) as UCS-2, within the 80-character budget.
    assert first["data_coding"] == 8 and len(ussd_text(first)) <= 80
    answers = [ussd(smsc, key, session=3, turn=turn, op=18) for turn, key in enumerate(["2", "1", "1"], start=1)]
    assert [a["ussd_service_op"] for a in answers] == [2, 2, 2]
    last = ussd(smsc, "1", session=3, turn=4, op=1)  # some SMSCs send op 1 again: accepted
    assert last["ussd_service_op"] in (2, 17), ussd_text(last)  # the menu decides whether it is the last screen
    found = REFERENCE.search(ussd_text(last))
    assert found is not None, ussd_text(last)
    created = set(references_of(smpp_app, "+212600000002")) - set(before)
    assert created == {"".join(found.groups())}
    # The SMSC delivers the last deliver_sm again: the same screen, nothing created twice.
    again = ussd(smsc, "1", session=3, turn=4, op=18)
    assert (again["ussd_service_op"], ussd_text(again)) == (last["ussd_service_op"], ussd_text(last))
    assert set(references_of(smpp_app, "+212600000002")) - set(before) == created


def test_a_retransmitted_ussd_answer_gets_the_same_screen(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    ussd(smsc, "*4242#", session=9, turn=0, op=1)
    once = ussd(smsc, "2", session=9, turn=1, op=18)
    twice = ussd(smsc, "2", session=9, turn=1, op=18)
    assert ussd_text(once) == ussd_text(twice)
    # The same key on the next turn is a new answer, not a retry.
    third = ussd(smsc, "2", session=9, turn=2, op=18)
    assert ussd_text(third) != ussd_text(twice)


# The outbox through the SMPP process: claims and results in batches ----------------------


def test_the_outbox_claims_and_records_rows_in_batches(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    engine = smpp_app.extensions[db_extension].kw["bind"]
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        ids = queue_many(smpp_app, "+212600000004", 200)
        wait_for(lambda: _count(smpp_app, ids, "sent") == 200, seconds=60)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    claims = [s for s in statements if s.startswith("UPDATE sms_outbox SET state") and "attempts + " in s]
    records = [s for s in statements if s.startswith("SELECT sms_outbox.id") and "FOR UPDATE" in s]
    # Row by row it took 200 claims and 200 locked reads for the results; a claim takes up
    # to SMPP_WINDOW x 2 = 20 rows, a record what came in meanwhile.
    assert len(claims) <= 40, len(claims)
    assert len(records) <= 100, len(records)
    with smpp_app.app_context():
        attempts = get_db().scalars(select(OutboxMessage.attempts).where(OutboxMessage.id.in_(ids))).all()
    assert set(attempts) == {1}  # each claimed once, sent once
    assert len([p for p in smsc.pdus("submit") if p["destination_addr"] == "212600000004"]) == 200


def queue_many(app: Flask, recipient: str, count: int) -> list[int]:
    """`count` urgent SMS to `recipient`, committed at once; their ids."""
    with app.app_context():
        session = get_db()
        rows = [
            queue_sms(session, recipient=recipient, language="fr", template="sms_stopped", urgent=True)
            for _ in range(count)
        ]
        session.commit()
        return [row.id for row in rows]


def _count(app: Flask, ids: list[int], state: str) -> int:
    with app.app_context():
        found = get_db().scalar(select(func.count()).where(OutboxMessage.id.in_(ids), OutboxMessage.state == state))
        return int(found or 0)


def test_two_claims_of_the_same_ids_claim_each_row_once(committed_app: Flask) -> None:
    """SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL; on SQLite (no row locks) the UPDATE
    checks `pending` again and RETURNING says which rows it took."""
    settings = committed_app.extensions["hirfa"].settings
    ids = queue_many(committed_app, "+212600000001", 60)
    # On PostgreSQL the commit queued RQ jobs on this run's queue: their ids (one per row
    # id) would pass for live jobs of later tests' rows.
    sms = dispatcher_of(committed_app)
    jobs = Job.fetch_many([sms.job_id(i) for i in ids], connection=sms.redis, serializer=JSONSerializer)
    for job in jobs:
        if job is not None:
            job.delete()
    with committed_app.app_context():
        session = get_db()
        # The embedded default sends console SMS right after the commit: pending again.
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(state="pending", attempts=0))
        session.commit()
    claimed: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def claim() -> None:
        start.wait()
        for _ in range(5):
            try:
                with committed_app.app_context():
                    found = claim_outbox_rows(
                        db_session=get_db(),
                        settings=settings,
                        now=dt.datetime.now(dt.UTC),
                        outbox_ids=ids,
                        skip_locked=True,
                    )
                claimed.append([row.id for row in found.claimed])
            except OperationalError as error:  # SQLite: "database is locked", nothing claimed
                errors.append(error)

    threads = [threading.Thread(target=claim) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [row_id for batch in claimed for row_id in batch]
    assert sorted(every) == sorted(ids), (len(every), errors)
    with committed_app.app_context():
        rows = get_db().execute(select(OutboxMessage.state, OutboxMessage.attempts).where(OutboxMessage.id.in_(ids)))
        assert set(rows) == {("sending", 1)}


# Receipts of a message in two parts -------------------------------------------------------


def part_ids(app: Flask, outbox_id: int) -> list[str]:
    with app.app_context():
        found = get_db().scalars(
            select(OutboxPart.provider_message_id).where(OutboxPart.outbox_id == outbox_id).order_by(OutboxPart.part)
        )
        return list(found)


def test_a_two_part_sms_is_delivered_once_both_parts_are(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    outbox_id = queue(smpp_app, ARABIC, recipient="+212600000005")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "sent")
    first, second = part_ids(smpp_app, outbox_id)
    # The SMSC's ids of the two submit_sm, in order; the first names the row, as before.
    assert row_of(smpp_app, outbox_id).provider_message_id == first
    assert int(second.removeprefix("smsc-")) > int(first.removeprefix("smsc-"))
    smsc.call(f"/receipt?id={second}&stat=DELIVRD")  # the later part's receipt first
    wait_for(lambda: row_of(smpp_app, outbox_id).provider_status == "DELIVRD 1/2")
    assert row_of(smpp_app, outbox_id).state == "sent"
    smsc.call(f"/receipt?id={second}&stat=DELIVRD")  # again: still one part of two
    smsc.call(f"/receipt?id={first}&stat=DELIVRD")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "delivered")
    assert row_of(smpp_app, outbox_id).provider_status == "DELIVRD"


def test_a_two_part_sms_fails_when_one_part_fails(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    outbox_id = queue(smpp_app, ARABIC, recipient="+212600000005")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "sent")
    first, second = part_ids(smpp_app, outbox_id)
    smsc.call(f"/receipt?id={first}&stat=DELIVRD")
    wait_for(lambda: row_of(smpp_app, outbox_id).provider_status == "DELIVRD 1/2")
    smsc.call(f"/receipt?id={second}&stat=UNDELIV")
    wait_for(lambda: row_of(smpp_app, outbox_id).state == "failed")
    assert row_of(smpp_app, outbox_id).failure_reason.startswith("UNDELIV")


# Incoming SMS redelivered -----------------------------------------------------------------


def confirmations(app: Flask, phone: str) -> list[str]:
    with app.app_context():
        found = get_db().scalars(
            select(OutboxMessage.template)
            .where(OutboxMessage.recipient == phone, OutboxMessage.subject.like("inbound:smpp-%"))
            .order_by(OutboxMessage.id)
        )
        return list(found)


def test_a_redelivered_incoming_sms_is_taken_once(smpp_app: Flask, running: SmppProcess, smsc: Smsc) -> None:
    phone = "+212600000001"
    before = confirmations(smpp_app, phone)
    smsc.call("/deliver?from=212600000001&text=STOP")
    wait_for(lambda: len(confirmations(smpp_app, phone)) == len(before) + 1)
    # The SMSC delivers the same deliver_sm again (a new sequence number): taken once.
    answered = len(smsc.pdus("deliver_sm_resp"))
    smsc.call("/deliver?from=212600000001&text=STOP")
    wait_for(lambda: len(smsc.pdus("deliver_sm_resp")) > answered)  # handled (committed) before its answer
    assert confirmations(smpp_app, phone)[len(before) :] == ["sms_stopped"]
    # START, then STOP again: new messages, each confirmed.
    smsc.call("/deliver?from=212600000001&text=START")
    wait_for(lambda: len(confirmations(smpp_app, phone)) == len(before) + 2)
    smsc.call("/deliver?from=212600000001&text=STOP")
    wait_for(lambda: len(confirmations(smpp_app, phone)) == len(before) + 3)
    assert confirmations(smpp_app, phone)[len(before) :] == ["sms_stopped", "sms_started", "sms_stopped"]
    assert _opted_out(smpp_app, phone)
    with smpp_app.app_context():
        get_db().execute(update(Artisan).where(Artisan.phone == phone).values(sms_opt_out=False))
        get_db().commit()


# USSD answers: their source address, and the answer window ------------------------------


def test_ussd_answers_come_from_the_service_number_or_the_dialed_code(
    smpp_app: Flask, running: SmppProcess, smsc: Smsc
) -> None:
    assert running.settings.smpp_service_number == ""
    query = urllib.parse.urlencode({"from": YOUSSEF, "to": "4243", "text": "*4242#", "op": 1, "session": "2000"})
    before = len(ussd_answers(smsc, YOUSSEF))
    smsc.call(f"/ussd?{query}")
    wait_for(lambda: len(ussd_answers(smsc, YOUSSEF)) > before)
    assert ussd_answers(smsc, YOUSSEF)[-1]["source_addr"] == "4243"  # the code the caller reached
    settings = running.settings
    running.settings = dataclasses.replace(settings, smpp_service_number="4242")
    try:
        answer = ussd(smsc, "*4242#", session=0x21, turn=0, op=1)  # sent to 4242 by default
        assert answer["source_addr"] == "4242"
        query = urllib.parse.urlencode({"from": YOUSSEF, "to": "4243", "text": "*4242#", "op": 1, "session": "2200"})
        before = len(ussd_answers(smsc, YOUSSEF))
        smsc.call(f"/ussd?{query}")
        wait_for(lambda: len(ussd_answers(smsc, YOUSSEF)) > before)
        assert ussd_answers(smsc, YOUSSEF)[-1]["source_addr"] == "4242"  # SMPP_SERVICE_NUMBER wins
    finally:
        running.settings = settings


class SlowUssd:
    """The process's USSD handler, its screens ready `delay` seconds late for `slow` answers."""

    def __init__(self, inner: Any, slow: str, delay: float) -> None:
        self.inner, self.slow, self.delay = inner, slow, delay
        self.cut: list[str] = []

    def answer(self, indication: Any) -> Any:
        reply = self.inner.answer(indication)
        if indication.text == self.slow:
            time.sleep(self.delay)
        return reply

    def cut_off(self, indication: Any) -> None:
        self.cut.append(indication.text)
        self.inner.cut_off(indication)


def test_a_screen_ready_after_the_answer_window_is_not_sent_and_the_session_can_be_resumed(
    smpp_app: Flask, running: SmppProcess, smsc: Smsc
) -> None:
    phone = "212600000001"  # Fatima
    settings, handler = running.settings, running.ussd
    slow = SlowUssd(handler, slow="1", delay=0.6)
    running.settings = dataclasses.replace(settings, smpp_ussd_answer_seconds=0.4)
    running.ussd = slow
    try:

        def indicate(text: str, info: str, op: int) -> int:
            before = len(ussd_answers(smsc, phone))
            query = urllib.parse.urlencode({"from": phone, "text": text, "op": op, "session": info})
            smsc.call(f"/ussd?{query}")
            return before

        before = indicate("*4242#", "3000", 1)
        wait_for(lambda: len(ussd_answers(smsc, phone)) > before)
        before = indicate("2", "3002", 18)  # pay what is due
        wait_for(lambda: len(ussd_answers(smsc, phone)) > before)
        before = indicate("1", "3004", 18)  # all of it: the network choice, ready too late
        wait_for(lambda: slow.cut == ["1"])
        time.sleep(0.3)
        assert len(ussd_answers(smsc, phone)) == before  # nothing sent past the window
    finally:
        running.settings, running.ussd = settings, handler
    # The next dial offers to take the session up where it was cut off.
    offer = ussd_answers_after(smsc, phone, "*4242#", "3100", 1)
    assert offer["ussd_service_op"] == 2
    assert "المتابعة من حيث توقفت" in ussd_text(offer), ussd_text(offer)
    resumed = ussd_answers_after(smsc, phone, "1", "3102", 18)
    assert "1 وفاكاش" in ussd_text(resumed), ussd_text(resumed)  # the network choice, where it was cut off


def ussd_answers_after(smsc: Smsc, phone: str, text: str, info: str, op: int) -> dict[str, Any]:
    before = len(ussd_answers(smsc, phone))
    query = urllib.parse.urlencode({"from": phone, "text": text, "op": op, "session": info})
    smsc.call(f"/ussd?{query}")
    wait_for(lambda: len(ussd_answers(smsc, phone)) > before)
    return ussd_answers(smsc, phone)[-1]


def test_flask_ussd_dial_over_smpp_through_the_smsc_control_port(
    smpp_app: Flask, running: SmppProcess, smsc: Smsc
) -> None:
    control = f"http://127.0.0.1:{smsc.control}"
    result = smpp_app.test_cli_runner().invoke(
        args=["ussd", "dial", "--smsc", control, "+212600000003", "1"]  # Aicha (French): my registration
    )
    assert result.exit_code == 0, result.output
    assert f"over SMPP ({control})" in result.output
    screens = re.findall(r"^\| (.*) \|$", result.output, re.MULTILINE)
    assert any("Mon inscription" in line for line in screens), result.output
    assert "Hung up." in result.output
    assert any("Payer maintenant" in line for line in screens), result.output  # the answer `1` went through


def test_results_are_recorded_again_when_the_database_fails_once(smpp_app: Flask) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with smpp_app.app_context():
        session = get_db()
        row = queue_sms(session, recipient="+212600000006", language="fr", template="sms_stopped", urgent=True)
        row.next_attempt_at = later  # not for the running SMPP process: claimed here
        session.commit()
        outbox_id = row.id
        claim = claim_outbox_rows(
            db_session=session, settings=smpp_app.extensions["hirfa"].settings, now=later, outbox_ids=[outbox_id]
        )
    assert [row.id for row in claim.claimed] == [outbox_id]
    failures = [OperationalError("COMMIT", {}, Exception("server closed the connection"))]

    @contextmanager
    def flaky_session() -> Iterator[Any]:
        if failures:
            raise failures.pop()
        with app_session(smpp_app) as session:
            yield session

    process = app_smpp_process(smpp_app)
    process.open_session = flaky_session
    process._record([(outbox_id, SendResult(SendStatus.SENT, provider_message_id="smsc-x1"))])
    assert not failures
    assert (row_of(smpp_app, outbox_id).state, row_of(smpp_app, outbox_id).provider_message_id) == ("sent", "smsc-x1")
