"""Flask commands: database migrations and the demo data."""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask.cli import AppGroup

from gateway.db import get_db
from gateway.demo import load_demo, load_demo_staff
from gateway.partners.keys import create_demo_keys
from gateway.partners.signing import (
    KEY_HEADER,
    MAX_SKEW_SECONDS,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_headers,
)
from gateway.registration.service import cin_digest
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


def csv_import(command: Callable[..., None]) -> Callable[..., None]:
    """FILE and --rejects, as every CSV import command takes them (`rejects_for` gives the
    default rejects path)."""
    command = click.option(
        "--rejects",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write the rejected rows (default: FILE with the suffix .rejects.csv).",
    )(command)
    return click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(command)


def rejects_for(file: Path, rejects: Path | None) -> Path:
    return rejects or file.with_suffix(".rejects.csv")


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
    phones = load_demo(db, clock=hirfa().clock, cin_digest=functools.partial(cin_digest, settings))
    keys = create_demo_keys(db, settings, hirfa().clock)
    username, password = load_demo_staff(db, clock=hirfa().clock)
    db.commit()
    click.echo("demo data loaded: " + ", ".join(phones) + " (agents' PIN: 1234)")
    click.echo(f"demo staff login for /ops: {username} / {password}")
    click.echo("demo partner keys (sign requests to /api/v1 with them):")
    for key in keys:
        click.echo(json.dumps(key))
    click.echo(
        f"each request carries {KEY_HEADER}, {TIMESTAMP_HEADER} (unix seconds), {NONCE_HEADER} (new every "
        f"time: 16-64 of A-Z a-z 0-9 _ -) and {SIGNATURE_HEADER}, the hex HMAC-SHA256 with the secret of "
        "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY), PATH with its ?query (README, 'Partner API'). "
        f"Signed now with {keys[0]['name']}, good once within {MAX_SKEW_SECONDS} s "
        "(404 reference_not_found: the signature passed):"
    )
    stamp = int(hirfa().clock().timestamp())
    click.echo(demo_curl(keys[0]["key_id"], keys[0]["secret"], "/api/v1/references/0000000000", timestamp=stamp))


def demo_curl(key_id: str, secret: str, path: str, *, timestamp: int) -> str:
    """A curl command line for a signed GET of `path` on the local demo (`PORT`, as `make run`)."""
    base = f"http://127.0.0.1:{os.environ.get('PORT', '5000')}"
    headers = signed_headers("GET", path, b"", key_id, secret, timestamp=timestamp)
    return shlex.join(
        ["curl", "-i", base + path, *(arg for name in headers for arg in ("-H", f"{name}: {headers[name]}"))]
    )
