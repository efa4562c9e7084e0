"""Import of cash points from a CSV file (`flask cashpoints import FILE.csv`).

The networks send their list of counters now and then; a row is matched by its code,
inserted or brought up to date, and a bad row goes to a rejects CSV with its line and
reason while the good ones are kept. Running the same file again changes nothing.
A point missing from the file is left as it is: withdrawing one takes `active` false.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cashpoints.service import commune_provinces
from gateway.csv_records import FileRefused, RejectsFile, check_rejects_path, csv_records, read_header
from models import CashPoint
from models.payments import NETWORKS

COLUMNS: Final = ("network", "code", "name", "address", "commune_code", "opening_hours", "active")
REQUIRED_COLUMNS: Final = ("network", "code", "name", "commune_code")
# Widths of the columns in models.payments.CashPoint.
WIDTHS: Final = {"code": 32, "name": 120, "address": 255, "opening_hours": 120}
ACTIVE_VALUES: Final = {"": True, "1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class CashPointFileError(FileRefused):
    """The file cannot be imported at all (as opposed to a bad row, which is rejected)."""


class _BadRow(ValueError):
    pass


@dataclass(frozen=True)
class CashPointImportSummary:
    """What an import did: `rows` (records read) = created + updated + unchanged + rejected."""

    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    rejects: Path | None


def import_cash_points(
    *, db: Session, source: Path, rejects: Path, on_batch: Callable[[], None] | None = None, batch_size: int = 500
) -> CashPointImportSummary:
    """Create or update the cash points of a CSV file by code; write bad rows to `rejects`.

    UTF-8 (a BOM is allowed) with a header naming at least REQUIRED_COLUMNS; `address`,
    `opening_hours` and `active` (true/false, 1/0, yes/no; empty is true) may be absent.
    Rejected rows go to `rejects` (created only when there is one; a stale one is removed)
    with the source columns plus `line` (the header is line 1) and `reason`. Nothing is
    committed here: `on_batch` is called every `batch_size` rows and at the end. Raises
    CashPointFileError when the file has no usable header or is not UTF-8 / CSV.
    """
    check_rejects_path(source, rejects, CashPointFileError)
    created = updated = unchanged = rows = 0
    seen: dict[str, int] = {}
    with source.open(encoding="utf-8-sig", newline="") as handle, RejectsFile(rejects) as rejects_file:
        reader = csv.reader(handle)
        header = read_header(reader, CashPointFileError, REQUIRED_COLUMNS)
        rejects_file.header = header
        index = {name.strip().lower(): position for position, name in enumerate(header)}
        for line, cells in csv_records(reader, CashPointFileError):
            rows += 1
            try:
                values = _values(cells, index, width=len(header))
                code = values["code"]
                if code in seen:
                    raise _BadRow(f"code: duplicate of line {seen[code]}")
            except _BadRow as bad:
                rejects_file.write(line, cells, str(bad))
            else:
                seen[code] = line
                outcome = _upsert(db, values)
                created += outcome == "created"
                updated += outcome == "updated"
                unchanged += outcome == "unchanged"
            if on_batch is not None and rows % batch_size == 0:
                on_batch()
    if on_batch is not None:
        on_batch()
    return CashPointImportSummary(
        rows=rows,
        created=created,
        updated=updated,
        unchanged=unchanged,
        rejected=rejects_file.count,
        rejects=rejects if rejects_file.count else None,
    )


def _upsert(db: Session, values: dict[str, Any]) -> str:
    cash_point = db.scalar(select(CashPoint).where(CashPoint.code == values["code"]))
    if cash_point is None:
        db.add(CashPoint(**values))
        db.flush()
        return "created"
    changed = {key: value for key, value in values.items() if getattr(cash_point, key) != value}
    if not changed:
        return "unchanged"
    for key, value in changed.items():
        setattr(cash_point, key, value)
    db.flush()
    return "updated"


def _values(cells: list[str], index: dict[str, int], *, width: int) -> dict[str, Any]:
    if len(cells) != width:
        raise _BadRow(f"{len(cells)} cells where the header has {width}")
    cell = {name: cells[index[name]].strip() if name in index else "" for name in COLUMNS}
    errors: list[str] = []
    if cell["network"] not in NETWORKS:
        errors.append(f"network: {cell['network']!r} is not {' or '.join(NETWORKS)}")
    for name in ("code", "name", "commune_code"):
        if not cell[name]:
            errors.append(f"{name}: missing")
    for name, most in WIDTHS.items():
        if len(cell[name]) > most:
            errors.append(f"{name}: longer than {most} characters")
    if cell["commune_code"] and cell["commune_code"] not in commune_provinces():
        errors.append(f"commune_code: no commune {cell['commune_code']!r} in the HCP list")
    active = ACTIVE_VALUES.get(cell["active"].lower())
    if active is None:
        errors.append(f"active: {cell['active']!r} is not true or false")
    if errors:
        raise _BadRow("; ".join(errors))
    return {
        "network": cell["network"],
        "code": cell["code"],
        "name": cell["name"],
        "address": cell["address"],
        "commune_code": cell["commune_code"],
        "opening_hours": cell["opening_hours"],
        "active": active,
    }
