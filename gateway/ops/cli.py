"""`flask staff …`: accounts of the operations dashboard (/ops).

A password is never a command-line option: it would stay in the shell history and
show in `ps`. It is typed at a hidden prompt, twice, or read as one line from stdin."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway.cli import read_secret
from gateway.clock import MOROCCO
from gateway.db import get_db, rollback
from gateway.ops import staff as service
from gateway.ops.staff import StaffError
from gateway.wiring import hirfa

staff_cli = AppGroup("staff", help="Staff accounts of the operations dashboard (/ops).")


def read_password(from_stdin: bool) -> str:
    password = read_secret(f"Password ({service.MIN_PASSWORD_LENGTH} characters or more)", from_stdin=from_stdin)
    try:
        return service.check_password(password)
    except StaffError as err:
        raise click.ClickException(err.message) from None


@staff_cli.command("create")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password as one line from stdin instead of prompting (scripts)."
)
def create(username: str, password_stdin: bool) -> None:
    """Give USERNAME a dashboard account; the password is asked for (hidden, twice)."""
    try:
        name = service.check_username(username)
    except StaffError as err:
        raise click.ClickException(err.message) from None
    password = read_password(password_stdin)
    db = get_db()
    try:
        member = service.create_staff(db, username=name, password=password, clock=hirfa().clock)
    except StaffError as err:
        rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"staff member {member.username} created")


@staff_cli.command("list")
def list_command() -> None:
    """Staff accounts: active or not, locked until when, last login (Africa/Casablanca)."""
    members = service.list_staff(get_db())
    if not members:
        click.echo("no staff members")
        return
    now = hirfa().clock()
    click.echo(f"{'username':<40}  {'status':<8}  last login")
    for member in members:
        status = "active" if member.active else "disabled"
        if member.active and service.is_locked(member, now):
            status = "locked"
        last = f"{member.last_login_at.astimezone(MOROCCO):%Y-%m-%d %H:%M}" if member.last_login_at else "-"
        click.echo(f"{member.username:<40}  {status:<8}  {last}")


@staff_cli.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """USERNAME can no longer log in; their open dashboard sessions end."""
    db = get_db()
    try:
        member = service.disable_staff(db, username=username)
    except StaffError as err:
        rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"staff member {member.username}: disabled")


@staff_cli.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password as one line from stdin instead of prompting (scripts)."
)
def set_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password (asked for, hidden, twice); their open dashboard sessions end."""
    password = read_password(password_stdin)
    db = get_db()
    try:
        member = service.set_password(db, username=username, password=password)
    except StaffError as err:
        db.rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"staff member {member.username}: password set, open sessions ended")
