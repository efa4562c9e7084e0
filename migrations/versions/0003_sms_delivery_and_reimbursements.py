"""sms delivery and reimbursements

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reimbursement_claims',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('claim_number', sa.String(length=40), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_centimes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('network', sa.String(length=16), nullable=True),
    sa.Column('pick_up_code', sa.String(length=32), nullable=True),
    sa.Column('available_until', sa.Date(), nullable=True),
    sa.Column('status_changed_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("network IS NULL OR network IN ('wafacash', 'fellah_cash')", name=op.f('ck_reimbursement_claims_network')),
    sa.CheckConstraint("status != 'available' OR (network IS NOT NULL AND pick_up_code IS NOT NULL)", name=op.f('ck_reimbursement_claims_available_has_pick_up')),
    sa.CheckConstraint("status IN ('received', 'in_review', 'approved', 'available', 'paid_out', 'rejected')", name=op.f('ck_reimbursement_claims_status')),
    sa.CheckConstraint('amount_centimes >= 0', name=op.f('ck_reimbursement_claims_amount_not_negative')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_reimbursement_claims_artisan_id_artisans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reimbursement_claims')),
    sa.UniqueConstraint('claim_number', name=op.f('uq_reimbursement_claims_claim_number'))
    )
    with op.batch_alter_table('reimbursement_claims', schema=None) as batch_op:
        batch_op.create_index('ix_reimbursement_claims_artisan_id_created_at', ['artisan_id', 'created_at'], unique=False)

    op.create_table('sms_reminders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_sms_reminders_artisan_id_artisans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_id'], ['sms_outbox.id'], name=op.f('fk_sms_reminders_outbox_id_sms_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_reminders')),
    sa.UniqueConstraint('artisan_id', 'month', name=op.f('uq_sms_reminders_artisan_id_month'))
    )
    with op.batch_alter_table('artisans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_opt_out', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_status', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('failure_reason', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('subject', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('next_attempt_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('possible_duplicate', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('sent_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', UTCDateTime(), nullable=True))
        batch_op.create_index('ix_sms_outbox_provider_message_id', ['provider_message_id'], unique=False)
        batch_op.create_index('ix_sms_outbox_subject_created_at', ['subject', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_outbox_subject_created_at')
        batch_op.drop_index('ix_sms_outbox_provider_message_id')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('possible_duplicate')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('urgent')
        batch_op.drop_column('subject')
        batch_op.drop_column('failure_reason')
        batch_op.drop_column('provider_status')

    with op.batch_alter_table('artisans', schema=None) as batch_op:
        batch_op.drop_column('sms_opt_out')

    op.drop_table('sms_reminders')
    with op.batch_alter_table('reimbursement_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_reimbursement_claims_artisan_id_created_at')

    op.drop_table('reimbursement_claims')
