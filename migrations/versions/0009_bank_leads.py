"""bank leads (bank offers of the two conventions)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Artisans ask from option 5 to be contacted by Crédit Agricole du Maroc or Attijariwafa
bank; the banks fetch and update those leads with a partner key of the new kind `bank`.

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
The previous release never writes a bank key, and the new column is nullable.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'contacted')"


def upgrade() -> None:
    op.create_table('bank_leads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('artisan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('consent_version', sa.String(length=32), nullable=False),
    sa.Column('consented_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('first_fetched_at', UTCDateTime(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("bank IN ('cam', 'awb')", name=op.f('ck_bank_leads_bank')),
    sa.CheckConstraint("status IN ('new', 'contacted', 'account_opened', 'declined')", name=op.f('ck_bank_leads_status')),
    sa.CheckConstraint("status != 'declined' OR reason IS NOT NULL", name=op.f('ck_bank_leads_declined_has_reason')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_bank_leads_artisan_id_artisans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_leads'))
    )
    with op.batch_alter_table('bank_leads', schema=None) as batch_op:
        batch_op.create_index('ix_bank_leads_bank_id', ['bank', 'id'], unique=False)
        batch_op.create_index('ix_bank_leads_created_at', ['created_at'], unique=False)
        batch_op.create_index('uq_bank_leads_open', ['artisan_id', 'bank'], unique=True, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))

    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank', sa.String(length=8), nullable=True))
        batch_op.drop_constraint(op.f('ck_partner_keys_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_partner_keys_kind'), "kind IN ('network', 'reimbursements', 'bank')")
        batch_op.create_check_constraint(op.f('ck_partner_keys_bank'), "bank IS NULL OR bank IN ('cam', 'awb')")
        batch_op.create_check_constraint(op.f('ck_partner_keys_bank_for_bank_kind'), "(kind = 'bank') = (bank IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table('partner_keys', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_partner_keys_bank_for_bank_kind'), type_='check')
        batch_op.drop_constraint(op.f('ck_partner_keys_bank'), type_='check')
        batch_op.drop_constraint(op.f('ck_partner_keys_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_partner_keys_kind'), "kind IN ('network', 'reimbursements')")
        batch_op.drop_column('bank')

    with op.batch_alter_table('bank_leads', schema=None) as batch_op:
        batch_op.drop_index('uq_bank_leads_open', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index('ix_bank_leads_created_at')
        batch_op.drop_index('ix_bank_leads_bank_id')

    op.drop_table('bank_leads')
