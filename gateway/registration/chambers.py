"""The chambers of crafts, one per region (`flask chambers import FILE.csv`), and the
demo's rows.

A row is matched by its region code and inserted or brought up to date; a bad row goes
to a rejects CSV with its line and reason while the good ones are kept. A row marked
`demo` is refused by a production app: production refuses to start while a demo
chamber is active (gateway.demo.holds_demo_data)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from gateway.cashpoints.service import regions
from gateway.csv_records import FileRefused, RejectsFile, check_rejects_path, csv_records, read_header
from models import Chamber

COLUMNS: Final = ("region_code", "name_ar", "name_fr", "address", "phone", "active", "demo")
REQUIRED_COLUMNS: Final = ("region_code", "name_ar", "name_fr", "address", "phone")
WIDTHS: Final = {"name_ar": 80, "name_fr": 80, "address": 80, "phone": 20}
FLAGS: Final = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class ChamberFileError(FileRefused):
    """The file cannot be imported at all (as opposed to a bad row, which is rejected)."""


class _BadRow(ValueError):
    pass


@dataclass(frozen=True)
class ChamberImportSummary:
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    rejects: Path | None


def import_chambers(*, db: Session, source: Path, rejects: Path, production: bool) -> ChamberImportSummary:
    """Create or update the chambers of a CSV file by region code; bad rows to `rejects`.

    UTF-8 (a BOM is allowed) with a header naming at least REQUIRED_COLUMNS; `active`
    (empty: true) and `demo` (empty: false) take true/false, 1/0, yes/no. In
    `production` a demo row is rejected. Flushes only. Raises ChamberFileError."""
    check_rejects_path(source, rejects, ChamberFileError)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    rows = 0
    seen: dict[str, int] = {}
    with source.open(encoding="utf-8-sig", newline="") as handle, RejectsFile(rejects) as rejects_file:
        reader = csv.reader(handle)
        header = read_header(reader, ChamberFileError, REQUIRED_COLUMNS)
        rejects_file.header = header
        index = {name.strip().lower(): position for position, name in enumerate(header)}
        for line, cells in csv_records(reader, ChamberFileError):
            rows += 1
            try:
                values = _values(cells, index, width=len(header), production=production)
                if values["region_code"] in seen:
                    raise _BadRow(f"region_code: duplicate of line {seen[values['region_code']]}")
            except _BadRow as bad:
                rejects_file.write(line, cells, str(bad))
                continue
            seen[values["region_code"]] = line
            counts[upsert_chamber(db, values)] += 1
    return ChamberImportSummary(
        rows=rows,
        rejected=rejects_file.count,
        rejects=rejects if rejects_file.count else None,
        **counts,
    )


def upsert_chamber(db: Session, values: dict[str, Any]) -> str:
    chamber = db.get(Chamber, values["region_code"])
    if chamber is None:
        db.add(Chamber(**values))
        db.flush()
        return "created"
    changed = {key: value for key, value in values.items() if getattr(chamber, key) != value}
    for key, value in changed.items():
        setattr(chamber, key, value)
    db.flush()
    return "updated" if changed else "unchanged"


def _values(cells: list[str], index: dict[str, int], *, width: int, production: bool) -> dict[str, Any]:
    if len(cells) != width:
        raise _BadRow(f"{len(cells)} cells where the header has {width}")
    cell = {name: cells[index[name]].strip() if name in index else "" for name in COLUMNS}
    errors: list[str] = []
    if cell["region_code"] not in {region.code for region in regions()}:
        errors.append(f"region_code: {cell['region_code']!r} is not a region of the HCP list (01 to 12)")
    for name in REQUIRED_COLUMNS[1:]:
        if not cell[name]:
            errors.append(f"{name}: missing")
    for name, most in WIDTHS.items():
        if len(cell[name]) > most:
            errors.append(f"{name}: longer than {most} characters")
    if cell["phone"] and not all(ch.isdigit() or ch in " +" for ch in cell["phone"]):
        errors.append("phone: digits, spaces and + only")
    active = FLAGS.get(cell["active"].lower() or "true")
    demo = FLAGS.get(cell["demo"].lower() or "false")
    if active is None:
        errors.append(f"active: {cell['active']!r} is not true or false")
    if demo is None:
        errors.append(f"demo: {cell['demo']!r} is not true or false")
    elif demo and production:
        errors.append("demo: demo chambers are refused in production")
    if errors:
        raise _BadRow("; ".join(errors))
    return {**{name: cell[name] for name in COLUMNS[:5]}, "active": active, "demo": demo}


def demo_chambers() -> list[dict[str, Any]]:
    """One PLACEHOLDER chamber per region for the demo (marked `demo`): the real names,
    addresses and phones come with `flask chambers import`."""
    return [
        {
            "region_code": region.code,
            "name_ar": f"غرفة الصناعة التقليدية {region.name_ar}",
            "name_fr": f"Chambre d'artisanat {region.name_fr}",
            "address": region.name_fr,
            "phone": f"05{int(region.code):02d}000000",
            "active": True,
            "demo": True,
        }
        for region in regions()
    ]
