"""A network's settlement file for one business day, and reconciliation with its statement.

The business day is the Africa/Casablanca date of when Hirfa recorded the line, on its
own clock: `created_at` for a payment, `reversed_at` for a reversal (the column
`recorded_at`). The network's `paid_at` is shown as information; it never moves a line to
another day. A payment reversed the same day appears twice, once positive and once
negative, so the net is what the network owes. Money stays in integer centimes;
`amount_mad` is formatted from them, never through a float. Text that came from outside
(transaction ids, agent codes, reasons) is defused as the dashboard's exports are."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO
from gateway.csv_records import defuse
from gateway.payments.service import business_day_bounds
from models import Payment, PaymentReference
from models.payments import NETWORKS

COLUMNS: Final = (
    "type",
    "receipt_number",
    "reference",
    "paid_at",
    "agent_code",
    "channel",
    "network_txn_id",
    "amount_centimes",
    "amount_mad",
    # Added last, so that a reader of the earlier columns by position reads them still.
    "recorded_at",
    "reversal_reason",
)
LINE_TYPES: Final = ("payment", "reversal")
CENTIMES_RE: Final = re.compile(r"[+-]?[0-9]{1,12}")
# 135.00, -135, 135,5 (a spreadsheet set to French writes a decimal comma)
MAD_RE: Final = re.compile(r"([+-]?)([0-9]{1,10})(?:[.,]([0-9]{1,2}))?")


class SettlementError(ValueError):
    """The statement cannot be reconciled at all (a bad line is reported, not raised)."""


@dataclass(frozen=True)
class SettlementRow:
    type: str  # payment | reversal
    receipt_number: str
    reference: str
    recorded_at: dt.datetime  # UTC, our clock: of the payment, or of its reversal
    paid_at: dt.datetime  # UTC, the network's word; a reversal keeps its payment's
    agent_code: str
    channel: str
    network_txn_id: str
    amount_centimes: int  # negative for a reversal
    reversal_reason: str = ""


@dataclass(frozen=True)
class StatementLine:
    """One usable line of a network's statement."""

    line_number: int
    type: str
    receipt_number: str
    network_txn_id: str
    amount_centimes: int
    paid_at: dt.datetime | None


@dataclass(frozen=True)
class BadLine:
    line_number: int
    reason: str


@dataclass(frozen=True)
class Mismatch:
    ours: SettlementRow
    theirs: StatementLine


@dataclass(frozen=True)
class Reconciliation:
    network: str
    day: dt.date
    ours: int  # lines in our settlement
    theirs: int  # usable lines in the statement
    missing: list[SettlementRow]  # ours, not in the statement
    extra: list[StatementLine]  # in the statement, not ours
    mismatched: list[Mismatch]  # same receipt, another amount or type
    bad_lines: list[BadLine]  # statement lines left out

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.mismatched or self.bad_lines)


def format_mad(centimes: int) -> str:
    """13500 -> `135.00`, -5 -> `-0.05`."""
    dirhams, rest = divmod(abs(centimes), 100)
    return f"{'-' if centimes < 0 else ''}{dirhams}.{rest:02d}"


def default_settlement_path(network: str, day: dt.date) -> Path:
    return Path(f"settlement-{network}-{day.isoformat()}.csv")


def settlement_rows(db: Session, *, network: str, day: dt.date) -> list[SettlementRow]:
    """The network's payments and reversals of the business day `day`, in time order."""
    if network not in NETWORKS:
        raise SettlementError(f"unknown network {network!r}")
    start, end = business_day_bounds(day)
    query = select(Payment, PaymentReference.reference).join(
        PaymentReference, PaymentReference.id == Payment.reference_id
    )
    paid = db.execute(query.where(Payment.network == network, Payment.created_at >= start, Payment.created_at < end))
    reversed_ = db.execute(
        query.where(Payment.network == network, Payment.reversed_at >= start, Payment.reversed_at < end)
    )
    rows = [_row(payment, reference, "payment") for payment, reference in paid]
    rows += [_row(payment, reference, "reversal") for payment, reference in reversed_]
    return sorted(rows, key=lambda row: (row.recorded_at, row.receipt_number, row.type))


def _row(payment: Payment, reference: str, kind: str) -> SettlementRow:
    recorded_at = payment.created_at if kind == "payment" else payment.reversed_at
    assert recorded_at is not None  # a reversal line is read by its reversed_at
    return SettlementRow(
        type=kind,
        receipt_number=payment.receipt_number,
        reference=reference,
        recorded_at=recorded_at,
        paid_at=payment.paid_at,
        agent_code=payment.agent_code or "",
        channel=payment.channel,
        network_txn_id=payment.network_txn_id or "",
        amount_centimes=payment.amount_centimes if kind == "payment" else -payment.amount_centimes,
        reversal_reason=(payment.reversal_reason or "") if kind == "reversal" else "",
    )


