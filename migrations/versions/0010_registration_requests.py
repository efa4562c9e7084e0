"""RNA registration requests and the chambers of crafts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
