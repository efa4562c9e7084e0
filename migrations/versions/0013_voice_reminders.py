"""Reminders by voice call: the artisan's choice and the call outbox

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

`artisans.reminders_by` (sms, the default for every existing row, or voice) and
`call_outbox`, one row per call out (see gateway/voice/calls.py).

Policy: every revision must run while the previous release still serves traffic: the
new column has a server default, so the previous release's inserts keep working.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("artisans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders_by", sa.String(length=8), nullable=False, server_default="sms"))
        batch_op.create_check_constraint("reminders_by", "reminders_by IN ('sms', 'voice')")
    op.create_table(
        "call_outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("artisan_id", ID, nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("claim_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=True),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=255), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("fallback_sms_id", ID, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('dues_reminder', 'claim_ready')", name=op.f("ck_call_outbox_kind")),
        sa.CheckConstraint(
            "status IN ('queued', 'calling', 'answered', 'no_answer', 'failed')", name=op.f("ck_call_outbox_status")
        ),
        sa.CheckConstraint("language IN ('ar', 'fr')", name=op.f("ck_call_outbox_language")),
        sa.ForeignKeyConstraint(
            ["artisan_id"], ["artisans.id"], name=op.f("fk_call_outbox_artisan_id_artisans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["reimbursement_claims.id"],
            name=op.f("fk_call_outbox_claim_id_reimbursement_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fallback_sms_id"], ["sms_outbox.id"], name=op.f("fk_call_outbox_fallback_sms_id_sms_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_outbox")),
        sa.UniqueConstraint("artisan_id", "subject", name=op.f("uq_call_outbox_artisan_id_subject")),
    )
    with op.batch_alter_table("call_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_call_outbox_status_next_at", ["status", "next_at"], unique=False)
        batch_op.create_index("ix_call_outbox_session_id", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_table("call_outbox")
    with op.batch_alter_table("artisans", schema=None) as batch_op:
        batch_op.drop_constraint("ck_artisans_reminders_by", type_="check")
        batch_op.drop_column("reminders_by")
