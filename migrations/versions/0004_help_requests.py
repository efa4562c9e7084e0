"""help requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('help_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=80), nullable=True),
    sa.CheckConstraint("kind IN ('advisor_callback', 'export_support', 'chamber_contact')", name=op.f('ck_help_requests_kind')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_help_requests_status')),
    sa.CheckConstraint("status != 'closed' OR closed_at IS NOT NULL", name=op.f('ck_help_requests_closed_has_date')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_help_requests_artisan_id_artisans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_requests'))
    )
    with op.batch_alter_table('help_requests', schema=None) as batch_op:
        batch_op.create_index('ix_help_requests_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index('uq_help_requests_open_kind', ['artisan_id', 'kind'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))


def downgrade() -> None:
    with op.batch_alter_table('help_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_help_requests_open_kind', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_help_requests_status_created_at')

    op.drop_table('help_requests')
