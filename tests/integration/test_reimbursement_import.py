"""`flask reimbursements import FILE.csv` on a real PostgreSQL, with the demo artisans
(Fatima CD234567, Aicha JK456789, Omar JB123456 without a phone) and a frozen clock."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.reimbursements.importer import COLUMNS, ClaimFileError, ClaimImportSummary, import_claims
from models import OutboxMessage, ReimbursementClaim
from tests.helpers import FrozenClock


def row(number: str, **cells: str) -> dict[str, str]:
    return {"claim_number": number, "cin": "JK456789", "amount_centimes": "32050", "status": "received"} | cells


READY = {"status": "available", "network": "wafacash", "pick_up_code": "WF-1", "available_until": "2026-12-08"}
ROWS = [
    row("CLM-1"),
    row("CLM-2", cin="", cnss_number="1000000001", **READY),  # Fatima, by her CNSS number
    row("CLM-3", amount_centimes="12,50"),  # rejected: not centimes
    row("CLM-4", status="available"),  # rejected: nowhere to collect it
    row("CLM-5", cin="ZZ999999"),  # rejected: nobody
    row("CLM-1", status="approved"),  # rejected: CLM-1 again
    row("CLM-6", cin="JB123456", status="Rejected", reason="Pièce manquante"),  # Omar: no phone, no SMS
    row("CLM-7", available_until="2026-13-01"),  # rejected: no such date
]


def write_csv(path: Path, rows: list[dict[str, str]], *, columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def run(db: Session, clock: FrozenClock, source: Path) -> ClaimImportSummary:
    summary = import_claims(
        db=db, source=source, rejects=source.with_suffix(".rejects.csv"), clock=clock, default_language="ar"
    )
    db.commit()
    return summary


def claims(db: Session) -> dict[str, ReimbursementClaim]:
    db.expire_all()
    query = select(ReimbursementClaim).where(ReimbursementClaim.claim_number.not_like("DEMO-%"))
    return {claim.claim_number: claim for claim in db.scalars(query)}


def claim_sms(db: Session) -> list[tuple[str, str]]:
    query = select(OutboxMessage.template, OutboxMessage.recipient).order_by(OutboxMessage.id)
    return [(template, recipient) for template, recipient in db.execute(query)]


def test_good_rows_are_kept_and_bad_ones_rejected_with_line_and_reason(
    demo: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "claims.csv", ROWS)
    summary = run(demo, clock, source)

    assert (summary.rows, summary.created, summary.updated, summary.unchanged, summary.rejected) == (8, 3, 0, 0, 5)
    assert summary.rejects == tmp_path / "claims.rejects.csv"
    rejects = read_rejects(tmp_path / "claims.rejects.csv")
    assert [(r["line"], r["claim_number"]) for r in rejects] == [
        ("4", "CLM-3"),
        ("5", "CLM-4"),
        ("6", "CLM-5"),
        ("7", "CLM-1"),
        ("9", "CLM-7"),
    ]
    reasons = [r["reason"] for r in rejects]
    assert reasons[0].startswith("amount_centimes:")
    assert "network, pick_up_code, available_until" in reasons[1]
    assert "no artisan" in reasons[2] and "duplicate of line 2" in reasons[3]
    assert reasons[4].startswith("available_until:")
    assert list(rejects[0])[: len(COLUMNS)] == list(COLUMNS)  # the source's columns, as given
    found = claims(demo)
    assert sorted(found) == ["CLM-1", "CLM-2", "CLM-6"]
    assert (found["CLM-2"].status, found["CLM-2"].pick_up_code) == ("available", "WF-1")
    assert (found["CLM-6"].status, found["CLM-6"].reason) == ("rejected", "Pièce manquante")
    assert claim_sms(demo) == [("claim_received", "+212600000003"), ("claim_available", "+212600000001")]


def test_the_same_file_again_changes_nothing_and_sends_nothing(
    demo: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "claims.csv", ROWS)
    run(demo, clock, source)
    before = {number: (c.status, c.updated_at) for number, c in claims(demo).items()}
    sent = claim_sms(demo)
    clock.advance(hours=2)
    again = run(demo, clock, source)
    assert (again.rows, again.created, again.updated, again.unchanged, again.rejected) == (8, 0, 0, 3, 5)
    assert {number: (c.status, c.updated_at) for number, c in claims(demo).items()} == before
    assert claim_sms(demo) == sent


def test_a_later_file_moves_claims_on(demo: Session, clock: FrozenClock, tmp_path: Path) -> None:
    run(demo, clock, write_csv(tmp_path / "monday.csv", [row("CLM-1"), row("CLM-2")]))
    clock.advance(days=1)
    later = write_csv(tmp_path / "tuesday.csv", [row("CLM-1", **READY), row("CLM-2", amount_centimes="30000")])
    summary = run(demo, clock, later)
    assert (summary.created, summary.updated, summary.unchanged, summary.rejects) == (0, 2, 0, None)
    assert [template for template, _ in claim_sms(demo)] == ["claim_received", "claim_received", "claim_available"]


def test_a_stale_rejects_file_is_removed(demo: Session, clock: FrozenClock, tmp_path: Path) -> None:
    stale = tmp_path / "claims.rejects.csv"
    stale.write_text("old\n")
    assert run(demo, clock, write_csv(tmp_path / "claims.csv", [row("CLM-1")])).rejects is None
    assert not stale.exists()


def test_optional_columns_may_be_left_out(demo: Session, clock: FrozenClock, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "claims.csv",
        [row("CLM-1", cin="", cnss_number="1000000003")],
        columns=("claim_number", "cnss_number", "amount_centimes", "status"),
    )
    assert run(demo, clock, source).created == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("claim_number,cin,status\nCLM-1,JK456789,received\n", "missing columns in the header: amount_centimes"),
        ("claim_number,amount_centimes,status\n", "missing columns in the header: cin or cnss_number"),
        ("claim_number,cin,cin,amount_centimes,status\n", "duplicated columns in the header: cin"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    demo: Session, clock: FrozenClock, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "claims.csv"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(ClaimFileError, match=message):
        run(demo, clock, source)


def test_a_file_that_is_not_utf8_is_refused(demo: Session, clock: FrozenClock, tmp_path: Path) -> None:
    source = tmp_path / "claims.csv"
    source.write_bytes(
        "claim_number,cin,amount_centimes,status,reason\nCLM-1,JK456789,1,rejected,pièce\n".encode("latin-1")
    )
    with pytest.raises(ClaimFileError, match=r"(?i)utf-8"):
        run(demo, clock, source)


def test_the_cli_imports_and_reports(app: Flask, demo: Session, clock: FrozenClock, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "claims.csv", ROWS)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["reimbursements", "import", str(source)])
    again = runner.invoke(args=["reimbursements", "import", str(source)])
    broken = runner.invoke(args=["reimbursements", "import", str(write_csv(tmp_path / "b.csv", [], columns=("cin",)))])

    assert result.exit_code == 0, result.output
    assert "8 rows, 3 created, 0 updated, 0 unchanged, 5 rejected" in result.output
    assert str(tmp_path / "claims.rejects.csv") in result.output
    assert again.exit_code == 0, again.output
    assert "8 rows, 0 created, 0 updated, 3 unchanged, 5 rejected" in again.output
    assert len(claim_sms(demo)) == 2
    assert broken.exit_code == 1
    assert "missing columns in the header: claim_number, amount_centimes, status" in broken.output
