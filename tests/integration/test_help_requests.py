"""Help requests: one open request of a kind per artisan, enforced by the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.help.service import HelpError, close_request, list_requests, request_help
from models import Artisan, HelpRequest, OutboxMessage
from tests.helpers import FrozenClock


def _fatima(db: Session) -> Artisan:
    artisan = db.scalar(select(Artisan).where(Artisan.phone == "+212600000001"))
    assert artisan is not None
    return artisan


def test_the_database_refuses_a_second_open_request_of_a_kind(demo: Session, clock: FrozenClock) -> None:
    artisan = _fatima(demo)
    demo.add(HelpRequest(artisan_id=artisan.id, kind="export_support", status="open", created_at=clock()))
    demo.flush()
    with pytest.raises(IntegrityError), demo.begin_nested():
        demo.add(HelpRequest(artisan_id=artisan.id, kind="export_support", status="open", created_at=clock()))
        demo.flush()
    # Closed ones do not count, nor other kinds.
    with demo.begin_nested():
        demo.add(
            HelpRequest(
                artisan_id=artisan.id, kind="export_support", status="closed", created_at=clock(), closed_at=clock()
            )
        )
        demo.add(HelpRequest(artisan_id=artisan.id, kind="chamber_contact", status="open", created_at=clock()))


def test_request_close_and_list(demo: Session, clock: FrozenClock) -> None:
    artisan = _fatima(demo)
    first, created = request_help(
        demo, artisan_id=artisan.id, kind="advisor_callback", clock=clock, default_language="ar"
    )
    same, again = request_help(demo, artisan_id=artisan.id, kind="advisor_callback", clock=clock, default_language="ar")
    assert created and not again and same.id == first.id
    assert len(demo.scalars(select(OutboxMessage)).all()) == 1
    assert [r.id for r, _phone in list_requests(demo, status="open")] == [first.id]
    clock.advance(hours=2)
    close_request(demo, request_id=first.id, by="Samira", clock=clock)
    assert first.closed_at == clock() and list_requests(demo, status="open") == []
    assert [r.id for r, _ in list_requests(demo, kind="advisor_callback")] == [first.id]
    with pytest.raises(HelpError):
        close_request(demo, request_id=first.id, by="Samira", clock=clock)
    second, created = request_help(
        demo, artisan_id=artisan.id, kind="advisor_callback", clock=clock, default_language="ar"
    )
    assert created and second.id != first.id
