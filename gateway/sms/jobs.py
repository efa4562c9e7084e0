"""RQ jobs of the SMS outbox: ids in, JSON serializer, idempotent, explicit timeout and retries
(set where they are enqueued: gateway/sms/dispatch.py)."""

from __future__ import annotations

from flask import Flask, current_app, has_app_context

from gateway.db import get_db
from gateway.sms.dispatch import EXTENSION, SmsDispatcher
from gateway.sms.service import send_outbox_message
from gateway.wiring import hirfa

_worker_app: Flask | None = None


def job_app() -> Flask:
    """The current app, or (in an RQ worker) one app per process built from the environment."""
    global _worker_app  # noqa: PLW0603 - one app per worker process, built on its first job
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    if _worker_app is None:
        from gateway import create_app  # noqa: PLC0415 - the app factory imports this package

        _worker_app = create_app()
    return _worker_app


def send_sms(outbox_id: int) -> str:
    """Send outbox row `outbox_id` if it is still pending and due; running it twice sends once.

    Returns the outcome (sent, retry, failed, deferred, not_due, skipped)."""
    app = job_app()
    # A context of its own: its own database session, closed when the job ends.
    with app.app_context():
        sms: SmsDispatcher = app.extensions[EXTENSION]
        outcome = send_outbox_message(
            db_session=get_db(), sender=sms.sender, settings=sms.settings, clock=hirfa().clock, outbox_id=outbox_id
        )
    return outcome.value
