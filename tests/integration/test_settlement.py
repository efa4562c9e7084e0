"""Settlement files per network and business day, and reconciliation with a statement."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.csv_records import defuse
from gateway.payments.agents import create_agent
from gateway.payments.service import PaymentService
from gateway.payments.settlement import (
    COLUMNS,
    SettlementError,
    SettlementRow,
    format_mad,
    read_statement,
    reconcile,
    settlement_rows,
    write_settlement,
)
from gateway.web import ops
from models import Agent, Artisan, PartnerKey
from tests.helpers import FrozenClock

DAY = dt.date(2026, 11, 24)
HEADER = ",".join(COLUMNS)


@dataclass(frozen=True)
class Day:
    """The receipts made by `payments`, by who paid."""

    omar: str  # wafacash, 23 Nov 23:30 local: the day before
    youssef: str  # wafacash over the API, 24 Nov 00:30 local (23 Nov 23:30 UTC)
    fatima: str  # wafacash by an agent, 24 Nov 11:00 local, reversed at 11:30
    aicha: str  # fellah_cash, 24 Nov: another network
    youssef_next: str  # wafacash, 25 Nov 00:30 local: the day after
    youssef_reference: str
    fatima_reference: str


def artisan_id(db: Session, rna_number: str) -> int:
    found = db.scalar(select(Artisan.id).where(Artisan.rna_number == rna_number))
    assert found is not None
    return found


@pytest.fixture
def payments(app: Flask, demo: Session, clock: FrozenClock) -> Day:
    db = demo
    service = PaymentService(db=db, settings=app.extensions["hirfa"].settings, clock=clock)
    wafacash = create_agent(db, network="wafacash", agent_code="WFC-SET-001", phone="+212700000031", pin="1234")
    fellah = create_agent(db, network="fellah_cash", agent_code="FLC-SET-001", phone="+212700000032", pin="1234")
    key = PartnerKey(key_id="test-wafacash", name="Wafacash", kind="network", network="wafacash", secret_encrypted="-")
    db.add(key)
    db.flush()

    def pay(rna: str, network: str, at: dt.datetime, *, count: int | None, agent: Agent | None) -> tuple[str, str]:
        clock.now = at
        reference, _ = service.request_reference(artisan_id=artisan_id(db, rna), count=count, network=network)
        if agent is not None:
            confirmation = service.confirm(reference=reference.reference, network=network, agent=agent)
        else:
            confirmation = service.confirm(
                reference=reference.reference,
                network=network,
                partner_key_id=key.id,
                agent_code="WFC-SET-001",
                network_txn_id="WF-TXN-0001",
                request_digest="0" * 64,
            )
        return confirmation.payment.receipt_number, reference.reference

    utc = dt.UTC
    omar, _ = pay("DEMO-MRK-0009", "wafacash", dt.datetime(2026, 11, 23, 22, 30, tzinfo=utc), count=1, agent=wafacash)
    youssef, youssef_ref = pay(
        "DEMO-MRK-0002", "wafacash", dt.datetime(2026, 11, 23, 23, 30, tzinfo=utc), count=None, agent=None
    )
    fatima, fatima_ref = pay(
        "DEMO-FES-0001", "wafacash", dt.datetime(2026, 11, 24, 10, tzinfo=utc), count=1, agent=wafacash
    )
    clock.now = dt.datetime(2026, 11, 24, 10, 30, tzinfo=utc)
    service.reverse(receipt_number=fatima, network="wafacash", reason="wrong artisan")
    aicha, _ = pay("DEMO-TIZ-0003", "fellah_cash", dt.datetime(2026, 11, 24, 11, tzinfo=utc), count=2, agent=fellah)
    youssef_next, _ = pay(
        "DEMO-MRK-0002", "wafacash", dt.datetime(2026, 11, 24, 23, 30, tzinfo=utc), count=1, agent=wafacash
    )
    db.commit()
    return Day(omar, youssef, fatima, aicha, youssef_next, youssef_ref, fatima_ref)


def settlement_csv(db: Session, network: str = "wafacash", day: dt.date = DAY) -> list[str]:
    out = io.StringIO()
    write_settlement(settlement_rows(db, network=network, day=day), out)
    return out.getvalue().splitlines()


# Settlement ----------------------------------------------------------------------------


@pytest.mark.parametrize(("centimes", "text"), [(13500, "135.00"), (-13500, "-135.00"), (5, "0.05"), (0, "0.00")])
def test_format_mad(centimes: int, text: str) -> None:
    assert format_mad(centimes) == text


def test_the_settlement_of_a_day(demo: Session, payments: Day) -> None:
    assert settlement_csv(demo) == [
        HEADER,
        f"payment,{payments.youssef},{payments.youssef_reference},2026-11-24T00:30:00+01:00,WFC-SET-001,api,"
        "WF-TXN-0001,40500,405.00,2026-11-24T00:30:00+01:00,",
        f"payment,{payments.fatima},{payments.fatima_reference},2026-11-24T11:00:00+01:00,WFC-SET-001,ussd,,"
        "13500,135.00,2026-11-24T11:00:00+01:00,",
        f"reversal,{payments.fatima},{payments.fatima_reference},2026-11-24T11:00:00+01:00,WFC-SET-001,ussd,,"
        "-13500,-135.00,2026-11-24T11:30:00+01:00,wrong artisan",
        "total,3,,,,,,40500,405.00,,",
    ]


def test_other_days_and_networks_are_left_out(demo: Session, payments: Day) -> None:
    def receipts(network: str, day: dt.date) -> list[tuple[str, str]]:
        return [(row.type, row.receipt_number) for row in settlement_rows(demo, network=network, day=day)]

    assert receipts("wafacash", dt.date(2026, 11, 23)) == [("payment", payments.omar)]
    assert receipts("wafacash", dt.date(2026, 11, 25)) == [("payment", payments.youssef_next)]
    assert receipts("fellah_cash", DAY) == [("payment", payments.aicha)]
    assert receipts("fellah_cash", dt.date(2026, 11, 23)) == []
    assert settlement_csv(demo, "fellah_cash", dt.date(2026, 11, 22)) == [HEADER, "total,0,,,,,,0,0.00,,"]


def test_cli_settlement_writes_the_default_file(
    app: Flask, demo: Session, payments: Day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = app.test_cli_runner().invoke(
        args=["payments", "settlement", "--network", "wafacash", "--date", "2026-11-24"]
    )
    assert result.exit_code == 0, result.output
    assert "3 lines, net 405.00 MAD" in result.output
    written = (tmp_path / "settlement-wafacash-2026-11-24.csv").read_text(encoding="utf-8").splitlines()
    assert written == settlement_csv(demo)


def test_cli_settlement_output_option(app: Flask, demo: Session, payments: Day, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    target = tmp_path / "out.csv"
    args = ["payments", "settlement", "--network", "fellah_cash", "--date", "2026-11-24"]
    assert runner.invoke(args=[*args, "--output", str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8").splitlines()[-1] == "total,1,,,,,,27000,270.00,,"
    to_stdout = runner.invoke(args=[*args, "--output", "-"])
    assert to_stdout.output.splitlines() == settlement_csv(demo, "fellah_cash")
    bad_date = runner.invoke(args=["payments", "settlement", "--network", "wafacash", "--date", "24/11/2026"])
    assert bad_date.exit_code == 2


# Reconciliation ------------------------------------------------------------------------


def our_file(db: Session, path: Path) -> list[str]:
    write_settlement(settlement_rows(db, network="wafacash", day=DAY), path)
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_our_own_file_reconciles(demo: Session, payments: Day, tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    our_file(demo, path)
    result = reconcile(demo, network="wafacash", statement_path=path)
    assert result.day == DAY  # told by the statement's paid_at
    assert result.clean
    assert (result.ours, result.theirs) == (3, 3)


def test_reconcile_finds_every_kind_of_difference(demo: Session, payments: Day, tmp_path: Path) -> None:
    header, youssef, _fatima_paid, reversal, total = our_file(demo, tmp_path / "ours.csv")
    statement = write_lines(
        tmp_path / "statement.csv",
        [
            header,
            youssef.replace(",40500,405.00", ",40000,400.00"),  # line 2: mismatched amount
            reversal,  # line 3; Fatima's payment is missing
            "payment,WF9999999999,1234567890,2026-11-24T12:00:00+01:00,WFC-X,api,,13500,135.00",  # line 4: extra
            "payment,WF8888888888,,2026-11-24T12:00:00+01:00,,,,abc,",  # line 5: malformed
            total,
        ],
    )
    result = reconcile(demo, network="wafacash", statement_path=statement, day=DAY)
    assert [(row.type, row.receipt_number) for row in result.missing] == [("payment", payments.fatima)]
    assert [(line.line_number, line.receipt_number) for line in result.extra] == [(4, "WF9999999999")]
    assert [
        (pair.ours.receipt_number, pair.ours.amount_centimes, pair.theirs.amount_centimes) for pair in result.mismatched
    ] == [(payments.youssef, 40500, 40000)]
    assert [bad.line_number for bad in result.bad_lines] == [5]
    assert "amount_centimes 'abc'" in result.bad_lines[0].reason
    assert not result.clean


def test_reconcile_sees_a_type_mismatch(demo: Session, payments: Day, tmp_path: Path) -> None:
    statement = write_lines(tmp_path / "statement.csv", [HEADER, f"reversal,{payments.omar},,,,,,-13500,-135.00"])
    result = reconcile(demo, network="wafacash", statement_path=statement, day=dt.date(2026, 11, 23))
    assert [(pair.ours.type, pair.theirs.type) for pair in result.mismatched] == [("payment", "reversal")]
    assert not result.missing and not result.extra


def test_reconcile_falls_back_on_the_network_txn_id(demo: Session, payments: Day, tmp_path: Path) -> None:
    # A statement of their own shape: no receipt numbers, no type, amounts in dirhams.
    statement = write_lines(
        tmp_path / "statement.csv",
        ["network_txn_id,paid_at,amount_mad", "WF-TXN-0001,2026-11-24T00:30:00+01:00,405.00", "WF-TXN-0404,,135.00"],
    )
    result = reconcile(demo, network="wafacash", statement_path=statement)
    assert not result.mismatched
    assert sorted((row.type, row.receipt_number) for row in result.missing) == [
        ("payment", payments.fatima),
        ("reversal", payments.fatima),
    ]
    assert [line.network_txn_id for line in result.extra] == ["WF-TXN-0404"]


def test_a_statement_without_its_day_needs_the_date(demo: Session, payments: Day, tmp_path: Path) -> None:
    statement = write_lines(tmp_path / "statement.csv", ["receipt_number,amount_centimes", f"{payments.fatima},13500"])
    with pytest.raises(SettlementError, match="give the date"):
        reconcile(demo, network="wafacash", statement_path=statement)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("payment,WF1,,,,,,13500,135.00,,,surplus", "more cells than columns"),
        ("payment,WF1,,,,,,13500,130.00", "disagree"),
        ("refund,WF1,,,,,,13500,135.00", "is not payment, reversal or total"),
        ("payment,,,,,,,13500,135.00", "no receipt_number and no network_txn_id"),
        ("payment,WF1,,yesterday,,,,13500,135.00", "not an ISO 8601 time"),
        ("payment,WF1,,,,,,,", "no amount"),
        ("payment,WF1,,,,,,13500.5,", "not a whole number"),
        ("payment,WF1,,,,,,,1e3", "not an amount"),
        ("payment,WF\xff\xfe1,,,,,,,abc", "not an amount"),
    ],
)
def test_bad_statement_lines_are_reported_not_raised(tmp_path: Path, line: str, reason: str) -> None:
    statement = tmp_path / "statement.csv"
    good = "payment,WF2,,,,,,13500,135.00"
    statement.write_bytes(f"{HEADER}\n{good}\n{line}\n{good}\n".encode("latin-1"))
    lines, bad = read_statement(statement)
    assert [item.line_number for item in lines] == [2, 4]
    assert [item.line_number for item in bad] == [3]
    assert reason in bad[0].reason


def test_a_spreadsheet_statement_is_read(tmp_path: Path) -> None:
    # Excel set to French: a byte-order mark, semicolons, decimal commas, columns reordered.
    statement = tmp_path / "statement.csv"
    statement.write_text("Amount_MAD;Receipt_Number;Type\r\n135,00;WF1;payment\r\n-135;WF1;reversal\r\n", "utf-8-sig")
    lines, bad = read_statement(statement)
    assert not bad
    assert [(line.type, line.receipt_number, line.amount_centimes) for line in lines] == [
        ("payment", "WF1", 13500),
        ("reversal", "WF1", -13500),
    ]


@pytest.mark.parametrize("header", ["type,receipt_number,paid_at", "type,reference,amount_centimes", ""])
def test_a_statement_without_key_or_amount_is_refused(tmp_path: Path, header: str) -> None:
    statement = write_lines(tmp_path / "statement.csv", [header] if header else [])
    with pytest.raises(SettlementError):
        read_statement(statement)


def test_cli_reconcile(app: Flask, demo: Session, payments: Day, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    ours = tmp_path / "ours.csv"
    header, youssef, fatima, _reversal, total = our_file(demo, ours)
    clean = runner.invoke(args=["payments", "reconcile", str(ours), "--network", "wafacash"])
    assert clean.exit_code == 0, clean.output
    assert "0 missing, 0 extra, 0 mismatched, 0 bad lines" in clean.output

    statement = write_lines(tmp_path / "statement.csv", [header, youssef, fatima, "payment,,,,,,,1,0.01", total])
    differs = runner.invoke(
        args=["payments", "reconcile", str(statement), "--network", "wafacash", "--date", "2026-11-24"]
    )
    assert differs.exit_code == 1
    assert f"missing: reversal {payments.fatima} -135.00" in differs.output
    assert "bad line 4: no receipt_number and no network_txn_id" in differs.output

    # Our wafacash lines are not fellah_cash's: every one of them is extra there.
    other = runner.invoke(args=["payments", "reconcile", str(ours), "--network", "fellah_cash"])
    assert other.exit_code == 1
    assert "1 missing, 3 extra" in other.output

    undated = write_lines(tmp_path / "undated.csv", ["receipt_number,amount_centimes", f"{payments.fatima},13500"])
    refused = runner.invoke(args=["payments", "reconcile", str(undated), "--network", "wafacash"])
    assert refused.exit_code == 1 and "give the date" in refused.output and "Traceback" not in refused.output


# Spreadsheet formulas ----------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_text_from_outside_cannot_run_as_a_formula(start: str) -> None:
    """A network's transaction id, an agent code or a reversal reason starting like a
    formula is written as text (the dashboard's rule, one function); our amounts stay numbers."""
    at = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    txn = f'{start}HYPERLINK("http://evil.example","x")'
    reversal = SettlementRow(
        type="reversal",
        receipt_number="WF0000000001",
        reference="1234567890",
        recorded_at=at,
        paid_at=at,
        agent_code=f"{start}A1",
        channel="api",
        network_txn_id=txn,
        amount_centimes=-13500,
        reversal_reason=f"{start}1+2",
    )
    out = io.StringIO()
    write_settlement([reversal], out)
    header, line, total = csv.reader(io.StringIO(out.getvalue()))
    cells = dict(zip(header, line, strict=True))
    assert cells["network_txn_id"] == "'" + txn
    assert cells["agent_code"] == f"'{start}A1"
    assert cells["reversal_reason"] == f"'{start}1+2"
    assert (cells["amount_centimes"], cells["amount_mad"]) == ("-13500", "-135.00")
    assert total[:2] == ["total", "1"]
    assert ops.defuse is defuse  # the dashboard's exports and this file share the rule
