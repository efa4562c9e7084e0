"""The Flask edge of gateway/sms: the app's dispatcher, the RQ job entry point (which builds
an app in a worker), and the sweep and clock run on an app. gateway/sms itself knows no Flask."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.db import get_db
from gateway.sms.dispatch import SmsDispatcher, enqueue_after_commit
from gateway.sms.senders import make_sender
from gateway.sms.service import send_outbox_message
from gateway.sms.sweep import Clock, SweepResult, sweep
from gateway.wiring import EXTENSION as HIRFA
from gateway.wiring import Hirfa

log = logging.getLogger(__name__)

EXTENSION = "hirfa.sms"

_worker_app: Flask | None = None


def init_app(app: Flask, settings: Settings, client: redis.Redis) -> None:
    """Give `app` its sender and queue, and enqueue outbox rows after each commit."""
    app.extensions[EXTENSION] = SmsDispatcher(
        settings=settings,
        redis=client,
        sender=make_sender(settings),
        inline=settings.uses_embedded_redis,
        send_now=send_sms,
    )
    if settings.uses_embedded_redis:
        log.warning("no SMS worker with the embedded Redis: SMS are sent inline after each commit")
    enqueue_after_commit(current_dispatcher)


def dispatcher_of(app: Flask) -> SmsDispatcher:
    found: SmsDispatcher = app.extensions[EXTENSION]
    return found


def current_dispatcher() -> SmsDispatcher | None:
    """The current app's dispatcher; None outside an app (the sweep queues those rows)."""
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return None
    found: SmsDispatcher = current_app.extensions[EXTENSION]
    return found


@contextmanager
def app_session(app: Flask) -> Iterator[Session]:
    """An app context of its own, hence a database session of its own, closed at the end."""
    with app.app_context():
        yield get_db()


def job_app() -> Flask:
    """The current app, or (in an RQ worker) one app per process built from the environment."""
    global _worker_app  # noqa: PLW0603 - one app per worker process, built on its first job
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    if _worker_app is None:
        from gateway import create_app  # noqa: PLC0415 - the app factory imports this module

        _worker_app = create_app()
    return _worker_app


def send_sms(outbox_id: int) -> str:
    """RQ job: send outbox row `outbox_id` if it is still pending and due; running it twice
    sends once. Ids in, JSON serializer, timeout and retries set where it is enqueued
    (gateway/sms/dispatch.py). Returns the outcome (sent, retry, failed, deferred, not_due, skipped)."""
    app = job_app()
    with app_session(app) as db:
        sms = dispatcher_of(app)
        parts: Hirfa = app.extensions[HIRFA]
        outcome = send_outbox_message(
            db_session=db, sender=sms.sender, settings=sms.settings, clock=parts.clock, outbox_id=outbox_id
        )
    return outcome.value


def sweep_app(app: Flask) -> SweepResult:
    """`flask sms sweep` on `app`, in an app context of its own."""
    parts: Hirfa = app.extensions[HIRFA]
    with app_session(app) as db:
        return sweep(db_session=db, sms=dispatcher_of(app), now=parts.clock())


def app_clock(app: Flask, *, ticks: int | None = None) -> Clock:
    """The clock process (`flask sms clock`) on `app`'s parts (`ticks`: stop after so many)."""
    parts: Hirfa = app.extensions[HIRFA]
    from gateway.calls_app import sweep_calls  # noqa: PLC0415 - calls_app builds on this module

    return Clock(
        sms=dispatcher_of(app),
        clock=parts.clock,
        redis_client=parts.redis,
        open_session=lambda: app_session(app),
        also=lambda: sweep_calls(app),
        ticks=ticks,
    )
