"""`flask reimbursements import FILE.csv`: claims for reimbursement of medical costs."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.cli import csv_import, rejects_for
from gateway.db import get_db, rollback
from gateway.reimbursements.importer import ClaimFileError, import_claims
from gateway.wiring import hirfa

reimbursements_cli = AppGroup("reimbursements", help="Reimbursement claims of medical costs (CNSS, paying bank).")


@reimbursements_cli.command("import")
@csv_import
def import_command(file: Path, rejects: Path | None) -> None:
    """Create or update the claims of a CSV file, by claim number; each new status is sent by SMS.

    Columns: claim_number, cin and/or cnss_number, amount_centimes, status, and network,
    pick_up_code, available_until (YYYY-MM-DD), reason as the status needs them. Committed
    as it goes; running the same file again changes nothing and sends nothing.
    """
    db = get_db()
    app = hirfa()
    try:
        summary = import_claims(
            db=db,
            source=file,
            rejects=rejects_for(file, rejects),
            clock=app.clock,
            default_language=app.settings.default_language,
            calls_out=app.settings.calls_out,
            on_batch=db.commit,
        )
    except ClaimFileError as err:
        rollback()
        raise click.ClickException(f"{file}: {err}") from err
    db.commit()
    click.echo(
        f"reimbursements import: {summary.rows} rows, {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.rejected} rejected"
        + (f"; rejects in {summary.rejects}" if summary.rejects else "")
    )