def write_settlement(rows: Iterable[SettlementRow], path_or_stream: Path | str | TextIO) -> None:
    """The CSV: a header, one line per row, then a `total` line whose `receipt_number`
    holds the count of lines and whose amounts are the net of the day."""
    if isinstance(path_or_stream, Path | str):
        with Path(path_or_stream).open("w", encoding="utf-8", newline="") as handle:
            _write(rows, handle)
    else:
        _write(rows, path_or_stream)


def _write(rows: Iterable[SettlementRow], stream: TextIO) -> None:
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    count = net = 0
    for row in rows:
        # The amounts are ours and numbers (a leading minus is a sign, not a formula);
        # every text cell goes through defuse.
        writer.writerow(
            [
                row.type,
                defuse(row.receipt_number),
                defuse(row.reference),
                row.paid_at.astimezone(MOROCCO).isoformat(timespec="seconds"),
                defuse(row.agent_code),
                defuse(row.channel),
                defuse(row.network_txn_id),
                row.amount_centimes,
                format_mad(row.amount_centimes),
                row.recorded_at.astimezone(MOROCCO).isoformat(timespec="seconds"),
                defuse(row.reversal_reason),
            ]
        )
        count += 1
        net += row.amount_centimes
    writer.writerow(["total", count, "", "", "", "", "", net, format_mad(net), "", ""])


# Reconciliation ------------------------------------------------------------------------


def _cell(record: dict[str | None, str | list[str] | None], column: str) -> str:
    value = record.get(column)
    return value.strip() if isinstance(value, str) else ""


def _amount(record: dict[str | None, str | list[str] | None]) -> int:
    centimes_text, mad_text = _cell(record, "amount_centimes"), _cell(record, "amount_mad")
    centimes = mad = None
    if centimes_text:
        if CENTIMES_RE.fullmatch(centimes_text) is None:
            raise ValueError(f"amount_centimes {centimes_text[:20]!r} is not a whole number")
        centimes = int(centimes_text)
    if mad_text:
        match = MAD_RE.fullmatch(mad_text)
        if match is None:
            raise ValueError(f"amount_mad {mad_text[:20]!r} is not an amount")
        sign, dirhams, decimals = match.groups()
        mad = int(dirhams) * 100 + int((decimals or "0").ljust(2, "0"))
        mad = -mad if sign == "-" else mad
    if centimes is None:
        if mad is None:
            raise ValueError("no amount")
        return mad
    if mad is not None and centimes != mad:
        raise ValueError(f"amount_centimes {centimes} and amount_mad {mad_text[:20]!r} disagree")
    return centimes


def _timestamp(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"paid_at {text[:40]!r} is not an ISO 8601 time") from None
    # A time without an offset is read as Moroccan local time, the counters' clock.
    return value.replace(tzinfo=MOROCCO) if value.tzinfo is None else value


def _statement_line(line_number: int, record: dict[str | None, str | list[str] | None]) -> StatementLine | None:
    """The line, or None for a totals line; raises ValueError for a bad one."""
    if None in record:
        raise ValueError("more cells than columns")
    kind = _cell(record, "type").lower()
    if kind == "total":
        return None
    amount = _amount(record)
    if not kind:  # no type column: the sign tells
        kind = "reversal" if amount < 0 else "payment"
    if kind not in LINE_TYPES:
        raise ValueError(f"type {kind[:20]!r} is not payment, reversal or total")
    receipt, txn = _cell(record, "receipt_number"), _cell(record, "network_txn_id")
    if not receipt and not txn:
        raise ValueError("no receipt_number and no network_txn_id")
    return StatementLine(
        line_number=line_number,
        type=kind,
        receipt_number=receipt,
        network_txn_id=txn,
        amount_centimes=amount,
        paid_at=_timestamp(_cell(record, "paid_at")),
    )


