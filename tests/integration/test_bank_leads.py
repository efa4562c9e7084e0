"""Bank leads: one open lead per artisan and bank, enforced by the database, also when
requests race (PostgreSQL and the SQLite default)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Artisan, BankLead, OutboxMessage
from tests.helpers import FrozenClock
from tests.integration.test_money_races import RACERS, all_at_once, count, dialer

AICHA = "+212600000003"


def test_the_database_refuses_a_second_open_lead(demo: Session, clock: FrozenClock) -> None:
    artisan_id = demo.scalar(select(Artisan.id).where(Artisan.phone == AICHA))
    assert artisan_id is not None

    def new(bank: str, status: str = "new", reason: str | None = None) -> BankLead:
        now = clock()
        return BankLead(
            artisan_id=artisan_id,
            bank=bank,
            status=status,
            reason=reason,
            consent_version="bank-consent-v1",
            consented_at=now,
            created_at=now,
            updated_at=now,
        )

    demo.add(new("awb"))
    demo.flush()
    for status in ("new", "contacted"):
        with pytest.raises(IntegrityError), demo.begin_nested():
            demo.add(new("awb", status))
            demo.flush()
    with pytest.raises(IntegrityError), demo.begin_nested():  # a decline says why
        demo.add(new("awb", "declined"))
        demo.flush()
    # Closed ones do not count, nor the other bank.
    with demo.begin_nested():
        demo.add(new("awb", "declined", "no"))
        demo.add(new("awb", "account_opened"))
        demo.add(new("cam"))


def test_racing_requests_make_one_lead(committed_app: Flask) -> None:
    app = committed_app
    phones = [dialer(app, AICHA) for _ in range(RACERS)]
    for phone in phones:
        first = phone.start()
        if "\n2 " in first and "\n3 " not in first:  # a resume offer (another racer's cut session)
            phone.send("2")
        phone.send("5", "4", "2")  # Attijariwafa bank, the consent screen

    screens = all_at_once(lambda index: phones[index].send("1"))
    assert all(screen.startswith("END ") for screen in screens), screens
    assert count(app, select(func.count()).select_from(BankLead)) == 1
    assert count(app, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "bank_lead")) == 1
