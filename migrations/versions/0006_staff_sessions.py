"""staff session versions (dashboard sessions that end)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Bumped by logout, a password change, disabling and a lockout: a dashboard cookie
    # carries the version it was issued under and is refused once the row moved on.
    # The server default fills existing rows, and keeps the previous release's inserts
    # (which do not know the column) valid while it still serves.
    op.add_column('staff_members',
    sa.Column('session_version', sa.Integer(), server_default=sa.text('0'), nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table('staff_members') as batch:
        batch.drop_column('session_version')