def read_statement(path: Path) -> tuple[list[StatementLine], list[BadLine]]:
    """The usable lines of a network's statement and the bad ones (with their line number).

    Columns are those of our settlement file, any order; only a key (`receipt_number` or
    `network_txn_id`) and an amount (`amount_centimes` or `amount_mad`) are required."""
    # Bytes that are not UTF-8 become U+FFFD: the line they are in is judged, not the file.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline()
        handle.seek(0)
        delimiter = ";" if first.count(";") > first.count(",") else ","
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        if not {"receipt_number", "network_txn_id"} & set(header):
            raise SettlementError("the statement has no receipt_number or network_txn_id column")
        if not {"amount_centimes", "amount_mad"} & set(header):
            raise SettlementError("the statement has no amount_centimes or amount_mad column")
        reader.fieldnames = header
        lines: list[StatementLine] = []
        bad: list[BadLine] = []
        try:
            for record in reader:
                try:
                    line = _statement_line(reader.line_num, record)
                except ValueError as err:
                    bad.append(BadLine(reader.line_num, str(err)))
                    continue
                if line is not None:
                    lines.append(line)
        except csv.Error as err:  # such as a NUL byte: the rest of the file cannot be read
            bad.append(BadLine(reader.line_num, f"unreadable from here on: {err}"))
    return lines, bad


def _statement_day(lines: list[StatementLine]) -> dt.date:
    days = {line.paid_at.astimezone(MOROCCO).date() for line in lines if line.paid_at is not None}
    if len(days) != 1:
        found = ", ".join(sorted(day.isoformat() for day in days)) or "none"
        raise SettlementError(f"cannot tell the statement's day from paid_at (found: {found}); give the date")
    return days.pop()


def reconcile(db: Session, *, network: str, statement_path: Path, day: dt.date | None = None) -> Reconciliation:
    """Compare the network's statement with our settlement of `day` (by default the one
    day of the statement's `paid_at` times). Lines match by receipt number, or by
    network_txn_id when the statement has no receipt number."""
    lines, bad = read_statement(Path(statement_path))
    if day is None:
        day = _statement_day(lines)
    ours = settlement_rows(db, network=network, day=day)
    by_txn = {row.network_txn_id: row.receipt_number for row in ours if row.network_txn_id}

    our_lines: dict[str, list[SettlementRow]] = defaultdict(list)
    for row in ours:
        our_lines[row.receipt_number].append(row)
    their_lines: dict[str, list[StatementLine]] = defaultdict(list)
    for line in lines:
        # An unknown txn id gets a key no receipt number can have: it ends up extra.
        key = line.receipt_number or by_txn.get(line.network_txn_id, "\0txn:" + line.network_txn_id)
        their_lines[key].append(line)

    missing: list[SettlementRow] = []
    extra: list[StatementLine] = []
    mismatched: list[Mismatch] = []
    for key in our_lines.keys() | their_lines.keys():
        mine, theirs = list(our_lines.get(key, [])), list(their_lines.get(key, []))
        # A receipt has at most a payment and its reversal: pair lines of the same type
        # first, then whatever is left over on both sides differs in type.
        for row in list(mine):
            same = next((line for line in theirs if line.type == row.type), None)
            if same is not None:
                mine.remove(row)
                theirs.remove(same)
                if same.amount_centimes != row.amount_centimes:
                    mismatched.append(Mismatch(row, same))
        while mine and theirs:
            mismatched.append(Mismatch(mine.pop(0), theirs.pop(0)))
        missing.extend(mine)
        extra.extend(theirs)
    return Reconciliation(
        network=network,
        day=day,
        ours=len(ours),
        theirs=len(lines),
        missing=sorted(missing, key=lambda row: (row.receipt_number, row.type)),
        extra=sorted(extra, key=lambda line: line.line_number),
        mismatched=sorted(mismatched, key=lambda pair: pair.theirs.line_number),
        bad_lines=bad,
    )


def describe(result: Reconciliation) -> list[str]:
    """The reconciliation as lines of text for staff (the CLI prints them)."""

    def plural(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    out = [
        f"reconcile {result.network} {result.day.isoformat()}: {plural(result.ours, 'line')} ours, "
        f"{plural(result.theirs, 'line')} theirs; {len(result.missing)} missing, {len(result.extra)} extra, "
        f"{len(result.mismatched)} mismatched, {plural(len(result.bad_lines), 'bad line')}"
    ]
    out += [f"missing: {row.type} {row.receipt_number} {format_mad(row.amount_centimes)}" for row in result.missing]
    out += [
        f"extra: line {line.line_number}: {line.type} {line.receipt_number or line.network_txn_id} "
        f"{format_mad(line.amount_centimes)}"
        for line in result.extra
    ]
    out += [
        f"mismatched: line {pair.theirs.line_number}: {pair.ours.receipt_number} ours {pair.ours.type} "
        f"{format_mad(pair.ours.amount_centimes)}, theirs {pair.theirs.type} {format_mad(pair.theirs.amount_centimes)}"
        for pair in result.mismatched
    ]
    out += [f"bad line {bad.line_number}: {bad.reason}" for bad in result.bad_lines]
    return out
