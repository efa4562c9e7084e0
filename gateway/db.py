"""Database engine and the per-request SQLAlchemy session. The edges commit."""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Flask, current_app, g
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import Settings
from gateway.memo import forget_after_writes

log = logging.getLogger(__name__)

EXTENSION = "hirfa.sessionmaker"
# Sessions on DATABASE_READ_URL (a standby), when set: read-only work that may lag.
READ_EXTENSION = "hirfa.read_sessionmaker"
# An execution option for a write that is whole on its own (a session's journal row):
# when nothing before it in the transaction wrote, it commits by itself, without the
# BEGIN and COMMIT round trips (see `begin_at_first_write`).
ALONE = "hirfa_alone"


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    """The engine of DATABASE_URL (or of `url`). Several hosts with
    target_session_attrs=read-write (gateway/config.py normalise_database_url): libpq
    tries each in turn at every new connection and keeps the primary."""
    url = url or settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        # No ping before each checkout (a round trip per request): a connection found
        # dead fails its hop with the polite END, and SQLAlchemy then drops every pooled
        # connection of that age, so one hop per process sees a database restart, or a
        # switch to the standby (the next connection finds the new primary).
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_timeout=2,
        # A hop must answer fast: never wait long for a connection or a statement.
        connect_args={"connect_timeout": 2, "options": "-c statement_timeout=5000"},
    )
    begin_at_first_write(engine)
    return engine


@functools.lru_cache(maxsize=1024)
def _plain_read(statement: str) -> bool:
    """A SELECT that takes no lock. Anything else (a write, SELECT ... FOR UPDATE, a
    SAVEPOINT, text we cannot tell) begins the transaction: the safe side."""
    head = statement.lstrip()[:6].upper()
    return head == "SELECT" and " FOR " not in statement.upper()


def begin_at_first_write(engine: Engine) -> None:
    """PostgreSQL transactions begin at their first write or lock, not at their first read.

    psycopg sends BEGIN before a transaction's first statement, a round trip of its own,
    and COMMIT ends it, another: a hop that only reads paid two round trips more than its
    SELECTs. Here each statement sent while no transaction is open decides: a plain
    SELECT runs on its own (autocommit), anything else opens the transaction it then
    stays in until COMMIT or ROLLBACK. At READ COMMITTED (the default, which nothing here
    changes) every statement of a transaction sees its own snapshot anyway, so a read
    before the first write sees what it would have seen inside; locks and writes are all
    inside. This is what Python's sqlite3 driver does on the embedded default: it begins
    at the first INSERT, UPDATE or DELETE."""

    @event.listens_for(engine, "before_cursor_execute")
    def _decide(
        conn: Connection, _cursor: Any, statement: str, _params: Any, context: ExecutionContext | None, _many: bool
    ) -> None:
        raw = conn.connection.dbapi_connection
        if raw is None or raw.pgconn.transaction_status != TransactionStatus.IDLE:
            return  # inside a transaction: it goes on
        alone = context is not None and bool(context.execution_options.get(ALONE))
        raw.autocommit = alone or _plain_read(statement)


def hold_loaded_rows(session: Session | sessionmaker[Session]) -> None:
    """Keep every row `session` loads or inserts until it closes. SQLAlchemy's identity
    map holds rows weakly: a row a screen read and let go was read again by the next
    `get()` of the same hop (the agent, the artisan, the reference: twice each). A
    request's session is short, so holding them costs little and spares those reads."""

    def hold(session: Session, instance: object) -> None:
        session.info.setdefault("held", []).append(instance)

    event.listen(session, "loaded_as_persistent", hold)
    event.listen(session, "pending_to_persistent", hold)


def configure_sessions(sessions: Session | sessionmaker[Session]) -> None:
    """What every session of the app gets (the tests' own session too)."""
    hold_loaded_rows(sessions)
    forget_after_writes(sessions)


def init_app(app: Flask, settings: Settings) -> None:
    factory = sessionmaker(make_engine(settings), expire_on_commit=False)
    configure_sessions(factory)
    app.extensions[EXTENSION] = factory
    if settings.database_read_url:
        reader = sessionmaker(make_engine(settings, settings.database_read_url), expire_on_commit=False)
        configure_sessions(reader)
        app.extensions[READ_EXTENSION] = reader
    app.teardown_appcontext(_close_session)


def get_db() -> Session:
    """The session of the current request or command, opened on first use."""
    if "db" not in g:
        g.db = current_app.extensions[EXTENSION]()
    session: Session = g.db
    return session


def get_read_db() -> Session:
    """A session for read-only work that may lag a little (dashboard figures, settlement of
    past days): on DATABASE_READ_URL (a standby) when set, else the request's own session."""
    if READ_EXTENSION not in current_app.extensions:
        return get_db()
    if "read_db" not in g:
        g.read_db = current_app.extensions[READ_EXTENSION]()
    session: Session = g.read_db
    return session


def dispose_engines(app: Flask) -> None:
    """Close every pooled connection of `app` (its primary's and its standby's)."""
    for name in (EXTENSION, READ_EXTENSION):
        if name in app.extensions:
            app.extensions[name].kw["bind"].dispose()


def commit_if_used() -> None:
    """Commit the request's session if it ran anything (a hop that needed no SQL began
    no transaction: committing nothing still cost a tenth of such a hop)."""
    session: Session | None = g.get("db")
    if session is not None and session.in_transaction():
        session.commit()


def rollback() -> None:
    """Undo what the current request or command wrote, after a refusal or a failure. A
    rollback that fails too (the connection is gone) is logged, never raised: the caller is
    already answering, and the session is discarded at teardown anyway."""
    session: Session | None = g.get("db")
    if session is None:
        return  # nothing ran: nothing to undo
    try:
        session.rollback()
    except Exception:
        log.warning("rollback failed", exc_info=True)


def _close_session(_exc: BaseException | None) -> None:
    for name in ("db", "read_db"):
        session: Session | None = g.pop(name, None)
        if session is not None:
            session.close()
