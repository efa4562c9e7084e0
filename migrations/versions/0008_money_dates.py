"""money dates and compare-and-set state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

A payment's business day is when Hirfa recorded it: `payments.created_at`, set from the
app's clock in the same statement as the payment (no new column: it already is the
record time). Settlement reads payments by (network, created_at) and reversals by
(network, reversed_at); nothing reads by `paid_at` any more.

A reversed reference can be paid again: one *standing* payment per reference (a
partial unique index) instead of one payment ever.

The pick-up SMS of a claim is counted on the claim's row (the day and the count), so a
resend is one conditional UPDATE on PostgreSQL and SQLite alike.

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
The previous release never pays a reference twice (it checks the reference's status
under lock), so relaxing the unique constraint to the partial index is safe for it; it
counts resends from the outbox and ignores the new columns.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STANDING = 'reversed_at IS NULL'


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_payments_reference_id', type_='unique')
        batch_op.create_index('ix_payments_network_created_at', ['network', 'created_at'], unique=False)
        batch_op.create_index('ix_payments_network_reversed_at', ['network', 'reversed_at'], unique=False)
        batch_op.drop_index('ix_payments_network_paid_at')
    # After the batch (SQLite rebuilds the table there); in the same transaction as the
    # constraint's drop, so one standing payment per reference holds throughout.
    op.create_index(
        'ux_payments_reference_id_standing',
        'payments',
        ['reference_id'],
        unique=True,
        postgresql_where=sa.text(STANDING),
        sqlite_where=sa.text(STANDING),
    )
    with op.batch_alter_table('reimbursement_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pick_up_sms_on', sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column('pick_up_sms_count', sa.SmallInteger(), server_default=sa.text('0'), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('reimbursement_claims', schema=None) as batch_op:
        batch_op.drop_column('pick_up_sms_count')
        batch_op.drop_column('pick_up_sms_on')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_network_paid_at', ['network', 'paid_at'], unique=False)
        batch_op.drop_index('ix_payments_network_reversed_at')
        batch_op.drop_index('ix_payments_network_created_at')
        # Fails while a reference has a reversed payment and a standing one: such data
        # cannot go back to one payment per reference.
        batch_op.create_unique_constraint('uq_payments_reference_id', ['reference_id'])
    op.drop_index('ux_payments_reference_id_standing', table_name='payments')
