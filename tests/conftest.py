"""Fixtures: a real PostgreSQL database built by the migrations, real Redis under our own
key prefix, and one rolled-back transaction per test. Nothing outside is dropped or flushed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from gateway import create_app, db
from gateway.cli import alembic_config
from gateway.config import Settings, normalise_database_url
from gateway.demo import load_demo
from gateway.wiring import EXTENSION
from tests.helpers import Dialer, FrozenClock

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CALLBACK_KEY = "test-callback-key-0123456789abcdef"


def sms_queue_name(redis_prefix: str) -> str:
    """A queue of this test run's own, so that no job is left on the shared `sms` queue."""
    return "hirfa-test-" + redis_prefix.split(":")[1]


def _database_url(name: str) -> str:
    base = normalise_database_url(ADMIN_URL)
    return base.rsplit("/", 1)[0] + "/" + name


def create_database(prefix: str) -> str:
    """Create an empty database of our own and migrate it; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _database_url(name)
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    return url


def migrate_sqlite(path: str) -> str:
    """A SQLite file migrated to head, as `make run`'s embedded default is; returns its URL."""
    url = f"sqlite:///{path}"
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    return url


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_database("hirfa_test")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    prefix = f"hirfa-test:{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)
    # RQ keeps its own keys (rq:queue:<name>, rq:job:<prefix>sms-…): ours only.
    queue = sms_queue_name(prefix)
    for pattern in (f"rq:queue:{queue}", f"rq:job:{prefix.replace(':', '-')}*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


@pytest.fixture(autouse=True)
def _forget_phones(redis_prefix: str) -> Iterator[None]:
    """Resume points and rate-limit counts are per phone (or IP), and the demo phones are
    shared by every test: each test starts with none (session ids are unique anyway)."""
    yield
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for pattern in ("ussd-resume:*", "rl:*"):
            for key in client.scan_iter(match=redis_prefix + pattern, count=1000):
                client.delete(key)
    finally:
        client.close()


@pytest.fixture(scope="session")
def settings(database_url: str, redis_prefix: str) -> Settings:
    return Settings(
        env="development",  # unset means production
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        sms_queue=sms_queue_name(redis_prefix),
        ussd_callback_key=CALLBACK_KEY,
        secret_key="test-secret-key-" + "x" * 32,
        log_level="WARNING",
        # The suite dials the same demo phones hundreds of times a minute: rate limits
        # are off here, and on in their own tests (tests/functional/test_rate_limits.py).
        ussd_hops_per_phone_per_minute=0,
        api_requests_per_key_per_minute=0,
        api_requests_per_ip_per_minute=0,
        callbacks_per_ip_per_minute=0,
        logins_per_ip_per_minute=0,
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    dispose(app)


def dispose(app: Flask) -> None:
    db.dispose_engines(app)
    app.extensions[EXTENSION].redis.close()


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Flask]]:
    """Build extra apps with some settings changed; closed after the test."""
    made: list[tuple[Flask, Engine]] = []

    def make(**changes: object) -> Flask:
        extra = create_app(dataclasses.replace(settings, **changes))  # type: ignore[arg-type]
        made.append((extra, extra.extensions[db.EXTENSION].kw["bind"]))
        return extra

    yield make
    for extra, engine in made:
        engine.dispose()
        extra.extensions[EXTENSION].redis.close()


@pytest.fixture(params=["postgresql", "sqlite"])
def committed_app(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own with the demo committed (dates from the real
    clock), one connection per request as in production: for concurrency tests, which
    run on PostgreSQL and on the embedded default (SQLite file + in-process fakeredis)."""
    if request.param == "postgresql":
        url = create_database("hirfa_race")
        own = dataclasses.replace(settings, database_url=url, database_pool_size=25)
    else:
        url = migrate_sqlite(str(tmp_path / "hirfa.db"))
        own = dataclasses.replace(settings, database_url=url, redis_url="fakeredis://", sms_backend="console")
    app = create_app(own)
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        session = db.get_db()
        load_demo(session, clock=lambda: now)
        session.commit()
    try:
        yield app
    finally:
        dispose(app)
        if request.param == "postgresql":
            drop_database(url)


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """The app's session for this test, inside a transaction rolled back afterwards.

    Commits by the code under test release a savepoint, so they behave as in
    production and leave nothing behind."""
    factory = app.extensions[db.EXTENSION]
    connection = factory.kw["bind"].connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    db.configure_sessions(session)  # as the app's sessions are
    app.extensions[db.EXTENSION] = lambda: session
    try:
        yield session
    finally:
        app.extensions[db.EXTENSION] = factory
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def clock(app: Flask) -> Iterator[FrozenClock]:
    """Freeze the app's clock at 2026-11-24 10:00 UTC (movable with `clock.advance`)."""
    frozen = FrozenClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC))
    original = app.extensions[EXTENSION]
    app.extensions[EXTENSION] = dataclasses.replace(original, clock=frozen)
    yield frozen
    app.extensions[EXTENSION] = original


@pytest.fixture
def demo(db_session: Session, clock: FrozenClock) -> Session:
    load_demo(db_session, clock=clock)
    db_session.commit()
    return db_session


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def server(app: Flask, demo: Session) -> Iterator[str]:
    """The app under a real HTTP server (werkzeug, one thread) on a free local port."""
    httpd = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def dial(client: FlaskClient, demo: Session) -> type[Dialer]:
    """`dial("+212600000001")` starts a session over the Flask client with the demo loaded."""

    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = client.post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    class ClientDialer(Dialer):
        def __init__(self, phone: str, **kwargs: str) -> None:
            super().__init__(post, phone, key=CALLBACK_KEY, **kwargs)

    return ClientDialer
