"""Flask commands: database migrations and the demo data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask.cli import AppGroup

from gateway.db import get_db
from gateway.demo import load_demo, load_demo_staff
from gateway.partners.keys import create_demo_keys
from gateway.wiring import hirfa

ROOT = Path(__file__).resolve().parent.parent

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def read_secret(prompt: str, *, from_stdin: bool) -> str:
    """A PIN or password: one line of stdin (scripts), or asked twice, hidden."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    secret: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return secret


demo_cli = AppGroup("demo", help="Demo data for a first run (refused in production).")


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: head)."""
    settings = hirfa().settings
    if settings.uses_embedded_database:
        (ROOT / "instance").mkdir(exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), revision)


@demo_cli.command("load")
def load() -> None:
    """Load (or refresh) the demo artisans (README, "Dialing the demo")."""
    settings = hirfa().settings
    if settings.is_production:
        raise click.ClickException("demo data is refused in production (HIRFA_ENV=production)")
    db = get_db()
    phones = load_demo(db, clock=hirfa().clock)
    keys = create_demo_keys(db, settings, hirfa().clock)
    username, password = load_demo_staff(db, clock=hirfa().clock)
    db.commit()
    click.echo("demo data loaded: " + ", ".join(phones) + " (agents' PIN: 1234)")
    click.echo(f"demo staff login for /ops: {username} / {password}")
    click.echo("demo partner keys (sign requests to /api/v1 with them):")
    for key in keys:
        click.echo(json.dumps(key))
