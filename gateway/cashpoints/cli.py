"""`flask cashpoints import FILE.csv`: the cash points of both networks."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.cashpoints.importer import CashPointFileError, import_cash_points
from gateway.cli import csv_import, rejects_for
from gateway.db import get_db, rollback

cashpoints_cli = AppGroup("cashpoints", help="The cash points of Wafacash and Fellah Cash.")


@cashpoints_cli.command("import")
@csv_import
def import_command(file: Path, rejects: Path | None) -> None:
    """Create or update the cash points of a CSV file, by code.

    Columns: network (wafacash or fellah_cash), code, name, commune_code (HCP code, such
    as 07.351.01.0), and optionally address, opening_hours, active (true/false). Running
    the same file again changes nothing.
    """
    db = get_db()
    try:
        summary = import_cash_points(db=db, source=file, rejects=rejects_for(file, rejects), on_batch=db.commit)
    except CashPointFileError as err:
        rollback()
        raise click.ClickException(f"{file}: {err}") from err
    db.commit()
    click.echo(
        f"cashpoints import: {summary.rows} rows, {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.rejected} rejected"
        + (f"; rejects in {summary.rejects}" if summary.rejects else "")
    )
