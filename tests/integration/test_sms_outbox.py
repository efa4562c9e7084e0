"""The outbox end to end in one process: rows queued on RQ (real Redis) after commit, the
send job driving the real `africastalking` SDK against a local fake server, retries with
backoff, permanent failures, quiet hours, the sweep and the monthly reminders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from rq.job import JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.sms.dispatch import SmsDispatcher
from gateway.sms.fake_africastalking import API_KEY, FakeAfricasTalking
from gateway.sms.outbox import queue_sms
from gateway.sms.reminders import send_reminders
from gateway.sms.senders import make_sender
from gateway.sms_app import EXTENSION, app_clock, send_sms, sweep_app
from models import Artisan, OutboxMessage, PaidMonth, SmsReminder
from tests.helpers import FrozenClock

PHONE = "+212600000042"


@pytest.fixture
def fake_at() -> Iterator[FakeAfricasTalking]:
    with FakeAfricasTalking() as server:
        server.slow_seconds = 1.5
        yield server


def _dispatcher(settings: Settings, client: redis.Redis, **changes: object) -> SmsDispatcher:
    sms_settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
    return SmsDispatcher(settings=sms_settings, redis=client, sender=make_sender(sms_settings), inline=False)


@pytest.fixture
def sms(app: Flask, settings: Settings, fake_at: FakeAfricasTalking, clock: FrozenClock) -> Iterator[SmsDispatcher]:
    """The app's SMS parts, set as production sets them (Africa's Talking through the SDK),
    pointed at the fake server, on a queue of this test's own."""
    original: SmsDispatcher = app.extensions[EXTENSION]
    dispatcher = _dispatcher(
        settings,
        original.redis,
        sms_backend="africastalking",
        at_username="hirfa",
        at_api_key=API_KEY,
        at_sender_id="HIRFA",
        at_api_base_url=fake_at.base_url,
        at_timeout_seconds=0.5,
        sms_queue=f"hirfa-test-{secrets.token_hex(4)}",
    )
    app.extensions[EXTENSION] = dispatcher
    try:
        yield dispatcher
    finally:
        app.extensions[EXTENSION] = original
        dispatcher.queue.delete(delete_jobs=True)


def _queue(db: Session, *, urgent: bool = True, recipient: str = PHONE, language: str = "fr") -> OutboxMessage:
    return queue_sms(
        db,
        recipient=recipient,
        language=language,
        template="payment_receipt",
        urgent=urgent,
        receipt="WF0000000042",
        months="11/2026",
        amount="135,00 MAD",
    )


def _committed(app: Flask, db: Session, **kwargs: object) -> int:
    with app.app_context():
        row = _queue(db, **kwargs)  # type: ignore[arg-type]
        db.commit()
        return row.id


def _row(db: Session, outbox_id: int) -> OutboxMessage:
    db.expire_all()
    row = db.get(OutboxMessage, outbox_id)
    assert row is not None
    return row


def _send(app: Flask, outbox_id: int) -> str:
    with app.app_context():
        return send_sms(outbox_id)


# After commit ------------------------------------------------------------------------------


def test_a_row_is_queued_after_commit_only(app: Flask, db_session: Session, sms: SmsDispatcher) -> None:
    with app.app_context():
        row = _queue(db_session)
        db_session.flush()
        assert sms.queue.count == 0
        with db_session.begin_nested():
            nested = _queue(db_session)
        assert sms.queue.count == 0  # a SAVEPOINT released is no commit
        db_session.commit()
    assert sorted(sms.queue.job_ids) == sorted([sms.job_id(row.id), sms.job_id(nested.id)])
    job = sms.queue.fetch_job(sms.job_id(row.id))
    assert job is not None
    assert job.func_name == "gateway.sms_app.send_sms" and job.args == [row.id]
    assert job.timeout == sms.settings.sms_job_timeout_seconds and job.retries_left == 3


def test_a_rolled_back_row_is_never_queued(app: Flask, db_session: Session, sms: SmsDispatcher) -> None:
    with app.app_context():
        _queue(db_session)
        db_session.flush()
        db_session.rollback()
        db_session.commit()
    assert sms.queue.count == 0


