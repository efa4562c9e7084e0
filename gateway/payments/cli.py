"""`flask agents …` (counter agents) and `flask payments …` (settlement, reconciliation).

A PIN is never a command-line option: it would stay in the shell history and show in
`ps`. It is typed at a hidden prompt, twice, or read as one line from stdin (scripts)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.cli import read_secret
from gateway.clock import local_today
from gateway.db import get_db, get_read_db, rollback
from gateway.logs import mask_phone
from gateway.payments import agents
from gateway.payments.agents import AgentError
from gateway.payments.settlement import (
    SettlementError,
    default_settlement_path,
    describe,
    format_mad,
    reconcile,
    settlement_rows,
    write_settlement,
)
from gateway.wiring import hirfa
from models.payments import NETWORKS

agents_cli = AppGroup("agents", help="Cash-point agents of Wafacash and Fellah Cash.")
payments_cli = AppGroup("payments", help="Settlement files and reconciliation, per network.")

pin_stdin_option = click.option(
    "--pin-stdin", is_flag=True, help="Read the PIN as one line from stdin instead of prompting (for scripts)."
)
network_option = click.option("--network", required=True, type=click.Choice(NETWORKS))


def read_pin(from_stdin: bool) -> str:
    pin = read_secret("PIN (4 to 6 digits)", from_stdin=from_stdin)
    if not agents.valid_pin(pin):
        raise click.ClickException("a PIN is 4 to 6 digits")
    return pin


def _staff(action: str, code: str) -> None:
    db = get_db()
    operation = {"unlock": agents.unlock, "disable": agents.disable}[action]
    try:
        agent = operation(db, agent_code=code)
    except AgentError as err:
        rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"agent {agent.agent_code}: {agent.status}")


@agents_cli.command("create")
@network_option
@click.option("--code", required=True, help="The agent's code, such as WFC-FES-001.")
@click.option("--phone", required=True, help="The agent's Moroccan mobile number.")
@click.option("--cash-point", "cash_point", default=None, help="Code of the agent's cash point.")
@pin_stdin_option
def create(network: str, code: str, phone: str, cash_point: str | None, pin_stdin: bool) -> None:
    """Register a counter agent; the PIN is asked for (hidden, twice)."""
    pin = read_pin(pin_stdin)
    db = get_db()
    try:
        agent = agents.create_agent(
            db, network=network, agent_code=code, phone=phone, pin=pin, cash_point_code=cash_point
        )
    except AgentError as err:
        rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"agent {agent.agent_code} created: {agent.network}, {mask_phone(agent.phone)}")


@agents_cli.command("reset-pin")
@click.argument("code")
@pin_stdin_option
def reset_pin(code: str, pin_stdin: bool) -> None:
    """Give agent CODE a new PIN (a locked agent also needs `unlock`)."""
    pin = read_pin(pin_stdin)
    db = get_db()
    try:
        agent = agents.reset_pin(db, agent_code=code, pin=pin)
    except AgentError as err:
        rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"agent {agent.agent_code}: PIN reset ({agent.status})")


@agents_cli.command("unlock")
@click.argument("code")
def unlock(code: str) -> None:
    """Let agent CODE, locked after wrong PINs, try again."""
    _staff("unlock", code)


@agents_cli.command("disable")
@click.argument("code")
def disable(code: str) -> None:
    """Agent CODE is an agent no more."""
    _staff("disable", code)


@payments_cli.command("settlement")
@network_option
@click.option("--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Business day.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Where to write the CSV (default: settlement-NETWORK-DATE.csv; - for stdout).",
)
def settlement(network: str, day: dt.datetime, output: Path | None) -> None:
    """Write the settlement CSV of NETWORK for one business day (Africa/Casablanca)."""
    # A past day is closed: a standby (DATABASE_READ_URL) may answer; today is the primary's.
    past = day.date() < local_today(hirfa().clock())
    db = get_read_db() if past else get_db()
    rows = settlement_rows(db, network=network, day=day.date())
    db.commit()
    if output is not None and str(output) == "-":
        write_settlement(rows, sys.stdout)
        return
    path = output or default_settlement_path(network, day.date())
    try:
        write_settlement(rows, path)
    except OSError as err:
        raise click.ClickException(f"{path}: {err.strerror or err}") from None
    net = sum(row.amount_centimes for row in rows)
    click.echo(f"settlement {network} {day.date().isoformat()}: {len(rows)} lines, net {format_mad(net)} MAD in {path}")


@payments_cli.command("reconcile")
@click.argument("statement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@network_option
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Business day (default: the one day of the statement's paid_at).",
)
def reconcile_command(statement: Path, network: str, day: dt.datetime | None) -> None:
    """Compare NETWORK's STATEMENT (CSV) with our settlement; exit 1 on any difference."""
    db = get_db()
    try:
        result = reconcile(db, network=network, statement_path=statement, day=day.date() if day else None)
    except SettlementError as err:
        raise click.ClickException(f"{statement}: {err}") from None
    db.commit()
    for line in describe(result):
        click.echo(line)
    if not result.clean:
        raise click.exceptions.Exit(1)
