"""The RNA import (`flask rna import FILE.csv`) on a real, migrated PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from sqlalchemy.orm import Session

from gateway.cli import alembic_config
from gateway.registration.rna_import import ImportSummary, RnaFileError, import_rna
from models import Artisan, PhoneLink

COLUMNS = [
    "rna_number", "cin", "first_name", "last_name", "birth_year", "phone", "trade", "category",
    "province_code", "commune_code", "language", "rna_status", "cnss_number", "amo_status",
]  # fmt: skip
T1 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 3, 8, 9, 0, tzinfo=dt.UTC)


def rna_row(n: int, **overrides: str) -> dict[str, str]:
    """A valid register row, unique by `n`; keyword arguments replace cells."""
    row = {
        "rna_number": f"RNA-T{n:06d}",
        "cin": f"AB{n:06d}",
        "first_name": "Fatima",
        "last_name": "Benali",
        "birth_year": "1980",
        "phone": f"0661{n:06d}",
        "trade": "poterie",
        "category": "artisan",
        "province_code": "03.231",
        "commune_code": "03.231.01.0",
        "language": "ar",
        "rna_status": "registered",
        "cnss_number": f"{n:09d}",
        "amo_status": "pre_registered",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], *, columns: list[str] = COLUMNS, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_import(db: Session, source: Path, *, at: dt.datetime = T1, **kwargs: Any) -> ImportSummary:
    summary = import_rna(db=db, source=source, rejects=source.with_suffix(".rejects.csv"), clock=lambda: at, **kwargs)
    db.commit()
    return summary


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def artisans(db: Session) -> dict[str, Artisan]:
    db.expire_all()
    return {a.rna_number: a for a in db.scalars(sa.select(Artisan))}


def links(db: Session) -> list[tuple[str, str, str]]:
    query = (
        sa.select(PhoneLink.phone, Artisan.rna_number, PhoneLink.method)
        .join(Artisan, Artisan.id == PhoneLink.artisan_id)
        .order_by(PhoneLink.id)
    )
    return [(phone, rna_number, method) for phone, rna_number, method in db.execute(query)]


def test_valid_rows_are_imported_with_e164_phones(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "rna.csv",
        [
            rna_row(1, cin=" ab000001 ", phone="0661000001"),
            rna_row(2, phone="+212661000002", language="", cnss_number=""),
            rna_row(3, phone="212 7 10 00 00 03", category="Maalem", trade="Tissage"),
            rna_row(4, phone=""),
        ],
        bom=True,
    )
    source.with_suffix(".rejects.csv").write_text("left by an earlier run\n")

    summary = run_import(db_session, source)

    assert summary == ImportSummary(rows=4, inserted=4, updated=0, unchanged=0, rejected=0, rejects=None)
    assert not source.with_suffix(".rejects.csv").exists()
    found = artisans(db_session)
    assert [found[f"RNA-T{n:06d}"].phone for n in (1, 2, 3, 4)] == [
        "+212661000001",
        "+212661000002",
        "+212710000003",
        None,
    ]
    first, second, third = found["RNA-T000001"], found["RNA-T000002"], found["RNA-T000003"]
    assert first.cin == "AB000001"
    assert (first.first_name, first.birth_year, first.province_code, first.commune_code) == (
        "Fatima",
        1980,
        "03.231",
        "03.231.01.0",
    )
    assert (first.language, first.cnss_number, first.amo_status) == ("ar", "000000001", "pre_registered")
    assert (second.language, second.cnss_number) == (None, None)
    assert (third.category, third.trade) == ("maalem", "tissage")
    assert first.contribution_category == "rna_no_income_tax"
    assert first.created_at == first.updated_at == T1
    assert links(db_session) == [
        ("+212661000001", "RNA-T000001", "rna_import"),
        ("+212661000002", "RNA-T000002", "rna_import"),
        ("+212710000003", "RNA-T000003", "rna_import"),
    ]


BAD_ROWS: list[tuple[dict[str, str], str]] = [
    ({"rna_number": " "}, "rna_number: empty"),
    ({"rna_number": "R" * 33}, "rna_number: longer than 32 characters"),
    ({"cin": "123456"}, "cin: invalid format"),
    ({"cin": "ABC12345"}, "cin: invalid format"),
    ({"cin": "A12345678"}, "cin: invalid format"),
    ({"first_name": ""}, "first_name: empty"),
    ({"last_name": "B" * 81}, "last_name: longer than 80 characters"),
    ({"birth_year": "1899"}, "birth_year: not a year from 1900 to 2026"),
    ({"birth_year": "2027"}, "birth_year: not a year from 1900 to 2026"),
    ({"birth_year": "19x0"}, "birth_year: not a year from 1900 to 2026"),
    ({"phone": "0522123456"}, "phone: not a Moroccan mobile number"),
    ({"phone": "+33612345678"}, "phone: not a Moroccan mobile number"),
    ({"phone": "06123"}, "phone: not a Moroccan mobile number"),
    ({"phone": "not a phone"}, "phone: not a Moroccan mobile number"),
    ({"trade": ""}, "trade: empty"),
    ({"trade": "t" * 65}, "trade: longer than 64 characters"),
    ({"trade": "pottery and weaving"}, "trade: not a code"),
    ({"category": "guild"}, "category: not one of artisan, maalem, cooperative, enterprise"),
    ({"province_code": "99.999"}, "province_code: unknown code; commune_code: not in province 99.999"),
    ({"commune_code": "03.231.99.9"}, "commune_code: unknown code"),
    ({"commune_code": "01.511.01.0"}, "commune_code: not in province 03.231"),
    ({"language": "en"}, "language: not one of ar, fr"),
    ({"rna_status": "active"}, "rna_status: not one of registered, pending, struck_off"),
    ({"amo_status": "covered"}, "amo_status: not one of not_registered, pre_registered, registered"),
    ({"cnss_number": "12-34"}, "cnss_number: not up to 20 digits"),
    ({"cnss_number": "1" * 21}, "cnss_number: not up to 20 digits"),
    ({"cin": "", "phone": "0522123456"}, "cin: invalid format; phone: not a Moroccan mobile number"),
    ({"first_name": "Fa\x00tima"}, "row: contains a NUL character"),
]


def test_bad_rows_are_rejected_with_line_and_reason(db_session: Session, tmp_path: Path) -> None:
    good = [rna_row(1), rna_row(2)]
    bad = [rna_row(100 + i, **overrides) for i, (overrides, _) in enumerate(BAD_ROWS)]
    duplicates = [
        (rna_row(200, rna_number="RNA-T000001"), "rna_number: duplicate of line 2"),
        (rna_row(201, cin="ab000001"), "cin: already used on line 2"),
        (rna_row(202, phone="+212661000001"), "phone: already used on line 2"),
    ]
    source = write_csv(tmp_path / "rna.csv", [good[0], *bad, *(row for row, _ in duplicates), good[1]])
    with source.open("a", encoding="utf-8") as handle:
        handle.write("\n")  # a blank line is skipped but still counted
        handle.write("RNA-SHORT,AB999999,Fatima\n")

    summary = run_import(db_session, source, batch_size=7)

    expected = [reason for _, reason in BAD_ROWS] + [reason for _, reason in duplicates]
    assert summary.rows == 2 + len(expected) + 1
    assert (summary.inserted, summary.updated, summary.unchanged) == (2, 0, 0)
    assert summary.rejected == len(expected) + 1
    assert summary.rejects == source.with_suffix(".rejects.csv")
    rejects = read_rejects(summary.rejects)
    assert [(r["line"], r["reason"]) for r in rejects] == [
        *((str(line), reason) for line, reason in enumerate(expected, start=3)),
        (str(len(expected) + 5), "row: 3 fields where the header has 14"),
    ]
    assert list(rejects[0]) == [*COLUMNS, "line", "reason"]
    # The original cells, not the normalised ones, so that the operator can fix them.
    assert rejects[2] == {**bad[2], "line": "5", "reason": "cin: invalid format"}
    assert sorted(artisans(db_session)) == ["RNA-T000001", "RNA-T000002"]


def test_reimporting_the_same_file_changes_nothing(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "rna.csv", [rna_row(n) for n in range(1, 6)] + [rna_row(6, phone="", language="")])
    first = run_import(db_session, source, batch_size=2)
    before = {number: (a.updated_at, a.created_at) for number, a in artisans(db_session).items()}
    links_before = links(db_session)

    again = run_import(db_session, source, at=T2, batch_size=2)

    assert (first.inserted, first.updated, first.unchanged) == (6, 0, 0)
    assert again == ImportSummary(rows=6, inserted=0, updated=0, unchanged=6, rejected=0, rejects=None)
    assert {number: (a.updated_at, a.created_at) for number, a in artisans(db_session).items()} == before
    assert links(db_session) == links_before


def test_changing_one_field_updates_exactly_that_row(db_session: Session, tmp_path: Path) -> None:
    rows = [rna_row(n) for n in range(1, 5)]
    run_import(db_session, write_csv(tmp_path / "first.csv", rows))
    rows[2] = {**rows[2], "amo_status": "registered"}

    summary = run_import(db_session, write_csv(tmp_path / "second.csv", rows), at=T2)

    assert (summary.inserted, summary.updated, summary.unchanged, summary.rejected) == (0, 1, 3, 0)
    found = artisans(db_session)
    assert {number: a.updated_at for number, a in found.items()} == {
        "RNA-T000001": T1,
        "RNA-T000002": T1,
        "RNA-T000003": T2,
        "RNA-T000004": T1,
    }
    assert found["RNA-T000003"].amo_status == "registered"
    assert found["RNA-T000003"].created_at == T1
    assert len(links(db_session)) == 4


def test_a_new_phone_is_linked_and_an_empty_cell_erases_nothing(db_session: Session, tmp_path: Path) -> None:
    rows = [rna_row(1, phone=""), rna_row(2)]
    run_import(db_session, write_csv(tmp_path / "first.csv", rows))
    # Row 1 gains a phone; row 2's cells for phone, language and CNSS go blank.
    rows = [rna_row(1, phone="0661000099"), rna_row(2, phone="", language="", cnss_number="")]

    summary = run_import(db_session, write_csv(tmp_path / "second.csv", rows), at=T2)

    assert (summary.updated, summary.unchanged) == (1, 1)
    found = artisans(db_session)
    assert found["RNA-T000001"].phone == "+212661000099"
    assert (found["RNA-T000002"].phone, found["RNA-T000002"].language) == ("+212661000002", "ar")
    assert found["RNA-T000002"].cnss_number == "000000002"
    assert found["RNA-T000002"].updated_at == T1
    assert links(db_session) == [
        ("+212661000002", "RNA-T000002", "rna_import"),
        ("+212661000099", "RNA-T000001", "rna_import"),
    ]


def test_cin_or_phone_held_by_another_artisan_is_rejected(db_session: Session, tmp_path: Path) -> None:
    db_session.add(
        Artisan(
            rna_number="RNA-OLD",
            cin="JB123456",
            first_name="Omar",
            last_name="Alaoui",
            birth_year=1980,
            phone="+212661000500",
            trade="zellige",
            province_code="03.231",
            commune_code="03.231.01.0",
        )
    )
    db_session.commit()
    source = write_csv(
        tmp_path / "rna.csv",
        [
            rna_row(1, cin="jb123456"),
            rna_row(2, phone="0661000500"),
            rna_row(3),
            rna_row(4, rna_number="RNA-OLD", cin="JB123456", phone="0661000500", first_name="Omar Jr"),
        ],
    )

    summary = run_import(db_session, source)

    assert (summary.inserted, summary.updated, summary.rejected) == (1, 1, 2)
    assert summary.rejects is not None
    assert [(r["line"], r["reason"]) for r in read_rejects(summary.rejects)] == [
        ("2", "cin: held by the artisan with rna_number RNA-OLD"),
        ("3", "phone: held by the artisan with rna_number RNA-OLD"),
    ]
    found = artisans(db_session)
    assert sorted(found) == ["RNA-OLD", "RNA-T000003"]
    assert found["RNA-OLD"].first_name == "Omar Jr"


def test_a_missing_header_column_refuses_the_file(db_session: Session, tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c not in ("cin", "trade")]
    source = write_csv(tmp_path / "rna.csv", [rna_row(1)], columns=columns)

    with pytest.raises(RnaFileError, match="missing columns in the header: cin, trade") as caught:
        run_import(db_session, source)

    assert caught.value.missing == ("cin", "trade")
    assert artisans(db_session) == {}
    assert not source.with_suffix(".rejects.csv").exists()


def test_a_missing_rejects_folder_refuses_the_import_up_front(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "rna.csv", [rna_row(1)])

    with pytest.raises(RnaFileError, match="no folder"):
        import_rna(db=db_session, source=source, rejects=tmp_path / "nowhere" / "bad.csv", clock=lambda: T1)

    assert artisans(db_session) == {}


def test_optional_columns_may_be_absent(db_session: Session, tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c not in ("phone", "language", "cnss_number")]
    source = write_csv(tmp_path / "rna.csv", [rna_row(1)], columns=columns)

    summary = run_import(db_session, source)

    assert summary.inserted == 1
    assert artisans(db_session)["RNA-T000001"].phone is None


def test_on_batch_is_called_after_each_batch(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "rna.csv", [rna_row(n) for n in range(1, 6)])
    calls: list[int] = []

    def on_batch() -> None:
        calls.append(db_session.scalar(sa.select(sa.func.count()).select_from(Artisan)) or 0)

    run_import(db_session, source, batch_size=2, on_batch=on_batch)

    assert calls == [2, 4, 5]


def test_the_embedded_sqlite_database_is_upserted_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hirfa.db'}"
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    rows = [rna_row(n) for n in range(1, 4)]
    try:
        with Session(engine) as db:
            first = run_import(db, write_csv(tmp_path / "first.csv", rows))
            again = run_import(db, write_csv(tmp_path / "first.csv", rows), at=T2)
            rows[0] = {**rows[0], "trade": "dinanderie", "phone": "0661000077"}
            changed = run_import(db, write_csv(tmp_path / "second.csv", rows), at=T2)
            found = artisans(db)
            phone_links = links(db)
    finally:
        engine.dispose()

    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)
    assert (found["RNA-T000001"].trade, found["RNA-T000001"].updated_at) == ("dinanderie", T2)
    assert found["RNA-T000002"].updated_at == T1
    assert len(phone_links) == 4


def test_the_cli_imports_and_reports(app: Flask, db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "rna.csv", [rna_row(1), rna_row(2, cin="nope"), rna_row(3, phone="+212661000001")])
    rejects = tmp_path / "out" / "bad.csv"
    rejects.parent.mkdir()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["rna", "import", str(source), "--rejects", str(rejects)])
    again = runner.invoke(args=["rna", "import", str(source)])
    broken = runner.invoke(args=["rna", "import", str(write_csv(tmp_path / "broken.csv", [], columns=["cin"]))])

    assert result.exit_code == 0, result.output
    assert "3 rows, 1 inserted, 0 updated, 0 unchanged, 2 rejected" in result.output
    assert str(rejects) in result.output
    assert [r["line"] for r in read_rejects(rejects)] == ["3", "4"]
    assert sorted(artisans(db_session)) == ["RNA-T000001"]
    assert again.exit_code == 0, again.output
    assert "3 rows, 0 inserted, 0 updated, 1 unchanged, 2 rejected" in again.output
    assert str(tmp_path / "rna.rejects.csv") in again.output
    assert broken.exit_code == 1
    assert "missing columns in the header: rna_number, first_name" in broken.output