def test_redis_down_at_commit_is_logged_and_the_sweep_queues_the_row(
    app: Flask, settings: Settings, db_session: Session, sms: SmsDispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.25)
    app.extensions[EXTENSION] = dataclasses.replace(sms, redis=down)
    with app.app_context():
        row = _queue(db_session)
        db_session.flush()
        row.created_at = app.extensions["hirfa"].clock() - dt.timedelta(minutes=5)
        outbox_id = row.id
        db_session.commit()  # does not raise
    assert "sms enqueue failed" in caplog.text
    app.extensions[EXTENSION] = sms
    assert sweep_app(app).queued >= 1
    assert sms.job_id(outbox_id) in sms.queue.job_ids
    assert sweep_app(app).queued == 0  # a live job is left alone: enqueuing twice sends once


# The send job against the fake Africa's Talking -----------------------------------------------


def test_sent_with_the_provider_message_id(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking, clock: FrozenClock
) -> None:
    outbox_id = _committed(app, db_session)
    assert _send(app, outbox_id) == "sent"
    row = _row(db_session, outbox_id)
    assert row.state == "sent" and row.attempts == 1
    assert row.provider_message_id is not None and row.provider_message_id.startswith("ATXid_")
    assert row.provider_status == "Success" and row.sent_at == clock()
    [received] = fake_at.received
    assert received.recipient == PHONE and received.sender_id == "HIRFA" and received.username == "hirfa"
    assert received.message == row.body


def test_running_the_job_twice_sends_once(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking
) -> None:
    outbox_id = _committed(app, db_session)
    assert _send(app, outbox_id) == "sent"
    assert _send(app, outbox_id) == "skipped"
    assert len(fake_at.received) == 1
    assert _send(app, 10**12) == "skipped"  # a row that never committed


def test_json_with_a_charset_comes_back_as_text_and_is_read(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking
) -> None:
    # The SDK returns a dict only for exactly `application/json`: here it hands back a string.
    raw = sms.sender._service.send("x", [PHONE])  # type: ignore[attr-defined]
    fake_at.script("charset")
    assert isinstance(sms.sender._service.send("x", [PHONE]), str)  # type: ignore[attr-defined]
    assert isinstance(raw, dict)
    fake_at.script("charset")
    outbox_id = _committed(app, db_session)
    assert _send(app, outbox_id) == "sent"
    assert (_row(db_session, outbox_id).provider_message_id or "").startswith("ATXid_")


def test_5xx_and_timeouts_are_retried_with_backoff(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking, clock: FrozenClock
) -> None:
    fake_at.script("server_error", "slow", "unauthorized", "success")
    outbox_id = _committed(app, db_session)

    assert _send(app, outbox_id) == "retry"
    row = _row(db_session, outbox_id)
    assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 1, clock() + dt.timedelta(seconds=30))
    assert row.failure_reason == "HTTP error: Internal Server Error" and not row.possible_duplicate
    assert _send(app, outbox_id) == "not_due"

    clock.advance(seconds=30)
    assert _send(app, outbox_id) == "retry"  # read timeout: it may have gone, so it is marked
    row = _row(db_session, outbox_id)
    assert (row.attempts, row.next_attempt_at) == (2, clock() + dt.timedelta(seconds=60))
    assert row.failure_reason == "read timeout" and row.possible_duplicate

    clock.advance(seconds=60)
    assert _send(app, outbox_id) == "retry"  # 401 plain text: our key; retried once fixed
    row = _row(db_session, outbox_id)
    assert row.next_attempt_at == clock() + dt.timedelta(seconds=120)
    assert row.failure_reason == "HTTP error: The supplied authentication is invalid"

    clock.advance(seconds=120)
    assert _send(app, outbox_id) == "sent"
    row = _row(db_session, outbox_id)
    assert (row.state, row.attempts, row.failure_reason) == ("sent", 4, None)
    assert len(fake_at.received) == 4


def test_retries_stop_at_the_cap(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking, clock: FrozenClock
) -> None:
    app.extensions[EXTENSION] = dataclasses.replace(
        sms, settings=dataclasses.replace(sms.settings, sms_max_attempts=3, sms_retry_max_seconds=45)
    )
    fake_at.default_mode = "server_error"
    outbox_id = _committed(app, db_session)
    waits = []
    for _ in range(2):
        assert _send(app, outbox_id) == "retry"
        row = _row(db_session, outbox_id)
        assert row.next_attempt_at is not None
        waits.append(row.next_attempt_at - clock())
        clock.now = row.next_attempt_at
    assert waits == [dt.timedelta(seconds=30), dt.timedelta(seconds=45)]  # 60 s capped at 45
    assert _send(app, outbox_id) == "failed"
    row = _row(db_session, outbox_id)
    assert row.state == "failed" and row.failure_reason == "gave up after 3 attempts: HTTP error: Internal Server Error"


