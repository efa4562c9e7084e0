"""Real RQ workers (subprocesses, JSON serializer) against real Redis, a database of their
own and the fake Africa's Talking: a worker killed mid-send loses nothing and only the
message in flight may go twice, marked. Also: the development mode without a worker."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from gateway import create_app
from gateway.config import Settings
from gateway.db import get_db
from gateway.logs import mask_phone
from gateway.sms.dispatch import SmsDispatcher
from gateway.sms.fake_africastalking import API_KEY, FakeAfricasTalking
from gateway.sms.outbox import queue_sms
from gateway.sms.senders import ConsoleSmsSender
from gateway.sms_app import EXTENSION, sweep_app
from models import OutboxMessage
from tests.conftest import create_database, dispose, drop_database
from tests.helpers import FrozenClock

ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).parent / "rq")
MESSAGES = 6
IN_FLIGHT = 3  # the third request to the fake server hangs until the worker is killed


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    url = create_database("hirfa_sms_workers")
    yield url
    drop_database(url)


def worker_environment(settings: Settings) -> dict[str, str]:
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith(("AT_", "SMS_", "HIRFA_"))},
        "PYTHONPATH": str(ROOT),
        "HIRFA_ENV": "development",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "SMS_BACKEND": "africastalking",
        "AT_USERNAME": settings.at_username,
        "AT_API_KEY": settings.at_api_key,
        "AT_API_BASE_URL": settings.at_api_base_url,
        "AT_TIMEOUT_SECONDS": str(settings.at_timeout_seconds),
        "SMS_QUEUE": settings.sms_queue,
        "SMS_QUIET_HOURS": "",  # the worker runs on the real clock, which may be night in Casablanca
        "LOG_LEVEL": "WARNING",
    }


def start_worker(settings: Settings, name: str) -> subprocess.Popen[bytes]:
    command = [RQ, "worker", "--burst", "--serializer", "json", "--worker-class", "rq.SimpleWorker"]
    command += ["--url", settings.redis_url, "--name", name, "--quiet", settings.sms_queue]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=worker_environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def forget_worker(client: redis.Redis, name: str) -> None:
    """A SIGKILLed worker cannot unregister itself: remove what it left in Redis."""
    key = f"rq:worker:{name}"
    client.delete(key)
    client.srem("rq:workers", key)
    for queue_key in client.smembers("rq:queues"):
        client.srem(f"rq:workers:{queue_key.decode().rsplit(':', 1)[-1]}", key)


@pytest.fixture
def worker_app(own_database: str, settings: Settings) -> Iterator[tuple[Flask, FakeAfricasTalking]]:
    with FakeAfricasTalking() as fake:
        token = secrets.token_hex(4)
        own = dataclasses.replace(
            settings,
            database_url=own_database,
            redis_prefix=f"hirfa-test:{token}:",
            sms_backend="africastalking",
            at_username="hirfa",
            at_api_key=API_KEY,
            at_api_base_url=fake.base_url,
            at_timeout_seconds=20.0,
            sms_queue=f"hirfa-test-{token}",
            sms_quiet_hours="",
        )
        app = create_app(own)
        try:
            yield app, fake
        finally:
            sms: SmsDispatcher = app.extensions[EXTENSION]
            for registry in (sms.queue.started_job_registry, sms.queue.failed_job_registry):
                for job_id in registry.get_job_ids():
                    registry.remove(job_id, delete_job=True)
            sms.queue.delete(delete_jobs=True)
            dispose(app)


@pytest.mark.slow
def test_a_worker_killed_mid_send_loses_nothing(worker_app: tuple[Flask, FakeAfricasTalking]) -> None:
    app, fake = worker_app
    sms: SmsDispatcher = app.extensions[EXTENSION]
    settings = sms.settings
    phones = [f"+2126000001{n:02d}" for n in range(MESSAGES)]
    with app.app_context():
        db = get_db()
        rows = [
            queue_sms(db, recipient=phone, language="fr", template="phone_linked", code="*4242#") for phone in phones
        ]
        db.commit()  # after commit: six jobs on the queue
        ids = [row.id for row in rows]
    assert sms.queue.count == MESSAGES
    data = sms.redis.hget(f"rq:job:{sms.job_id(ids[0])}", "data")
    assert data is not None
    assert json.loads(zlib.decompress(data))[0] == "gateway.sms_app.send_sms"  # JSON, not pickle

    fake.slow_seconds = 60
    fake.script(*["success"] * (IN_FLIGHT - 1), "slow")
    names = [f"hirfa-test-{secrets.token_hex(3)}", f"hirfa-test-{secrets.token_hex(3)}"]
    first = start_worker(settings, names[0])
    try:
        assert fake.wait_for(IN_FLIGHT, timeout=20), first.stderr.read().decode() if first.stderr else ""
        os.killpg(first.pid, signal.SIGKILL)  # the worker's own session: nothing else
    finally:
        first.wait(timeout=10)
        if first.stderr is not None:
            first.stderr.close()
        forget_worker(sms.redis, names[0])

    with app.app_context():
        db = get_db()
        states = {row.id: row.state for row in db.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
    in_flight = ids[IN_FLIGHT - 1]
    assert states[in_flight] == "sending"
    assert [states[i] for i in ids[: IN_FLIGHT - 1]] == ["sent"] * (IN_FLIGHT - 1)
    assert [states[i] for i in ids[IN_FLIGHT:]] == ["pending"] * (MESSAGES - IN_FLIGHT)

    # Later, the clock's sweep: the row in flight is past SMS_SENDING_TIMEOUT_SECONDS.
    later = FrozenClock(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    app.extensions["hirfa"] = dataclasses.replace(app.extensions["hirfa"], clock=later)
    result = sweep_app(app)
    assert (result.reset, result.queued) == (1, 1)  # the others' jobs are still queued: left alone

    second = start_worker(settings, names[1])
    try:
        _, errors = second.communicate(timeout=60)
        assert second.returncode == 0, errors.decode()
    finally:
        forget_worker(sms.redis, names[1])

    with app.app_context():
        db = get_db()
        final = {row.id: row for row in db.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
    assert {row.state for row in final.values()} == {"sent"}
    assert all(row.provider_message_id for row in final.values())
    sends = {phone: len(fake.messages_to(phone)) for phone in phones}
    assert all(count >= 1 for count in sends.values())  # at least once
    twice = [phone for phone, count in sends.items() if count > 1]
    assert twice == [phones[IN_FLIGHT - 1]]  # only the message in flight at the kill
    assert [row.id for row in final.values() if row.possible_duplicate] == [in_flight]  # and it is marked
    assert final[in_flight].attempts == 2


def test_without_a_worker_development_sends_inline_to_the_console(
    own_database: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    embedded = dataclasses.replace(settings, database_url=own_database, redis_url="fakeredis://", sms_backend="console")
    app = create_app(embedded)
    try:
        sms: SmsDispatcher = app.extensions[EXTENSION]
        assert sms.inline and isinstance(sms.sender, ConsoleSmsSender)
        app.extensions["hirfa"] = dataclasses.replace(
            app.extensions["hirfa"], clock=FrozenClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC))
        )
        with app.app_context():
            db = get_db()
            row = queue_sms(
                db,
                recipient="+212600000077",
                language="fr",
                template="payment_reference",
                reference="123 456 7890",
                months="11/2026",
                amount="135,00 MAD",
                network="Wafacash",
                expires="27/11 11:00",
            )
            db.commit()
            outbox_id = row.id
        with app.app_context():
            sent = get_db().get(OutboxMessage, outbox_id)
            assert sent is not None and sent.state == "sent"
            assert (sent.provider_message_id or "").startswith("console-")
        printed = capsys.readouterr().err
        assert f"SMS to {mask_phone('+212600000077')}" in printed
        assert "référence 123 456 7890" in printed or "reference 123 456 7890" in printed  # the full text
    finally:
        dispose(app)


def test_without_a_worker_a_real_provider_is_called_by_the_sweep_not_the_request(
    own_database: str, settings: Settings
) -> None:
    with FakeAfricasTalking() as fake:
        embedded = dataclasses.replace(
            settings,
            database_url=own_database,
            redis_url="fakeredis://",
            sms_backend="africastalking",
            at_username="hirfa",
            at_api_key=API_KEY,
            at_api_base_url=fake.base_url,
            sms_quiet_hours="",
        )
        app = create_app(embedded)
        try:
            with app.app_context():
                db = get_db()
                row = queue_sms(db, recipient="+212600000099", language="fr", template="phone_linked", code="*4242#")
                db.commit()
                outbox_id = row.id
            assert fake.received == []  # nothing slow after a commit, even without a worker
            later = FrozenClock(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
            app.extensions["hirfa"] = dataclasses.replace(app.extensions["hirfa"], clock=later)
            assert sweep_app(app).queued >= 1
            with app.app_context():
                sent = get_db().get(OutboxMessage, outbox_id)
                assert sent is not None and sent.state == "sent"
            assert fake.messages_to("+212600000099")
        finally:
            dispose(app)
