"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24

Also seeds the contribution categories of the decree of 23 Dec 2021 (reference data).

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("contribution_categories",
    sa.Column("code", sa.String(length=32), nullable=False),
    sa.Column("name_ar", sa.String(length=120), nullable=False),
    sa.Column("name_fr", sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint("code", name=op.f("pk_contribution_categories"))
    )
    op.create_table("identification_attempts",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("phone", sa.String(length=16), nullable=False),
    sa.Column("cin_digest", sa.String(length=64), nullable=False),
    sa.Column("outcome", sa.String(length=20), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("outcome IN ('matched', 'wrong_birth_year', 'unknown_cin', 'not_registered')", name=op.f("ck_identification_attempts_outcome")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_identification_attempts"))
    )
    with op.batch_alter_table("identification_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_identification_attempts_cin_digest_created_at", ["cin_digest", "created_at"], unique=False)
        batch_op.create_index("ix_identification_attempts_phone_created_at", ["phone", "created_at"], unique=False)

    op.create_table("phone_preferences",
    sa.Column("phone", sa.String(length=16), nullable=False),
    sa.Column("language", sa.String(length=2), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("language IN ('ar', 'fr')", name=op.f("ck_phone_preferences_language")),
    sa.PrimaryKeyConstraint("phone", name=op.f("pk_phone_preferences"))
    )
    op.create_table("sms_outbox",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("recipient", sa.String(length=16), nullable=False),
    sa.Column("language", sa.String(length=2), nullable=False),
    sa.Column("template", sa.String(length=64), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("segments", sa.SmallInteger(), nullable=False),
    sa.Column("encoding", sa.String(length=8), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.SmallInteger(), nullable=False),
    sa.Column("provider_message_id", sa.String(length=128), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("encoding IN ('gsm7', 'ucs2')", name=op.f("ck_sms_outbox_encoding")),
    sa.CheckConstraint("language IN ('ar', 'fr')", name=op.f("ck_sms_outbox_language")),
    sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'delivered', 'failed')", name=op.f("ck_sms_outbox_state")),
    sa.CheckConstraint("segments BETWEEN 1 AND 2", name=op.f("ck_sms_outbox_segments")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox"))
    )
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_sms_outbox_state_created_at", ["state", "created_at"], unique=False)

    op.create_table("ussd_session_outcomes",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("aggregator", sa.String(length=32), nullable=False),
    sa.Column("session_id", sa.String(length=128), nullable=False),
    sa.Column("phone", sa.String(length=16), nullable=False),
    sa.Column("service_code", sa.String(length=32), nullable=False),
    sa.Column("network_code", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=32), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=True),
    sa.Column("hops_count", sa.Integer(), nullable=True),
    sa.Column("last_screen", sa.String(length=64), nullable=True),
    sa.Column("language", sa.String(length=2), nullable=True),
    sa.Column("error_message", sa.String(length=255), nullable=True),
    sa.Column("cost", sa.String(length=32), nullable=True),
    sa.Column("reported_at", UTCDateTime(), nullable=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_ussd_session_outcomes")),
    sa.UniqueConstraint("aggregator", "session_id", name=op.f("uq_ussd_session_outcomes_aggregator_session_id"))
    )
    op.create_table("artisans",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("rna_number", sa.String(length=32), nullable=False),
    sa.Column("cin", sa.String(length=10), nullable=False),
    sa.Column("first_name", sa.String(length=80), nullable=False),
    sa.Column("last_name", sa.String(length=80), nullable=False),
    sa.Column("birth_year", sa.SmallInteger(), nullable=False),
    sa.Column("phone", sa.String(length=16), nullable=True),
    sa.Column("trade", sa.String(length=64), nullable=False),
    sa.Column("category", sa.String(length=16), nullable=False),
    sa.Column("contribution_category", sa.String(length=32), nullable=False),
    sa.Column("province_code", sa.String(length=8), nullable=False),
    sa.Column("commune_code", sa.String(length=16), nullable=False),
    sa.Column("language", sa.String(length=2), nullable=True),
    sa.Column("rna_status", sa.String(length=16), nullable=False),
    sa.Column("cnss_number", sa.String(length=20), nullable=True),
    sa.Column("amo_status", sa.String(length=16), nullable=False),
    sa.Column("amo_start_month", sa.Date(), nullable=True),
    sa.Column("amo_first_paid_month", sa.Date(), nullable=True),
    sa.Column("amo_paid_through", sa.Date(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("amo_status IN ('not_registered', 'pre_registered', 'registered')", name=op.f("ck_artisans_amo_status")),
    sa.CheckConstraint("category IN ('artisan', 'maalem', 'cooperative', 'enterprise')", name=op.f("ck_artisans_category")),
    sa.CheckConstraint("language IS NULL OR language IN ('ar', 'fr')", name=op.f("ck_artisans_language")),
    sa.CheckConstraint("rna_status IN ('registered', 'pending', 'struck_off')", name=op.f("ck_artisans_rna_status")),
    sa.CheckConstraint("birth_year BETWEEN 1900 AND 2100", name=op.f("ck_artisans_birth_year")),
    sa.ForeignKeyConstraint(["contribution_category"], ["contribution_categories.code"], name=op.f("fk_artisans_contribution_category_contribution_categories")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_artisans")),
    sa.UniqueConstraint("cin", name=op.f("uq_artisans_cin")),
    sa.UniqueConstraint("phone", name=op.f("uq_artisans_phone")),
    sa.UniqueConstraint("rna_number", name=op.f("uq_artisans_rna_number"))
    )
    op.create_table("contribution_amounts",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("category_code", sa.String(length=32), nullable=False),
    sa.Column("effective_from", sa.Date(), nullable=False),
    sa.Column("monthly_centimes", sa.Integer(), nullable=False),
    sa.CheckConstraint("monthly_centimes > 0", name=op.f("ck_contribution_amounts_monthly_centimes_positive")),
    sa.ForeignKeyConstraint(["category_code"], ["contribution_categories.code"], name=op.f("fk_contribution_amounts_category_code_contribution_categories")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_amounts")),
    sa.UniqueConstraint("category_code", "effective_from", name=op.f("uq_contribution_amounts_category_code_effective_from"))
    )
    op.create_table("phone_links",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("phone", sa.String(length=16), nullable=False),
    sa.Column("artisan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("method", sa.String(length=16), nullable=False),
    sa.Column("linked_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("method IN ('rna_import', 'identification', 'staff')", name=op.f("ck_phone_links_method")),
    sa.ForeignKeyConstraint(["artisan_id"], ["artisans.id"], name=op.f("fk_phone_links_artisan_id_artisans"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_links"))
    )
    with op.batch_alter_table("phone_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_links_artisan_id"), ["artisan_id"], unique=False)
        batch_op.create_index("ix_phone_links_phone", ["phone"], unique=False)


    # AMO for artisans: 6.37% of a flat income in SMIG multiples. 135.00 MAD a month for
    # artisans in the RNA who pay no income tax (0.75 x SMIG); the other brackets follow
    # the same base. A new decree is a new dated row, never an edit.
    categories = sa.table("contribution_categories", sa.column("code"), sa.column("name_ar"), sa.column("name_fr"))
    amounts = sa.table("contribution_amounts", sa.column("category_code"), sa.column("effective_from", sa.Date),
                       sa.column("monthly_centimes"))
    op.bulk_insert(categories, [
        {"code": "rna_no_income_tax", "name_ar": "صانع تقليدي مسجل غير خاضع للضريبة على الدخل",
         "name_fr": "Artisan inscrit au RNA non soumis à l'IR"},
        {"code": "smig_1", "name_ar": "دخل جزافي يعادل الحد الأدنى للأجور", "name_fr": "Revenu forfaitaire 1 SMIG"},
        {"code": "smig_3_2", "name_ar": "دخل جزافي يعادل 3,2 مرات الحد الأدنى للأجور",
         "name_fr": "Revenu forfaitaire 3,2 SMIG"},
        {"code": "smig_6", "name_ar": "دخل جزافي يعادل 6 مرات الحد الأدنى للأجور", "name_fr": "Revenu forfaitaire 6 SMIG"},
    ])
    start = dt.date(2022, 1, 1)
    op.bulk_insert(amounts, [
        {"category_code": "rna_no_income_tax", "effective_from": start, "monthly_centimes": 13500},
        {"category_code": "smig_1", "effective_from": start, "monthly_centimes": 18000},
        {"category_code": "smig_3_2", "effective_from": start, "monthly_centimes": 57600},
        {"category_code": "smig_6", "effective_from": start, "monthly_centimes": 108000},
    ])


def downgrade() -> None:
    with op.batch_alter_table("phone_links", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_links_phone")
        batch_op.drop_index(batch_op.f("ix_phone_links_artisan_id"))

    op.drop_table("phone_links")
    op.drop_table("contribution_amounts")
    op.drop_table("artisans")
    op.drop_table("ussd_session_outcomes")
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_outbox_state_created_at")

    op.drop_table("sms_outbox")
    op.drop_table("phone_preferences")
    with op.batch_alter_table("identification_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_identification_attempts_phone_created_at")
        batch_op.drop_index("ix_identification_attempts_cin_digest_created_at")

    op.drop_table("identification_attempts")
    op.drop_table("contribution_categories")