@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [
        ("invalid_number", "InvalidPhoneNumber", "403 InvalidPhoneNumber"),
        ("status:406", "UserInBlacklist", "406 UserInBlacklist"),
        ("status:409", "DoNotDisturbRejection", "409 DoNotDisturbRejection"),
    ],
)
def test_a_refused_number_fails_at_once(
    app: Flask,
    db_session: Session,
    sms: SmsDispatcher,
    fake_at: FakeAfricasTalking,
    mode: str,
    status: str,
    reason: str,
) -> None:
    fake_at.script(mode)
    outbox_id = _committed(app, db_session)
    assert _send(app, outbox_id) == "failed"
    row = _row(db_session, outbox_id)
    assert (row.state, row.provider_status, row.failure_reason, row.attempts) == ("failed", status, reason, 1)
    assert row.next_attempt_at is None


def test_insufficient_balance_is_retried(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking
) -> None:
    fake_at.script("status:405")
    outbox_id = _committed(app, db_session)
    assert _send(app, outbox_id) == "retry"
    assert _row(db_session, outbox_id).provider_status == "InsufficientBalance"


def test_quiet_hours_defer_all_but_urgent_messages(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking, clock: FrozenClock
) -> None:
    clock.now = dt.datetime(2026, 11, 24, 21, 30, tzinfo=dt.UTC)  # 22:30 in Casablanca
    reminder = _committed(app, db_session, urgent=False)
    receipt = _committed(app, db_session, urgent=True, recipient="+212600000043")

    assert _send(app, reminder) == "deferred"
    assert _send(app, receipt) == "sent"
    row = _row(db_session, reminder)
    assert row.state == "pending" and row.attempts == 0
    assert row.next_attempt_at == dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)  # 08:00 local
    assert [sms_.recipient for sms_ in fake_at.received] == ["+212600000043"]

    clock.now = dt.datetime(2026, 11, 25, 6, 59, tzinfo=dt.UTC)
    assert _send(app, reminder) == "not_due"
    clock.now = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)
    assert _send(app, reminder) == "sent"


# The sweep ---------------------------------------------------------------------------------


def test_the_sweep_puts_a_row_stuck_in_sending_back_marked(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking, clock: FrozenClock
) -> None:
    outbox_id = _committed(app, db_session)
    sms.queue.empty()
    row = _row(db_session, outbox_id)
    row.state, row.attempts, row.updated_at = "sending", 1, clock() - dt.timedelta(seconds=299)
    db_session.commit()
    assert sweep_app(app).reset == 0  # not yet past SMS_SENDING_TIMEOUT_SECONDS

    clock.advance(seconds=2)
    result = sweep_app(app)
    assert result.reset >= 1
    row = _row(db_session, outbox_id)
    assert (row.state, row.possible_duplicate) == ("pending", True)
    assert sms.job_id(outbox_id) in sms.queue.job_ids
    assert _send(app, outbox_id) == "sent"
    row = _row(db_session, outbox_id)
    assert (row.state, row.attempts, row.possible_duplicate) == ("sent", 2, True)


def test_the_sweep_queues_retries_that_came_due(
    app: Flask, db_session: Session, sms: SmsDispatcher, fake_at: FakeAfricasTalking, clock: FrozenClock
) -> None:
    fake_at.script("server_error")
    outbox_id = _committed(app, db_session)
    sms.queue.empty()
    assert _send(app, outbox_id) == "retry"
    sweep_app(app)
    assert sms.job_id(outbox_id) not in sms.queue.job_ids  # not due for 30 s
    clock.advance(seconds=30)
    sweep_app(app)
    assert sms.job_id(outbox_id) in sms.queue.job_ids


@pytest.mark.parametrize(
    ("status", "started_minutes_ago", "requeued"),
    [
        (JobStatus.FAILED, None, True),  # raised after RQ's own retries: the sweep tries again
        (JobStatus.STARTED, 10, True),  # its worker died long ago
        (JobStatus.STARTED, 1, False),  # running now
        (JobStatus.QUEUED, None, False),  # waiting its turn
    ],
)
def test_the_sweep_replaces_dead_jobs_only(
    app: Flask,
    db_session: Session,
    sms: SmsDispatcher,
    clock: FrozenClock,
    status: JobStatus,
    started_minutes_ago: int | None,
    requeued: bool,
) -> None:
    with app.app_context():
        row = _queue(db_session)
        db_session.flush()
        row.created_at = clock() - dt.timedelta(minutes=5)
        outbox_id = row.id
        db_session.commit()
    job = sms.queue.fetch_job(sms.job_id(outbox_id))
    assert job is not None
    sms.queue.remove(job)
    job.set_status(status)
    if started_minutes_ago is not None:
        job.started_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=started_minutes_ago)
        job.enqueued_at = job.started_at
        job.save()
    sweep_app(app)
    assert (sms.job_id(outbox_id) in sms.queue.job_ids) is requeued


