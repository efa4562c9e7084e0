"""`flask cashpoints import`: rows checked, bad ones rejected with line and reason, upsert by code."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cashpoints.importer import COLUMNS, CashPointFileError, import_cash_points
from gateway.cashpoints.menu_ports import MenuCashPoints, sms_points
from gateway.cashpoints.service import cash_points
from gateway.sms.outbox import render, segments
from menus.ports import CashPointInfo
from models import CashPoint

GOOD = {
    "network": "fellah_cash",
    "code": "FLC-TZN-SOUK",
    "name": "Fellah Cash Tiznit Souk",
    "address": "Souk Tlata, Tiznit",
    "commune_code": "09.581.01.07",
    "opening_hours": "Lun-Ven 08:30-17:30",
    "active": "true",
}


def write_csv(path: Path, rows: list[dict[str, str]], *, columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_good_rows_are_kept_and_bad_ones_rejected_with_line_and_reason(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "points.csv",
        [
            GOOD,
            {**GOOD, "code": "WFC-X", "network": "western_union"},
            {**GOOD, "code": "WFC-Y", "commune_code": "99.999.99.9"},
            {**GOOD, "name": ""},
            {**GOOD, "code": "WFC-Z", "active": "maybe"},
            {**GOOD, "code": "WFC-W", "name": "W" * 121},
            {**GOOD, "code": "WFC-TZN-2", "network": "wafacash", "active": "no"},
            {**GOOD, "name": "Fellah Cash Tiznit Souk 2"},
        ],
    )
    rejects = tmp_path / "points.rejects.csv"
    summary = import_cash_points(db=db_session, source=source, rejects=rejects)
    assert (summary.rows, summary.created, summary.rejected) == (8, 2, 6)
    reasons = {row["line"]: row["reason"] for row in read_rejects(rejects)}
    assert reasons["3"].startswith("network: 'western_union'")
    assert "commune_code" in reasons["4"]
    assert reasons["5"] == "name: missing" and reasons["9"] == "code: duplicate of line 2"
    assert "active" in reasons["6"] and "name: longer than 120" in reasons["7"]
    listed = cash_points(db_session, province_code="09.581")
    assert [point.code for point in listed if point.code.startswith(("FLC-TZN-SOUK", "WFC-TZN-2"))] == ["FLC-TZN-SOUK"]


def test_the_same_file_again_changes_nothing_and_a_later_one_updates(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "points.csv", [GOOD])
    rejects = tmp_path / "points.rejects.csv"
    import_cash_points(db=db_session, source=source, rejects=rejects)
    again = import_cash_points(db=db_session, source=source, rejects=rejects)
    assert (again.created, again.updated, again.unchanged, again.rejects) == (0, 0, 1, None)
    later = write_csv(tmp_path / "later.csv", [{**GOOD, "opening_hours": "Lun-Sam 08:00-20:00", "active": ""}])
    summary = import_cash_points(db=db_session, source=later, rejects=rejects)
    assert summary.updated == 1 and not rejects.exists()
    row = db_session.scalar(select(CashPoint).where(CashPoint.code == GOOD["code"]))
    assert row is not None and row.opening_hours == "Lun-Sam 08:00-20:00" and row.active


def test_a_file_without_the_columns_is_refused_whole(db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "points.csv", [GOOD], columns=("network", "code", "name"))
    with pytest.raises(CashPointFileError, match="commune_code"):
        import_cash_points(db=db_session, source=source, rejects=tmp_path / "r.csv")


def test_the_cli_imports_and_reports(app: Flask, db_session: Session, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "points.csv", [GOOD, {**GOOD, "code": "X", "network": "bank"}])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cashpoints", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "2 rows, 1 created, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "points.rejects.csv" in result.output


@pytest.mark.parametrize("language", ["ar", "fr"])
def test_the_sms_holds_at_most_three_points_in_two_segments(language: str) -> None:
    letter = "ر" if language == "ar" else "W"
    longest = CashPointInfo("fellah_cash", letter * 120, letter * 255, letter * 120)
    short = CashPointInfo("wafacash", "Wafacash Tiznit", "Place du Méchouar", "Lun-Sam 09:00-19:00")
    for points in ([longest] * 5, [short] * 5, [short, longest]):
        text = sms_points("العيون-الساقية الحمراء" if language == "ar" else "Laâyoune", points, language)
        body = render("cash_points", language, province="Laâyoune", points=text)
        assert text and text.count("; ") <= 2 and segments(body)[0] <= 2


def test_the_list_goes_by_sms_only_for_a_province_with_points(db_session: Session) -> None:
    ports = MenuCashPoints(db=db_session)
    assert not ports.send_list(phone="+212600000001", language="fr", province_code="07.161")
    assert not ports.send_list(phone="+212600000001", language="fr", province_code="nowhere")
