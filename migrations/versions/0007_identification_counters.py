"""atomic identification counters and the time a phone was linked

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identification_counters',
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("scope IN ('phone', 'cin')", name=op.f('ck_identification_counters_scope')),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_identification_counters'))
    )
    op.add_column('phone_links', sa.Column('pick_up_codes_from', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('phone_links') as batch_op:
        batch_op.drop_column('pick_up_codes_from')
    op.drop_table('identification_counters')
