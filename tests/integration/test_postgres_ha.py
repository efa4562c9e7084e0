"""PostgreSQL primary and standby: a DATABASE_URL with several hosts reaches the one that
answers as a primary; connections broken by a switch are dropped and the next hop works;
DATABASE_READ_URL carries the dashboard's figures and the settlement of past days."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gateway import create_app
from gateway.clock import MOROCCO
from gateway.config import Settings, normalise_database_url
from gateway.db import dispose_engines, get_db, get_read_db
from gateway.demo import load_demo
from gateway.ops import stats
from gateway.web import ops
from tests.conftest import ADMIN_URL, create_database, drop_database
from tests.functional.test_ops_dashboard import payment
from tests.smsc.fixture import free_port

AMOUNT = 123_457  # centimes: a payment no other test makes


def several_hosts(url: str, first_port: int) -> str:
    """`url` (one host) with a closed port of 127.0.0.1 written first, libpq's way."""
    rest = url.split("://", 1)[1]
    user, rest = rest.split("@", 1)
    host, database = rest.split("/", 1)
    return f"postgresql://{user}@127.0.0.1:{first_port},{host}/{database}?target_session_attrs=read-write"


@pytest.fixture
def make(settings: Settings) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def build(**changes: object) -> Flask:
        app = create_app(dataclasses.replace(settings, **changes))  # type: ignore[arg-type]
        apps.append(app)
        return app

    yield build
    for app in apps:
        dispose_engines(app)
        app.extensions["hirfa"].redis.close()


def test_several_hosts_are_written_the_way_sqlalchemy_passes_them_to_libpq() -> None:
    written = "postgresql://hirfa:pw@db1:5432,db2:5433/hirfa?target_session_attrs=read-write&sslmode=require"
    assert normalise_database_url(written) == (
        "postgresql+psycopg://hirfa:pw@/hirfa?host=db1:5432&host=db2:5433&target_session_attrs=read-write&sslmode=require"
    )
    assert normalise_database_url("postgres://hirfa@db1:5432/hirfa") == "postgresql+psycopg://hirfa@db1:5432/hirfa"


def test_with_the_first_host_down_the_app_reaches_the_second(make: Callable[..., Flask], database_url: str) -> None:
    url = normalise_database_url(several_hosts(database_url, free_port()))
    app = make(database_url=url)
    with app.app_context():
        port = get_db().scalar(text("SELECT inet_server_port()"))
    assert port == int(database_url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])
    assert app.test_client().get("/readyz").status_code == 200


def test_connections_broken_by_a_switch_are_dropped_and_the_next_hop_works(
    make: Callable[..., Flask], database_url: str
) -> None:
    app = make(database_url=normalise_database_url(several_hosts(database_url, free_port())))
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        pid = get_db().scalar(text("SELECT pg_backend_pid()"))
    # What a switch does to the pooled connections: the server they reached goes away.
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    first = client.get("/readyz")
    assert first.status_code in (200, 503)  # the hop that met the dead connection may fail
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        assert get_db().scalar(text("SELECT pg_backend_pid()")) != pid


@pytest.fixture(scope="module")
def standby() -> Iterator[str]:
    """A database standing for a standby: it holds a payment of yesterday the primary lacks."""
    url = create_database("hirfa_standby")
    engine = create_engine(url)
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with Session(engine) as db:
        load_demo(db, clock=lambda: yesterday)
        payment(db, "wafacash", AMOUNT, yesterday)
        db.commit()
    engine.dispose()
    yield url
    drop_database(url)


def payments_exported(app: Flask) -> list[object]:
    with app.test_request_context("/ops/export/payments.csv"):
        period = stats.period(stats.PeriodName.LAST_30_DAYS, dt.datetime.now(dt.UTC))
        _, rows = ops._export_rows("payments", period)
    return [amount for *_, amount in rows]


def settlement_of_yesterday(app: Flask) -> str:
    day = (dt.datetime.now(MOROCCO) - dt.timedelta(days=1)).date()
    args = ["payments", "settlement", "--network", "wafacash", "--date", day.isoformat(), "--output", "-"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output


def test_dashboard_figures_and_past_settlement_are_read_on_database_read_url(
    make: Callable[..., Flask], standby: str
) -> None:
    on_standby = make(database_read_url=standby)
    primary_only = make()
    shown = "1234.57"  # AMOUNT in MAD
    assert shown in payments_exported(on_standby)
    assert shown not in payments_exported(primary_only)
    assert shown in settlement_of_yesterday(on_standby)
    assert shown not in settlement_of_yesterday(primary_only)
    with on_standby.app_context():
        assert get_read_db().scalar(text("SELECT current_database()")) == standby.rsplit("/", 1)[1]
        assert get_db().scalar(text("SELECT current_database()")) != standby.rsplit("/", 1)[1]
