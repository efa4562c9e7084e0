"""USSD sessions as Hirfa saw them, and how the aggregator says they ended.

A session's row is written on its first hop and on the hop that sends its last screen
(an END), each time by one `INSERT … ON CONFLICT DO UPDATE`; the hops between write no
SQL (they are the hot path). The aggregator's end-of-session report, when one comes,
is merged into the same row the same way, so a session counts once whichever of the
three arrives first (a report may overtake the last hop's commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, literal
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.db import ALONE
from gateway.ussd.interfaces import SessionEnd, SessionProgress
from models import UssdSessionOutcome
from models.base import UTCDateTime

ROW = UssdSessionOutcome
# The table, not the ORM entity: an ORM insert would add a RETURNING of the id.
TABLE = cast(Table, UssdSessionOutcome.__table__)


def _dialect(db: Session) -> str:
    return "sqlite" if db.get_bind().dialect.name == "sqlite" else "postgresql"


def _hop_upsert(dialect: str) -> Any:
    """A hop's upsert, built once per dialect (building and coercing it on every dial
    cost SQLAlchemy more than PostgreSQL took to run it): the row's values as bound
    parameters; on conflict the hop's own (`excluded`) replace Hirfa's side, and an end
    once written stays."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    values = {name: bindparam(name, type_=TABLE.c[name].type) for name in _HOP_COLUMNS}
    statement = insert(TABLE).values(**values)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[ROW.aggregator, ROW.session_id],
        set_=dict(
            last_hop_at=excluded.last_hop_at,
            ended_at=func.coalesce(ROW.ended_at, excluded.ended_at),
            hops_answered=excluded.hops_answered,
            last_screen=excluded.last_screen,
            language=excluded.language,
        ),
    ).execution_options(**{ALONE: True})  # whole on its own, as `_upsert`'s


_HOP_COLUMNS = (
    "aggregator",
    "session_id",
    "phone",
    "service_code",
    "network_code",
    "started_at",
    "last_hop_at",
    "ended_at",
    "hops_answered",
    "last_screen",
    "language",
)
HOP_UPSERT = {dialect: _hop_upsert(dialect) for dialect in ("postgresql", "sqlite")}


def _upsert(db: Session, *, insert: Mapping[str, Any], update: Mapping[str, Any]) -> None:
    dialect_insert = sqlite_insert if _dialect(db) == "sqlite" else postgresql_insert
    statement = (
        dialect_insert(TABLE)
        .values(**insert)
        .on_conflict_do_update(index_elements=[ROW.aggregator, ROW.session_id], set_=dict(update))
        # Whole on its own: on a hop that wrote nothing else, it commits by itself.
        .execution_options(**{ALONE: True})
    )
    db.execute(statement)


def _time(value: dt.datetime | None) -> Any:
    # Typed as the column, so that SQLite stores it as every other UTC time.
    return literal(value, UTCDateTime())


def record_hop(db: Session, *, aggregator: str, progress: SessionProgress, now: dt.datetime) -> None:
    """Write down a session's first hop or its last screen (the caller commits with the
    hop). Never what the user typed: the screen id, the language, the count of hops."""
    db.execute(
        HOP_UPSERT[_dialect(db)],
        dict(
            aggregator=aggregator,
            session_id=progress.session_id,
            phone=progress.phone,
            service_code=progress.service_code,
            network_code=progress.network_code,
            started_at=now,
            last_hop_at=now,
            ended_at=now if progress.final else None,
            hops_answered=progress.hops,
            last_screen=progress.screen,
            language=progress.language,
        ),
    )


def record_session_end(
    db: Session, *, aggregator: str, event: SessionEnd, record: dict[str, Any] | None, now: dt.datetime
) -> None:
    """Add the aggregator's report to the session's row (creating it when Hirfa wrote
    none: the session still counts), and commit. Notified again, the report is replaced.

    `record` is our live session record, if Redis still has it: it tells the last
    screen shown, the language and the hops answered, never what the user typed."""
    state = record.get("state", {}) if record else {}
    ours = dict(
        last_screen=record.get("screen") if record else None,
        language=state.get("lang"),
        hops_answered=record.get("hops") if record else None,
    )
    report = dict(
        status=event.status,
        duration_ms=event.duration_ms,
        hops_count=event.hops_count,
        error_message=event.error_message,
        cost=event.cost,
        reported_at=event.reported_at,
        received_at=now,
    )
    _upsert(
        db,
        insert=dict(
            aggregator=aggregator,
            session_id=event.session_id,
            phone=event.phone,
            service_code=event.service_code,
            network_code=event.network_code,
            started_at=now,
            **ours,
            **report,
        ),
        update={
            # Redis's record is the freshest view of our side; gone, the row's stays.
            **{name: value for name, value in ours.items() if value is not None},
            **report,
            "reported_at": _time(event.reported_at),
            "received_at": _time(now),
        },
    )
    db.commit()
