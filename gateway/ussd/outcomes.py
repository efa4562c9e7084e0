"""How sessions ended, from the aggregator's notification and our own last screen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.ussd.interfaces import SessionEnd
from models import UssdSessionOutcome


def record_session_end(db: Session, *, aggregator: str, event: SessionEnd, record: dict[str, Any] | None) -> None:
    """Store (or update, when notified again) the outcome of one session, and commit.

    `record` is our live session record, if Redis still has it: it tells the last
    screen shown and the language, never what the user typed (CIN, PIN)."""
    state = record.get("state", {}) if record else {}
    values = dict(
        phone=event.phone,
        service_code=event.service_code,
        network_code=event.network_code,
        status=event.status,
        duration_ms=event.duration_ms,
        hops_count=event.hops_count,
        last_screen=record.get("screen") if record else None,
        language=state.get("lang"),
        error_message=event.error_message,
        cost=event.cost,
        reported_at=event.reported_at,
    )
    query = select(UssdSessionOutcome).where(
        UssdSessionOutcome.aggregator == aggregator, UssdSessionOutcome.session_id == event.session_id
    )
    for attempt in range(2):  # a duplicate notification racing us: the second try updates
        outcome = db.scalar(query)
        if outcome is None:
            db.add(UssdSessionOutcome(aggregator=aggregator, session_id=event.session_id, **values))
        else:
            for key, value in values.items():
                setattr(outcome, key, value)
        try:
            db.commit()
            return
        except IntegrityError:
            db.rollback()
            if attempt:
                raise
