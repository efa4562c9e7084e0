"""Import of reimbursement claims from a CSV file (`flask reimbursements import FILE.csv`).

Rows go one by one through `upsert_claim`, the same checks as the partner API; a row
it refuses goes to a rejects CSV with its line and reason, and the others are kept.
Claims come by the thousand, not by the hundred thousand like the RNA register, and
each may queue an SMS: the ORM and the service's own statements are fast enough.

Importing the same file again changes nothing and queues no SMS: an unchanged claim is
not written, and a claim number may appear only once in a file (two rows of one claim
would otherwise flip its status back and forth, an SMS each time, at every run).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from gateway.csv_records import FileRefused, RejectsFile, check_rejects_path, csv_records, read_header
from gateway.errors import Refusal
from gateway.reimbursements.service import AMOUNT_MAX, Clock, parse_date, upsert_claim

COLUMNS: Final = (
    "claim_number", "cin", "cnss_number", "amount_centimes", "status",
    "network", "pick_up_code", "available_until", "reason",
)  # fmt: skip
REQUIRED_COLUMNS: Final = ("claim_number", "amount_centimes", "status")
IDENTITY_COLUMNS: Final = ("cin", "cnss_number")  # at least one of them
AMOUNT_RE: Final = re.compile(r"[0-9]{1,10}")


class ClaimFileError(FileRefused):
    """The file cannot be imported at all (as opposed to a bad row, which is rejected)."""


@dataclass(frozen=True)
class ClaimImportSummary:
    """What an import did: `rows` (records read) = created + updated + unchanged + rejected."""

    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    rejects: Path | None


def import_claims(
    *,
    db: Session,
    source: Path,
    rejects: Path,
    clock: Clock,
    default_language: str,
    calls_out: bool = False,
    batch_size: int = 500,
    on_batch: Callable[[], None] | None = None,
) -> ClaimImportSummary:
    """Create or update the claims of a CSV file by claim number; write bad rows to `rejects`.

    The file is UTF-8 (a BOM is allowed) with a header row naming at least
    REQUIRED_COLUMNS and one of IDENTITY_COLUMNS; the other COLUMNS may be absent, and
    an empty cell is no value. Amounts are in centimes, dates YYYY-MM-DD. Rejected rows
    are written to `rejects` (created only if there is one; a stale one from an earlier
    run is removed) with the source columns plus `line` (the header is line 1) and
    `reason`.

    Nothing is committed here: `on_batch` is called every `batch_size` rows and at the
    end, so that the caller can commit as it goes. Raises ClaimFileError when the file
    has no header, lacks columns, or is not UTF-8 / CSV.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    check_rejects_path(source, rejects, ClaimFileError)
    created = updated = unchanged = rows = 0
    # The line of the row that brought in each claim number.
    seen: dict[str, int] = {}
    with source.open(encoding="utf-8-sig", newline="") as handle, RejectsFile(rejects) as rejects_file:
        reader = csv.reader(handle)
        header = read_header(reader, ClaimFileError, REQUIRED_COLUMNS, one_of=IDENTITY_COLUMNS)
        rejects_file.header = header
        index = {name.strip().lower(): position for position, name in enumerate(header)}
        for line, cells in csv_records(reader, ClaimFileError):
            rows += 1
            try:
                values = _values(cells, index, width=len(header))
                number = values["claim_number"]
                if number in seen:
                    raise Refusal("invalid_field", f"claim_number: duplicate of line {seen[number]}")
                outcome = upsert_claim(
                    db, **values, clock=clock, default_language=default_language, calls_out=calls_out
                )
            except Refusal as error:
                rejects_file.write(line, cells, error.message)
            else:
                seen[number] = line
                created += outcome.created
                updated += outcome.changed and not outcome.created
                unchanged += not outcome.changed
            if on_batch is not None and rows % batch_size == 0:
                on_batch()
    if on_batch is not None:
        on_batch()
    return ClaimImportSummary(
        rows=rows,
        created=created,
        updated=updated,
        unchanged=unchanged,
        rejected=rejects_file.count,
        rejects=rejects if rejects_file.count else None,
    )


def _values(cells: list[str], index: dict[str, int], *, width: int) -> dict[str, Any]:
    """The row as `upsert_claim` arguments: empty cells are None, amounts and dates parsed."""
    if len(cells) != width:
        raise Refusal("invalid_field", f"row: {len(cells)} fields where the header has {width}")
    if any("\x00" in cell for cell in cells):
        raise Refusal("invalid_field", "row: contains a NUL character")
    cell = {name: (cells[index[name]].strip() or None) if name in index else None for name in COLUMNS}
    amount = cell["amount_centimes"]
    if amount is None or not AMOUNT_RE.fullmatch(amount):
        raise Refusal("invalid_field", f"amount_centimes: a whole number from 0 to {AMOUNT_MAX}")
    if cell["status"] is None:
        raise Refusal("invalid_field", "status: empty")
    until = cell["available_until"]
    return {
        "claim_number": cell["claim_number"] or "",
        "cin": cell["cin"],
        "cnss_number": cell["cnss_number"],
        "amount_centimes": int(amount),
        "status": cell["status"].lower(),
        "network": cell["network"].lower() if cell["network"] else None,
        "pick_up_code": cell["pick_up_code"],
        "available_until": parse_date(until, "available_until") if until is not None else None,
        "reason": cell["reason"],
    }
