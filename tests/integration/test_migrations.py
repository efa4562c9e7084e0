"""The migrations build exactly the schema the models describe, on PostgreSQL and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from gateway.cli import alembic_config
from models import Base


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_models_and_migrations_agree_on_postgresql(database_url: str) -> None:
    assert _differences(database_url) == []


def test_migrations_build_the_schema_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hirfa.db'}"
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    assert _differences(url) == []
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            amount = connection.execute(
                text("SELECT monthly_centimes FROM contribution_amounts WHERE category_code = 'rna_no_income_tax'")
            ).scalar_one()
        assert amount == 13500
        assert "artisans" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "constraint",
    [
        "uq_artisans_phone",
        "uq_artisans_cin",
        "uq_artisans_rna_number",
        "ck_artisans_amo_status",
        "fk_artisans_contribution_category_contribution_categories",
    ],
)
def test_constraints_are_named(database_url: str, constraint: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_constraint WHERE conname = :name"), {"name": constraint}
            ).first()
        assert found is not None
    finally:
        engine.dispose()
