"""Twenty requests at once at each state change of money, on PostgreSQL and on the SQLite
default (`committed_app`: a database of its own, the demo committed, one connection per
request as in production): one reversal and one SMS, exactly three wrong PINs counted
before the lock, at most three pick-up SMS a day. Never a 5xx."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import TypeVar

from flask import Flask
from sqlalchemy import func, select

from gateway.db import get_db
from gateway.partners.keys import create_key
from gateway.payments.agents import MAX_PIN_TRIES
from gateway.payments.service import PaymentService
from gateway.reimbursements.service import MAX_PICK_UP_SMS_A_DAY, PICK_UP_TEMPLATE, subject_of
from gateway.wiring import hirfa
from models import Agent, Artisan, OutboxMessage, Payment, PaymentReference, ReimbursementClaim
from tests.conftest import CALLBACK_KEY
from tests.functional.test_partner_api import Partner, error_of
from tests.helpers import Dialer, FrozenClock

RACERS = 20
YOUSSEF, FATIMA, WAFACASH_AGENT = "+212600000002", "+212600000001", "+212700000001"
T = TypeVar("T")


def all_at_once(work: Callable[[int], T]) -> list[T]:
    """`work(i)` in RACERS threads released together; every result (an exception fails the test)."""
    barrier = threading.Barrier(RACERS)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == RACERS
    return [results[index] for index in range(RACERS)]


def dialer(app: Flask, phone: str) -> Dialer:
    """A phone on a client of its own (one per thread)."""
    client = app.test_client()

    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = client.post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    return Dialer(post, phone, key=CALLBACK_KEY)


def count(app: Flask, statement: object) -> int:
    with app.app_context():
        return int(get_db().scalar(statement) or 0)  # type: ignore[call-overload]


def test_twenty_reversals_of_one_receipt_reverse_it_once(committed_app: Flask) -> None:
    app = committed_app
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with app.app_context():
        db = get_db()
        key, secret = create_key(
            db, name="race", network="wafacash", reimbursements=False, settings=hirfa().settings, clock=hirfa().clock
        )
        artisan_id = db.scalar(select(Artisan.id).where(Artisan.phone == YOUSSEF))
        assert artisan_id is not None
        reference, _ = PaymentService(db=db, settings=hirfa().settings, clock=hirfa().clock).request_reference(
            artisan_id=artisan_id, count=3, network="wafacash"
        )
        db.commit()
        key_id, typed = key.key_id, reference.reference
    partner = Partner(app.test_client(), key_id, secret, FrozenClock(now))
    body = {
        "reference": typed,
        "amount_centimes": reference.amount_centimes,
        "network_txn_id": "RACE-1",
        "agent_code": "WFC-FES-001",
        "paid_at": now.isoformat(),
    }
    paid = partner.post("/api/v1/payments", body)
    assert paid.status_code == 201, paid.get_data(as_text=True)
    receipt = paid.get_json()["receipt_number"]

    def reverse(index: int) -> tuple[int, str]:
        # A reason of its own: twenty identical requests in one second would be replays.
        own = Partner(app.test_client(), key_id, secret, FrozenClock(now))
        response = own.post(f"/api/v1/payments/{receipt}/reversal", {"reason": f"racer {index}"})
        return response.status_code, ("reversed" if response.status_code == 200 else error_of(response))

    answers = all_at_once(reverse)
    assert sorted(answers) == [(200, "reversed")] + [(409, "already_reversed")] * (RACERS - 1), answers
    assert count(app, select(func.count()).select_from(Payment).where(Payment.reversed_at.is_not(None))) == 1
    reversed_sms = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "payment_reversed")
    assert count(app, reversed_sms) == 1
    status = partner.get(f"/api/v1/references/{typed}")
    assert json.loads(status.get_data())["status"] == "open"


def test_twenty_wrong_pins_at_once_count_three_and_lock_the_agent(committed_app: Flask) -> None:
    app = committed_app
    phones = [dialer(app, WAFACASH_AGENT) for _ in range(RACERS)]
    for phone in phones:
        phone.start()  # the PIN screen

    screens = all_at_once(lambda index: phones[index].send("9999"))
    assert all(screen.startswith(("CON ", "END ")) for screen in screens)
    with app.app_context():
        agent = get_db().scalar(select(Agent).where(Agent.phone == WAFACASH_AGENT))
        assert agent is not None
        assert (agent.failed_pin_attempts, agent.status) == (MAX_PIN_TRIES, "locked")
    # The right PIN no longer opens the menu.
    late = dialer(app, WAFACASH_AGENT)
    late.start()
    assert late.send("1234").startswith("END ")


def test_twenty_resends_at_once_send_at_most_the_daily_limit(committed_app: Flask) -> None:
    app = committed_app
    with app.app_context():
        claim_id = get_db().scalar(
            select(ReimbursementClaim.id).where(ReimbursementClaim.pick_up_code == "FC-4821-7730")
        )
        assert claim_id is not None
    phones = [dialer(app, FATIMA) for _ in range(RACERS)]
    for phone in phones:
        first = phone.start()
        if "\n2 " in first and "\n3 " not in first:  # a resume offer (another racer's cut session)
            phone.send("2")
        phone.send("3", "1")  # the claim ready to collect

    screens = all_at_once(lambda index: phones[index].send("1"))
    assert all(screen.startswith("CON ") for screen in screens)
    pick_ups = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.subject == subject_of(claim_id), OutboxMessage.template == PICK_UP_TEMPLATE)
    )
    assert count(app, pick_ups) == MAX_PICK_UP_SMS_A_DAY


def test_twenty_requests_for_the_same_months_at_once_make_one_reference(committed_app: Flask) -> None:
    # The artisan's row is locked while a reference is made (PostgreSQL), and the INSERT
    # is a compare-and-set against an open reference for the same months and network.
    app = committed_app
    with app.app_context():
        artisan_id = get_db().scalar(select(Artisan.id).where(Artisan.phone == YOUSSEF))
        assert artisan_id is not None

    def request(_index: int) -> tuple[str, bool]:
        with app.app_context():
            db = get_db()
            service = PaymentService(db=db, settings=hirfa().settings, clock=hirfa().clock)
            reference, reused = service.request_reference(artisan_id=artisan_id, count=3, network="wafacash")
            db.commit()
            return reference.reference, reused

    results = all_at_once(request)
    assert len({reference for reference, _ in results}) == 1
    assert sorted(reused for _, reused in results) == [False] + [True] * (RACERS - 1)
    assert count(app, select(func.count()).select_from(PaymentReference)) == 1
    sms = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "payment_reference")
    assert count(app, sms) == 1
