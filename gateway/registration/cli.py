"""`flask rna import FILE.csv`: load the national register of handicrafts (RNA)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.cli import csv_import, rejects_for
from gateway.db import get_db, rollback
from gateway.registration.chambers import ChamberFileError, import_chambers
from gateway.registration.rna_import import RnaFileError, import_rna
from gateway.wiring import hirfa

rna_cli = AppGroup("rna", help="The national register of handicrafts (RNA).")


@rna_cli.command("import")
@csv_import
def import_command(file: Path, rejects: Path | None) -> None:
    """Create or update the artisans of an RNA CSV export, by RNA number.

    Each batch is committed as it goes, so a long import keeps what it has done if it
    stops; running the same file again changes nothing.
    """
    db = get_db()
    started = time.monotonic()
    try:
        summary = import_rna(
            db=db,
            source=file,
            rejects=rejects_for(file, rejects),
            clock=lambda: datetime.now(UTC),
            on_batch=db.commit,
        )
    except RnaFileError as err:
        rollback()
        raise click.ClickException(f"{file}: {err}") from err
    db.commit()
    seconds = time.monotonic() - started
    click.echo(
        f"rna import: {summary.rows} rows, {summary.inserted} inserted, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.rejected} rejected in {seconds:.1f} s"
        + (f"; rejects in {summary.rejects}" if summary.rejects else "")
    )


chambers_cli = AppGroup("chambers", help="The chambers of crafts, one per region.")


@chambers_cli.command("import")
@csv_import
def import_chambers_command(file: Path, rejects: Path | None) -> None:
    """Create or update the chambers of crafts of a CSV file, by region code.

    Columns: region_code (01 to 12), name_ar, name_fr, address, phone, and optionally
    active and demo (true/false; demo rows are refused in production). Registration
    requests go to the chamber of their region; its address and phone are in their SMS.
    """
    db = get_db()
    try:
        summary = import_chambers(
            db=db,
            source=file,
            rejects=rejects_for(file, rejects),
            production=hirfa().settings.is_production,
        )
    except ChamberFileError as err:
        rollback()
        raise click.ClickException(f"{file}: {err}") from err
    db.commit()
    click.echo(
        f"chambers import: {summary.rows} rows, {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.rejected} rejected"
        + (f"; rejects in {summary.rejects}" if summary.rejects else "")
    )