# Monthly reminders ---------------------------------------------------------------------------


def _remind(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["sms", "remind", "--code", "*4242#", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_reminders_go_once_a_month_to_artisans_with_dues(
    app: Flask, demo: Session, sms: SmsDispatcher, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    db = demo
    by_phone = {a.phone: a for a in db.scalars(select(Artisan).where(Artisan.rna_number.startswith("DEMO-")))}
    fatima, youssef, aicha = by_phone["+212600000001"], by_phone["+212600000002"], by_phone["+212600000003"]
    # Fatima pays this month too: paid up. Aicha said STOP.
    db.add(PaidMonth(artisan_id=fatima.id, month=dt.date(2026, 11, 1), amount_centimes=13500, payment_id=None))
    aicha.sms_opt_out = True
    db.commit()

    with caplog.at_level(logging.INFO):
        output = _remind(app, "--month", "2026-11")
    assert "reminders 2026-11:" in output

    reminded = {
        r.artisan_id: r for r in db.scalars(select(SmsReminder).where(SmsReminder.month == dt.date(2026, 11, 1)))
    }
    assert youssef.id in reminded
    assert fatima.id not in reminded and aicha.id not in reminded
    message = db.get(OutboxMessage, reminded[youssef.id].outbox_id)
    assert message is not None
    assert message.template == "dues_reminder" and message.subject == "reminder:2026-11" and not message.urgent
    assert message.recipient == youssef.phone and message.language == "ar" and message.encoding == "ucs2"
    assert "405.00 درهم" in message.body and "*4242#" in message.body
    assert "09/2026-11/2026" in message.body
    assert sms.job_id(message.id) in sms.queue.job_ids  # queued after the chunk's commit

    before = db.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    _remind(app)  # the same month again (the default): nothing more
    assert db.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) == before


def test_reminders_are_read_in_chunks_with_a_commit_each(
    app: Flask, demo: Session, settings: Settings, clock: FrozenClock
) -> None:
    small = dataclasses.replace(settings, sms_reminder_batch_size=1)
    counts = send_reminders(
        db_session=demo, settings=small, month=dt.date(2026, 11, 1), today=dt.date(2026, 11, 24), code="*4242#"
    )
    assert counts.queued >= 3 and counts.chunks >= counts.queued
    again = send_reminders(
        db_session=demo, settings=small, month=dt.date(2026, 11, 1), today=dt.date(2026, 11, 24), code="*4242#"
    )
    assert again.queued == 0


def test_a_reminder_for_a_future_month_is_refused(app: Flask, db_session: Session, clock: FrozenClock) -> None:
    result = app.test_cli_runner().invoke(args=["sms", "remind", "--month", "2027-01", "--code", "*4242#"])
    assert result.exit_code != 0 and "future" in result.output


def test_the_clock_sweeps_and_runs_each_months_reminders_once(
    app: Flask, demo: Session, sms: SmsDispatcher, clock: FrozenClock
) -> None:
    app.extensions[EXTENSION] = dataclasses.replace(
        sms, settings=dataclasses.replace(sms.settings, ussd_service_codes=("*4242#",))
    )
    december = dt.date(2026, 12, 1)

    def reminded() -> int:
        return len(demo.scalars(select(SmsReminder.id).where(SmsReminder.month == december)).all())

    clock.now = dt.datetime(2026, 12, 5, 8, 30, tzinfo=dt.UTC)  # 09:30 in Casablanca: not yet
    app_clock(app).run(ticks=1)
    assert reminded() == 0
    clock.now = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.UTC)
    try:
        app_clock(app).run(ticks=1)
        count = reminded()
        assert count >= 3
        assert sms.redis.get(f"{sms.settings.redis_prefix}sms:reminders:done:2026-12") == str(count).encode()
        clock.advance(days=1)
        app_clock(app).run(ticks=1)
        assert reminded() == count
    finally:
        sms.redis.delete(f"{sms.settings.redis_prefix}sms:reminders:done:2026-12")
