"""RNA registration requests and the chambers of crafts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Policy: every revision must run while the previous release still serves traffic
(add columns nullable or with a default, backfill, then tighten in a later release).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OPEN = sa.text("status = 'open'")


def _counter_scopes(scopes: str) -> None:
    # The identification counters also count a phone's registration-request tries.
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite alters a table by copying it; batch mode does not carry its CHECKs over.
        with op.batch_alter_table('identification_counters', recreate='always') as batch_op:
            batch_op.create_check_constraint('scope', f'scope IN ({scopes})')
    else:
        op.drop_constraint(op.f('ck_identification_counters_scope'), 'identification_counters', type_='check')
        op.create_check_constraint('scope', 'identification_counters', f'scope IN ({scopes})')


def upgrade() -> None:
    op.create_table('chambers',
    sa.Column('region_code', sa.String(length=2), nullable=False),
    sa.Column('name_ar', sa.String(length=80), nullable=False),
    sa.Column('name_fr', sa.String(length=80), nullable=False),
    sa.Column('address', sa.String(length=80), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('region_code', name=op.f('pk_chambers'))
    )
    op.create_table('registration_requests',
    sa.Column('id', ID, nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('cin', sa.String(length=10), nullable=False),
    sa.Column('birth_year', sa.SmallInteger(), nullable=False),
    sa.Column('trade', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=2), nullable=False),
    sa.Column('province_code', sa.String(length=8), nullable=False),
    sa.Column('commune_code', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('reason', sa.String(length=120), nullable=True),
    sa.Column('artisan_id', ID, nullable=True),
    sa.CheckConstraint("status IN ('open', 'registered', 'rejected')", name=op.f('ck_registration_requests_status')),
    sa.CheckConstraint("language IN ('ar', 'fr')", name=op.f('ck_registration_requests_language')),
    sa.CheckConstraint('birth_year BETWEEN 1900 AND 2100', name=op.f('ck_registration_requests_birth_year')),
    sa.CheckConstraint("status = 'open' OR decided_at IS NOT NULL", name=op.f('ck_registration_requests_decided_has_date')),
    sa.CheckConstraint("status != 'registered' OR artisan_id IS NOT NULL", name=op.f('ck_registration_requests_registered_has_artisan')),
    sa.ForeignKeyConstraint(['artisan_id'], ['artisans.id'], name=op.f('fk_registration_requests_artisan_id_artisans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_requests'))
    )
    with op.batch_alter_table('registration_requests', schema=None) as batch_op:
        batch_op.create_index('ix_registration_requests_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index('uq_registration_requests_open_cin', ['cin'], unique=True, postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index('uq_registration_requests_open_phone', ['phone'], unique=True, postgresql_where=OPEN, sqlite_where=OPEN)
    _counter_scopes("'phone', 'cin', 'request'")


def downgrade() -> None:
    op.execute("DELETE FROM identification_counters WHERE scope = 'request'")
    _counter_scopes("'phone', 'cin'")
    op.drop_table('registration_requests')
    op.drop_table('chambers')
