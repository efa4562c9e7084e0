"""USSD sessions from Hirfa's own hops

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

A row of `ussd_session_outcomes` now exists from a session's first hop (Hirfa writes it
then, and again on the hop that sends its END), and the aggregator's end-of-session
report, when one comes, fills in its status on the same row. So `status` and
`received_at` (the report's) may be empty; `started_at` (the first hop, or the report
when Hirfa saw no hop) is what the dashboard's periods read; `ended_at` is when Hirfa
sent the last screen (the session completed); `last_hop_at` and `hops_answered` are
Hirfa's own view of the session.

Rows stored before this revision started when their report came, and those reported
`Success` ended then (backfill).

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
The previous release inserts reports without `started_at`: the column stays nullable
until the next release (such rows, from the minutes of the deploy, are backfilled by the
next revision before it tightens the column).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ussd_session_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_hop_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("ended_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("hops_answered", sa.Integer(), nullable=True))
        batch_op.alter_column("status", existing_type=sa.String(length=32), nullable=True)
        batch_op.alter_column("received_at", existing_type=UTCDateTime(), nullable=True)
        batch_op.drop_index("ix_ussd_session_outcomes_received_at")
        batch_op.create_index("ix_ussd_session_outcomes_started_at", ["started_at"], unique=False)
    # A report of Success was our END, before Hirfa wrote its own.
    op.execute(
        "UPDATE ussd_session_outcomes SET started_at = received_at, last_hop_at = received_at,"
        " ended_at = CASE WHEN status = 'Success' THEN received_at END WHERE started_at IS NULL"
    )


def downgrade() -> None:
    # Sessions no aggregator reported cannot go back to a table of reports only.
    op.execute("DELETE FROM ussd_session_outcomes WHERE status IS NULL OR received_at IS NULL")
    with op.batch_alter_table("ussd_session_outcomes", schema=None) as batch_op:
        batch_op.drop_index("ix_ussd_session_outcomes_started_at")
        batch_op.create_index("ix_ussd_session_outcomes_received_at", ["received_at"], unique=False)
        batch_op.alter_column("received_at", existing_type=UTCDateTime(), nullable=False)
        batch_op.alter_column("status", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column("hops_answered")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("last_hop_at")
        batch_op.drop_column("started_at")
