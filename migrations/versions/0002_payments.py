"""payments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cash_points',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('commune_code', sa.String(length=16), nullable=False),
    sa.Column('opening_hours', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("network IN ('wafacash', 'fellah_cash')", name=op.f('ck_cash_points_network')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_points')),
    sa.UniqueConstraint('code', name=op.f('uq_cash_points_code'))
    )
    op.create_table('partner_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=True),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('rotated_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("(kind = 'network') = (network IS NOT NULL)", name=op.f('ck_partner_keys_network_for_network_kind')),
    sa.CheckConstraint("kind IN ('network', 'reimbursements')", name=op.f('ck_partner_keys_kind')),
    sa.CheckConstraint("network IS NULL OR network IN ('wafacash', 'fellah_cash')", name=op.f('ck_partner_keys_network')),
    sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f('ck_partner_keys_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_partner_keys_key_id'))
    )
    op.create_table('agents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('agent_code', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('cash_point_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pin_hash', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failed_pin_attempts', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("network IN ('wafacash', 'fellah_cash')", name=op.f('ck_agents_network')),
    sa.CheckConstraint("status IN ('active', 'locked', 'disabled')", name=op.f('ck_agents_status')),
    sa.ForeignKeyConstraint(['cash_point_id'], ['cash_points.id'], name=op.f('fk_agents_cash_point_id_cash_points')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('agent_code', name=op.f('uq_agents_agent_code')),
    sa.UniqueConstraint('phone', name=op.f('uq_agents_phone'))
    )
    op.create_table('payment_references',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=10), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('first_month', sa.Date(), nullable=False),
    sa.Column('month_count', sa.SmallInteger(), nullable=False),
    sa.Column('amount_centimes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("network IN ('wafacash', 'fellah_cash')", name=op.f('ck_payment_references_network')),
    sa.CheckConstraint("status IN ('open', 'paid', 'cancelled')", name=op.f('ck_payment_references_status')),
    sa.CheckConstraint('amount_centimes > 0', name=op.f('ck_payment_references_amount_positive')),
    sa.CheckConstraint('month_count BETWEEN 1 AND 24', name=op.f('ck_payment_references_month_count')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_payment_references_artisan_id_artisans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_references')),
    sa.UniqueConstraint('reference', name=op.f('uq_payment_references_reference'))
    )
    with op.batch_alter_table('payment_references', schema=None) as batch_op:
        batch_op.create_index('ix_payment_references_artisan_id_status', ['artisan_id', 'status'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('receipt_number', sa.String(length=16), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('amount_centimes', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_code', sa.String(length=32), nullable=True),
    sa.Column('partner_key_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('network_txn_id', sa.String(length=64), nullable=True),
    sa.Column('request_digest', sa.String(length=64), nullable=True),
    sa.Column('paid_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('reversed_at', UTCDateTime(), nullable=True),
    sa.Column('reversal_reason', sa.String(length=255), nullable=True),
    sa.CheckConstraint("channel IN ('ussd', 'api')", name=op.f('ck_payments_channel')),
    sa.CheckConstraint("network IN ('wafacash', 'fellah_cash')", name=op.f('ck_payments_network')),
    sa.CheckConstraint('(agent_id IS NOT NULL) OR (partner_key_id IS NOT NULL)', name=op.f('ck_payments_confirmed_by')),
    sa.CheckConstraint('amount_centimes > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_payments_agent_id_agents')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_payments_artisan_id_artisans')),
    sa.ForeignKeyConstraint(['partner_key_id'], ['partner_keys.id'], name=op.f('fk_payments_partner_key_id_partner_keys')),
    sa.ForeignKeyConstraint(['reference_id'], ['payment_references.id'], name=op.f('fk_payments_reference_id_payment_references')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('network', 'network_txn_id', name=op.f('uq_payments_network_network_txn_id')),
    sa.UniqueConstraint('receipt_number', name=op.f('uq_payments_receipt_number')),
    sa.UniqueConstraint('reference_id', name=op.f('uq_payments_reference_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_artisan_id'), ['artisan_id'], unique=False)
        batch_op.create_index('ix_payments_network_paid_at', ['network', 'paid_at'], unique=False)

    op.create_table('paid_months',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('amount_centimes', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('amount_centimes > 0', name=op.f('ck_paid_months_amount_positive')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_paid_months_artisan_id_artisans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_paid_months_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paid_months')),
    sa.UniqueConstraint('artisan_id', 'month', name=op.f('uq_paid_months_artisan_id_month'))
    )
    with op.batch_alter_table('paid_months', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paid_months_payment_id'), ['payment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('paid_months', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paid_months_payment_id'))

    op.drop_table('paid_months')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_network_paid_at')
        batch_op.drop_index(batch_op.f('ix_payments_artisan_id'))

    op.drop_table('payments')
    with op.batch_alter_table('payment_references', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_references_artisan_id_status')

    op.drop_table('payment_references')
    op.drop_table('agents')
    op.drop_table('partner_keys')
    op.drop_table('cash_points')
