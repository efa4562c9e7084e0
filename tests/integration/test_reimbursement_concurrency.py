"""The same claim reported twice at once, and the pick-up code asked for twice at once: on
a database of its own, with committed data and one connection per caller, as in production."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from gateway.demo import load_demo
from gateway.reimbursements.service import ClaimUpsert, resend_pick_up, upsert_claim
from menus.ports import ResendOutcome
from models import OutboxMessage, ReimbursementClaim
from tests.conftest import create_database, drop_database

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
T = TypeVar("T")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    url = create_database("hirfa_claims")
    engine = create_engine(url)
    with Session(engine) as db:
        load_demo(db, clock=lambda: NOW)
        db.commit()
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(url)


def in_thread(work: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    return thread, result


def report(db: Session) -> ClaimUpsert:
    return upsert_claim(
        db, claim_number="CLM-RACE", cin="CD234567", amount_centimes=45000, status="received",
        clock=lambda: NOW, default_language="ar",
    )  # fmt: skip


def test_the_same_new_claim_reported_twice_at_once_is_one_claim_and_one_sms(engine: Engine) -> None:
    with Session(engine) as first, Session(engine) as second:
        created = report(first)  # inserted, not committed: the second insert waits on the unique index

        def second_report() -> ClaimUpsert:
            outcome = report(second)
            second.commit()
            return outcome

        thread, result = in_thread(second_report)
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second report should wait for the first"
        first.commit()
        thread.join(timeout=10)
        assert created.created and result and (result[0].created, result[0].changed) == (False, False)
    with Session(engine) as db:
        claim_ids = db.scalars(select(ReimbursementClaim.id).where(ReimbursementClaim.claim_number == "CLM-RACE"))
        [claim_id] = list(claim_ids)
        subject = f"claim:{claim_id}"
        assert db.scalar(select(func.count()).where(OutboxMessage.subject == subject)) == 1


def test_two_resends_at_once_respect_the_daily_limit(engine: Engine) -> None:
    with Session(engine) as db:
        claim = db.scalar(select(ReimbursementClaim).where(ReimbursementClaim.claim_number == "DEMO-CLM-0001"))
        assert claim is not None
        claim_id, artisan_id = claim.id, claim.artisan_id

    def resend(db: Session) -> ResendOutcome:
        return resend_pick_up(db, artisan_id=artisan_id, claim_id=claim_id, clock=lambda: NOW, default_language="ar")

    with Session(engine) as db:
        assert [resend(db), resend(db)] == [ResendOutcome.SENT, ResendOutcome.SENT]
        db.commit()
    with Session(engine) as first, Session(engine) as second:
        assert resend(first) is ResendOutcome.SENT  # the third of the day, holding the claim's lock

        def late() -> ResendOutcome:
            outcome = resend(second)
            second.commit()
            return outcome

        thread, result = in_thread(late)
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second resend should wait for the first"
        first.commit()
        thread.join(timeout=10)
        assert result == [ResendOutcome.LIMIT]
    with Session(engine) as db:
        subject = f"claim:{claim_id}"
        assert db.scalar(select(func.count()).where(OutboxMessage.subject == subject)) == 3
