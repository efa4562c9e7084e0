"""The Flask edge of the SMPP process: `flask smpp run` builds an SmppProcess
(gateway/sms/smpp_process.py) on the app's settings, sessions, clock and Redis."""

from __future__ import annotations

import signal
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from gateway.sms.smpp_process import SmppProcess, serve_metrics
from gateway.sms_app import app_session
from gateway.wiring import EXTENSION as HIRFA
from gateway.wiring import Hirfa

smpp_cli = AppGroup("smpp", help="The SMPP connection process (SMS over SMPP).")


def app_smpp_process(app: Flask) -> SmppProcess:
    parts: Hirfa = app.extensions[HIRFA]
    return SmppProcess(
        settings=parts.settings, redis_client=parts.redis, open_session=lambda: app_session(app), clock=parts.clock
    )


@smpp_cli.command("run")
def run() -> None:
    """Hold one bound transceiver to SMPP_HOST and send the outbox through it (Procfile `smpp:`)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions[HIRFA].settings
    missing = settings.smpp_missing()
    if missing:
        raise click.ClickException(f"set {', '.join(missing)}: the SMPP process needs them")
    if settings.is_production and settings.sms_backend != "smpp":
        raise click.ClickException("SMS_BACKEND=smpp is required: otherwise nothing reaches this process")
    process = app_smpp_process(app)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        process.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    serve_metrics(process.connection, settings.smpp_metrics_port)
    click.echo(f"smpp: binding to {settings.smpp_host}:{settings.smpp_port} as {settings.smpp_system_id}")
    process.run()
