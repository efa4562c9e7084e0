"""`flask sms …`: the sweep, the monthly reminders, and the clock process running both."""

from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from gateway.clock import local_today, month_start
from gateway.db import get_db
from gateway.leader import run_alone
from gateway.sms.reminders import ReminderError, send_reminders
from gateway.sms.sweep import Clock, reminder_code
from gateway.sms_app import app_clock, sweep_app
from gateway.wiring import hirfa

sms_cli = AppGroup("sms", help="The SMS outbox: sweep, monthly reminders, clock.")


@sms_cli.command("sweep")
def sweep_command() -> None:
    """Queue pending SMS that are due and have no job; put back rows whose worker died."""
    result = sweep_app(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"sms sweep: {result.reset} put back from sending, {result.queued} queued")


@sms_cli.command("remind")
@click.option("--month", default=None, help="YYYY-MM (default: this month, Africa/Casablanca).")
@click.option("--code", default=None, help="Short code the SMS names (default: the first USSD_SERVICE_CODES).")
def remind(month: str | None, code: str | None) -> None:
    """Queue this month's dues reminder for each artisan with dues (once per month)."""
    app = hirfa()
    today = local_today(app.clock())
    try:
        chosen = dt.date.fromisoformat(f"{month}-01") if month else month_start(today)
    except ValueError:
        raise click.BadParameter("use YYYY-MM, such as 2026-11", param_hint="--month") from None
    code = code or reminder_code(app.settings)
    if not code:
        raise click.ClickException("set USSD_SERVICE_CODES or pass --code: the SMS tells artisans what to dial")
    try:
        counts = send_reminders(db_session=get_db(), settings=app.settings, month=chosen, today=today, code=code)
    except ReminderError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"reminders {chosen:%Y-%m}: {counts}")


@sms_cli.command("clock")
@click.option("--ticks", type=int, default=None, hidden=True, help="Stop after this many ticks (tests).")
def clock(ticks: int | None) -> None:
    """Run the sweep every SMS_SWEEP_INTERVAL_SECONDS and the reminders each month (Procfile `clock:`)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    parts = hirfa()

    def make_clock() -> Clock:
        runner = app_clock(app, ticks=ticks)
        click.echo(f"sms clock: sweeping every {runner.settings.sms_sweep_interval_seconds}s")
        return runner

    # One clock at a time: a second copy waits for the lease (gateway/leader.py).
    run_alone("clock", parts.settings, parts.redis, make_clock)
