"""Every part's message id of an SMS sent in several parts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Over SMPP each part of a long SMS is its own submit_sm, with its own message_id and its
own delivery receipt. `sms_outbox.provider_message_id` keeps the first part's id (as
before); `sms_outbox_parts` keeps every part's, so that a receipt for a later part finds
its row. A new table only: the previous release never reads it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sms_outbox_parts",
        sa.Column("id", ID, nullable=False),
        sa.Column("outbox_id", ID, nullable=False),
        sa.Column("part", sa.SmallInteger(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("provider_status", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["sms_outbox.id"], name=op.f("fk_sms_outbox_parts_outbox_id_sms_outbox"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox_parts")),
        sa.UniqueConstraint("outbox_id", "part", name=op.f("uq_sms_outbox_parts_outbox_id_part")),
    )
    op.create_index("ix_sms_outbox_parts_provider_message_id", "sms_outbox_parts", ["provider_message_id"])


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_parts_provider_message_id", table_name="sms_outbox_parts")
    op.drop_table("sms_outbox_parts")
