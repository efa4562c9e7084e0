"""A session's language is a language code of up to 8 letters

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

`ussd_session_outcomes.language` held the screen languages only (ar, fr: two letters);
the voice line's calls are rows of the same table, in Darija (`ary`) or an Amazigh
variety (`shi`, `tzm`, `rif`): three letters, which PostgreSQL refused, failing the
call's first hop. Widened to 8 (menus/locale/languages.toml's codes).

Policy: every revision must run while the previous release still serves traffic: a
wider column takes every value the previous release writes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ussd_session_outcomes", schema=None) as batch_op:
        batch_op.alter_column("language", existing_type=sa.String(length=2), type_=sa.String(length=8))


def downgrade() -> None:
    # A three-letter code does not fit back: every one (ary, shi, tzm, rif) is written as Arabic.
    op.execute("UPDATE ussd_session_outcomes SET language = 'ar' WHERE length(language) > 2")
    with op.batch_alter_table("ussd_session_outcomes", schema=None) as batch_op:
        batch_op.alter_column("language", existing_type=sa.String(length=8), type_=sa.String(length=2))
