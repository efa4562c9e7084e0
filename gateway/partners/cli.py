"""`flask partners …`: API keys for the cash networks and the reimbursement feed.

`create` and `rotate` print the key once, as one JSON line on stdout, for scripts to
read; everything else they say goes to stderr. The secret is not shown again."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db, rollback
from gateway.errors import Refusal
from gateway.partners.keys import create_demo_keys, create_key, reencrypt_secrets, revoke_key, rotate_key
from gateway.wiring import hirfa
from models import PartnerKey
from models.banks import BANKS
from models.payments import NETWORKS

__all__ = ["create_demo_keys", "partners_cli"]

partners_cli = AppGroup("partners", help="Partner API keys (cash networks, reimbursement feed, banks).")

SHOWN_ONCE = "Keep the secret now: it is stored encrypted and not shown again."


def _print_key(key_id: str, secret: str) -> None:
    click.echo(json.dumps({"key_id": key_id, "secret": secret}))
    click.echo(SHOWN_ONCE, err=True)


@partners_cli.command("create")
@click.argument("name")
@click.option("--network", type=click.Choice(NETWORKS), default=None, help="A cash network's counter system.")
@click.option("--reimbursements", is_flag=True, help="The reimbursement feed (CNSS or the paying bank).")
@click.option("--bank", type=click.Choice(BANKS), default=None, help="A bank's leads (bank-account offers).")
def create(name: str, network: str | None, reimbursements: bool, bank: str | None) -> None:
    """Make a key named NAME for one network, the reimbursement feed or one bank."""
    if [network is not None, reimbursements, bank is not None].count(True) != 1:
        raise click.UsageError("give exactly one of --network wafacash|fellah_cash, --reimbursements or --bank cam|awb")
    db = get_db()
    app = hirfa()
    try:
        key, secret = create_key(
            db,
            name=name,
            network=network,
            reimbursements=reimbursements,
            bank=bank,
            settings=app.settings,
            clock=app.clock,
        )
    except Refusal as error:
        rollback()
        raise click.ClickException(error.message) from None
    db.commit()
    _print_key(key.key_id, secret)


@partners_cli.command("rotate")
@click.argument("key_id")
def rotate(key_id: str) -> None:
    """Give KEY_ID a new secret; the old one stops working at once."""
    db = get_db()
    app = hirfa()
    try:
        key, secret = rotate_key(db, key_id=key_id, settings=app.settings, clock=app.clock)
    except Refusal as error:
        rollback()
        raise click.ClickException(error.message) from None
    db.commit()
    _print_key(key.key_id, secret)


@partners_cli.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Stop KEY_ID for good."""
    db = get_db()
    try:
        key = revoke_key(db, key_id=key_id, clock=hirfa().clock)
    except Refusal as error:
        rollback()
        raise click.ClickException(error.message) from None
    db.commit()
    click.echo(f"{key.key_id} ({key.name}) revoked")


@partners_cli.command("reencrypt")
def reencrypt() -> None:
    """Encrypt every stored secret under the current SECRET_KEY (the last step of its rotation)."""
    db = get_db()
    done, unreadable = reencrypt_secrets(db, settings=hirfa().settings)
    db.commit()
    click.echo(f"{done} partner secrets encrypted under the current SECRET_KEY", err=True)
    if unreadable:
        # Those keys cannot sign anything any more: their partners need `partners rotate`.
        raise click.ClickException(
            f"{len(unreadable)} secrets decrypt with no key given ({', '.join(unreadable)}): rotate those keys"
        )


@partners_cli.command("list")
def list_keys() -> None:
    """Every key: id, name, partner, status (never the secret)."""
    for key in get_db().scalars(select(PartnerKey).order_by(PartnerKey.id)):
        partner = key.network or key.bank or key.kind
        click.echo(f"{key.key_id}\t{key.name}\t{partner}\t{key.status}")
