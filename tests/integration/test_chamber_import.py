"""`flask chambers import`: good rows kept, bad rows in the rejects file with their line
and reason, demo rows refused by a production app."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.registration.chambers import import_chambers
from models import Chamber

HEADER = "region_code,name_ar,name_fr,address,phone,active,demo\n"
GOOD = "09,غرفة الصناعة التقليدية لجهة سوس ماسة,Chambre d'artisanat Souss-Massa,Bd Hassan II Agadir,0528220000,true,\n"


def _write(tmp_path: Path, body: str) -> Path:
    source = tmp_path / "chambers.csv"
    source.write_text(HEADER + body, encoding="utf-8")
    return source


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_good_rows_are_kept_and_bad_ones_rejected_with_line_and_reason(db_session: Session, tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        GOOD
        + "13,x,x,x,0500000000,,\n"  # no such region
        + "07,,Chambre Marrakech,Rue 1,05 24 00 00 00,yes,\n"  # no Arabic name
        + "09,again,again,again,0528,true,\n"  # the same region twice
        + "08,a,b,c,call us,maybe,\n",
    )
    rejects = tmp_path / "rejects.csv"
    summary = import_chambers(db=db_session, source=source, rejects=rejects, production=False)
    assert (summary.rows, summary.created, summary.rejected) == (5, 1, 4)
    chamber = db_session.get(Chamber, "09")
    assert chamber is not None and chamber.phone == "0528220000" and chamber.active and not chamber.demo
    rows = _rejects(rejects)
    assert [row["line"] for row in rows] == ["3", "4", "5", "6"]
    assert "region_code" in rows[0]["reason"]
    assert "name_ar: missing" in rows[1]["reason"]
    assert "duplicate of line 2" in rows[2]["reason"]
    assert "phone" in rows[3]["reason"] and "active" in rows[3]["reason"]
    again = import_chambers(db=db_session, source=_write(tmp_path, GOOD), rejects=rejects, production=False)
    assert (again.unchanged, again.rejected, again.rejects) == (1, 0, None) and not rejects.exists()


def test_production_refuses_demo_rows(db_session: Session, tmp_path: Path) -> None:
    source = _write(tmp_path, GOOD.replace(",true,\n", ",true,true\n") + "07,م,Chambre Marrakech,Rue 1,0524000000,,\n")
    summary = import_chambers(db=db_session, source=source, rejects=tmp_path / "r.csv", production=True)
    assert (summary.created, summary.rejected) == (1, 1)
    assert "demo chambers are refused in production" in _rejects(tmp_path / "r.csv")[0]["reason"]
    assert db_session.scalars(select(Chamber.region_code)).all() == ["07"]
    development = import_chambers(db=db_session, source=source, rejects=tmp_path / "r.csv", production=False)
    assert development.created == 1 and db_session.get(Chamber, "09").demo  # type: ignore[union-attr]


def test_the_flask_command(app: Flask, db_session: Session, tmp_path: Path) -> None:
    source = _write(tmp_path, GOOD + "99,x,x,x,1,,\n")
    result = app.test_cli_runner().invoke(args=["chambers", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "1 rejected" in result.output
    assert (tmp_path / "chambers.rejects.csv").exists()
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["chambers", "import", str(empty)])
    assert refused.exit_code != 0 and "empty" in refused.output
