"""staff accounts for the operations dashboard, and the indexes of its periods

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=40), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.SmallInteger(), nullable=False),
    sa.Column('locked_until', UTCDateTime(), nullable=True),
    sa.Column('last_login_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_members')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_members_username'))
    )
    op.create_index('ix_ussd_session_outcomes_received_at', 'ussd_session_outcomes', ['received_at'], unique=False)
    op.create_index('ix_payment_references_status_expires_at', 'payment_references', ['status', 'expires_at'], unique=False)
    op.create_index('ix_sms_outbox_created_at', 'sms_outbox', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sms_outbox_created_at', table_name='sms_outbox')
    op.drop_index('ix_payment_references_status_expires_at', table_name='payment_references')
    op.drop_index('ix_ussd_session_outcomes_received_at', table_name='ussd_session_outcomes')
    op.drop_table('staff_members')
