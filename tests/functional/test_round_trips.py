"""SQL round trips of the full mix's 14-hop cycle (bench/sessions.lua): a status check,
paying 3 months to a reference, the agent confirming the cash. Counted on the wire, by a
proxy in front of PostgreSQL (tests/pg_wire.py): every statement, BEGIN and COMMIT."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from gateway import create_app, db
from gateway.config import Settings
from gateway.demo import load_demo
from gateway.payments import service
from models import ContributionAmount
from tests.conftest import CALLBACK_KEY, create_database, dispose, drop_database
from tests.helpers import Dialer, sql_sent
from tests.pg_wire import WireCounter

CYCLE_MAX = 25  # issue 15; 53 before it


@pytest.fixture
def wired(settings: Settings) -> Iterator[tuple[Flask, WireCounter]]:
    """An app on a database of its own, the demo committed, reached through the counter."""
    url = create_database("hirfa_wire")
    with WireCounter() as wire:
        through = re.sub(r"@[^/]+/", f"@127.0.0.1:{wire.port}/", url) + "?sslmode=disable&gssencmode=disable"
        app = create_app(dataclasses.replace(settings, database_url=through))
        now = dt.datetime.now(dt.UTC)
        with app.app_context():
            session = db.get_db()
            load_demo(session, clock=lambda: now)
            session.commit()
        try:
            yield app, wire
        finally:
            dispose(app)
            drop_database(url)


def _dialer(app: Flask, phone: str) -> Dialer:
    client = app.test_client()

    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = client.post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    return Dialer(post, phone, key=CALLBACK_KEY)


def walk_full_cycle(app: Flask, hop: Callable[[Dialer, tuple[str, ...]], str]) -> None:
    """bench/sessions.lua's full mix on the demo, each hop through `hop(phone, answers)`."""
    status = _dialer(app, "+212600000001")
    for answers in ((), ("1",), ("98",)):
        hop(status, answers)
    payer = _dialer(app, "+212600000002")
    for answers in ((), ("2",), ("2",), ("3",), ("1",)):
        hop(payer, answers)
    found = re.search(r"(\d{3})-(\d{3})-(\d{4})", hop(payer, ("1",)))
    assert found, payer.screens[-1]
    agent = _dialer(app, "+212700000001")
    for answers in ((), ("1234",), ("1",), ("".join(found.groups()),)):
        hop(agent, answers)
    assert "تم تسجيل الأداء" in hop(agent, ("1",))


def _send(phone: Dialer, answers: tuple[str, ...]) -> str:
    return phone.send(*answers) if answers else phone.start()


def test_the_full_mix_cycle_takes_at_most_25_round_trips(wired: tuple[Flask, WireCounter]) -> None:
    app, wire = wired
    per_hop: list[tuple[str, list[str]]] = []
    # A process that served a hop before: the decree amounts are kept (a minute).
    _dialer(app, "+212600000003").send("1")
    wire.take()

    def hop(phone: Dialer, answers: tuple[str, ...]) -> str:
        reply = _send(phone, answers)
        per_hop.append((f"{phone.phone} {'*'.join(phone.typed)}", wire.take()))
        return reply

    walk_full_cycle(app, hop)
    assert len(per_hop) == 14
    report = [f"{len(sent):3d} {name}\n" + "".join(f"      {sql[:140]}\n" for sql in sent) for name, sent in per_hop]
    total = sum(len(sent) for _, sent in per_hop)
    print("".join(report) + f"round trips {total}")
    assert total <= CYCLE_MAX, "".join(report)


@pytest.mark.parametrize("committed_app", ["postgresql", "sqlite"], indirect=True)
def test_the_same_code_walks_the_cycle_on_both_databases(committed_app: Flask) -> None:
    walk_full_cycle(committed_app, _send)
    walk_full_cycle(committed_app, _send)  # again: the three months ahead this time


def test_decree_amounts_are_kept_a_minute_per_process(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(service, "_amounts", {})
    before = service.contribution_amounts(db_session, "smig_1")
    # A decree: a new dated row (never an edit), added ahead of its date.
    db_session.add(
        ContributionAmount(category_code="smig_1", effective_from=dt.date(2031, 1, 1), monthly_centimes=19000)
    )
    db_session.flush()
    with sql_sent(db_session) as sent:
        assert service.contribution_amounts(db_session, "smig_1") == before
    assert not sent
    now[0] += service.AMOUNTS_SECONDS
    assert service.contribution_amounts(db_session, "smig_1") == [*before, (dt.date(2031, 1, 1), 19000)]
    # A category no decree priced is read again each time (our data is wrong: it shows).
    assert service.contribution_amounts(db_session, "unpriced") == []
    with sql_sent(db_session) as sent:
        service.contribution_amounts(db_session, "unpriced")
    assert sent
