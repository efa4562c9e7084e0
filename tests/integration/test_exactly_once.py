"""50 confirmations of one reference at once, by agents over USSD and by a network's
system over the signed API: one payment, 49 clear refusals. On a database of its own,
with committed data and one connection per request, as in production."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from gateway import create_app
from gateway.config import Settings
from gateway.db import get_db
from gateway.demo import load_demo
from gateway.partners.keys import create_key
from gateway.partners.signing import signed_headers
from gateway.payments.service import PaymentService
from models import Artisan, PaidMonth, Payment
from tests.conftest import CALLBACK_KEY, create_database, dispose, drop_database
from tests.helpers import Dialer

PARALLEL = 50


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[tuple[Flask, str, str, str]]:
    url = create_database("hirfa_once")
    app = create_app(dataclasses.replace(settings, database_url=url, database_pool_size=30))
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as db:
        load_demo(db, clock=lambda: now)
        key, secret = create_key(
            db,
            name="once-wafacash",
            network="wafacash",
            reimbursements=False,
            settings=app.extensions["hirfa"].settings,
            clock=lambda: now,
        )
        youssef = db.scalar(select(Artisan).where(Artisan.phone == "+212600000002"))
        assert youssef is not None
        reference, _ = PaymentService(
            db=db, settings=app.extensions["hirfa"].settings, clock=lambda: now
        ).request_reference(artisan_id=youssef.id, count=3, network="wafacash")
        db.commit()
        values = (key.key_id, secret, reference.reference)
    engine.dispose()
    try:
        yield app, *values
    finally:
        dispose(app)
        drop_database(url)


def test_fifty_parallel_confirmations_make_one_payment(world: tuple[Flask, str, str, str]) -> None:
    app, key_id, secret, reference = world

    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = app.test_client().post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    # Half the attempts are agents at the confirmation screen, ready to press 1.
    agents = []
    for _ in range(PARALLEL // 2):
        agent = Dialer(post, "+212700000001", key=CALLBACK_KEY)
        agent.start()
        agent.send("1234", "1", reference)
        if "1 استلمت المبلغ" not in agent.screens[-1]:
            agent.send("98")
        assert "1 استلمت المبلغ" in agent.screens[-1]
        agents.append(agent)

    barrier = threading.Barrier(PARALLEL)
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def by_agent(agent: Dialer) -> None:
        barrier.wait()
        body = agent.send("1")
        with lock:
            answers.append(("ussd", 200, body))

    def by_api(index: int) -> None:
        path = "/api/v1/payments"
        body = json.dumps(
            {
                "reference": reference,
                "amount_centimes": 40500,
                "network_txn_id": f"txn-{index}",
                "agent_code": "WFC-FES-001",
                "paid_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        ).encode()
        barrier.wait()
        response = app.test_client().post(
            path, data=body, content_type="application/json", headers=signed_headers("POST", path, body, key_id, secret)
        )
        with lock:
            answers.append(("api", response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=by_agent, args=(agent,)) for agent in agents]
    threads += [threading.Thread(target=by_api, args=(index,)) for index in range(PARALLEL - len(agents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == PARALLEL
    paid = [a for a in answers if (a[0] == "ussd" and "تم تسجيل الأداء." in a[2]) or (a[0] == "api" and a[1] == 201)]
    refused = [a for a in answers if a not in paid]
    assert len(paid) == 1, answers
    # Every other attempt is told clearly why: already paid (409 on the API, a message on USSD).
    for channel, status, body in refused:
        if channel == "api":
            assert status == 409 and json.loads(body)["error"]["code"] == "reference_paid", body
        else:
            assert body.startswith("END ") and "مؤدى من قبل" in body, body
    engine = create_engine(app.extensions["hirfa"].settings.database_url)
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.scalar(select(func.count()).select_from(PaidMonth).where(PaidMonth.payment_id.is_not(None))) == 3
    engine.dispose()


def test_twenty_copies_of_one_signed_request_at_once_pass_once(committed_app: Flask) -> None:
    """The nonce is taken with one atomic SET NX: racing copies cannot all slip through."""
    app = committed_app
    with app.app_context():
        db = get_db()
        key, secret = create_key(
            db,
            name="race-wafacash",
            network="wafacash",
            reimbursements=False,
            settings=app.extensions["hirfa"].settings,
            clock=lambda: dt.datetime.now(dt.UTC),
        )
        db.commit()
        key_id = key.key_id
    path = "/api/v1/references/0000000000"  # a valid reference no one holds: 404 once signed right
    headers = signed_headers("GET", path, b"", key_id, secret)
    barrier = threading.Barrier(20)
    answers: list[str] = []
    lock = threading.Lock()

    def copy() -> None:
        barrier.wait()
        response = app.test_client().get(path, headers=headers)
        with lock:
            answers.append(f"{response.status_code} {response.get_json()['error']['code']}")

    threads = [threading.Thread(target=copy) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == ["401 replayed"] * 19 + ["404 reference_not_found"], answers
