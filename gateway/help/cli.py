"""`flask requests …`: staff list and close the artisans' help requests (option 5)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway.clock import MOROCCO
from gateway.db import get_db, rollback
from gateway.help.service import HelpError, close_request, list_requests
from gateway.logs import mask_phone
from gateway.wiring import hirfa
from models.help import HELP_KINDS

requests_cli = AppGroup("requests", help="Help requests of artisans: call-backs, export support, chamber contact.")


@requests_cli.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only the requests still open.")
@click.option("--kind", type=click.Choice(HELP_KINDS), default=None, help="Only requests of this kind.")
def list_command(only_open: bool, kind: str | None) -> None:
    """A table of help requests, oldest first (times in Africa/Casablanca)."""
    rows = list_requests(get_db(), status="open" if only_open else None, kind=kind)
    if not rows:
        click.echo("no help requests")
        return
    click.echo(f"{'id':>6}  {'kind':<16}  {'phone':<13}  {'created':<16}  status")
    for request, phone in rows:
        created = f"{request.created_at.astimezone(MOROCCO):%Y-%m-%d %H:%M}"
        click.echo(
            f"{request.id:>6}  {request.kind:<16}  {mask_phone(phone) if phone else '-':<13}  {created:<16}  "
            f"{request.status}"
        )


@requests_cli.command("close")
@click.argument("request_id", type=int)
@click.option("--by", "by", required=True, help="Who handled the request (staff name).")
def close_command(request_id: int, by: str) -> None:
    """Close a request once handled; the artisan may then ask again."""
    db = get_db()
    try:
        request = close_request(db, request_id=request_id, by=by, clock=hirfa().clock)
    except HelpError as err:
        rollback()
        raise click.ClickException(err.message) from None
    db.commit()
    click.echo(f"help request {request.id} closed by {request.closed_by}")
