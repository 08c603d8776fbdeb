"""interop edges: when each row the FHIR API serves last changed (``updated_at``, for
``meta.lastUpdated`` and bulk export's ``_since``); why a payer could not answer a 271
(``coverage.eligibility_reason``); 835 provider-level adjustments (``provider_adjustment``,
append-only like the ledger).

``updated_at`` is nullable so that it is added in place: rebuilding ``appointment`` or
``patient`` on SQLite would drop their triggers. Rows already there get their creation time
where the table has one, else the migration's time.

Revision ID: 0019
Revises: 0015
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from clinic_app.db import UTCDateTime

revision: str = '0019'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the column its updated_at starts from ("" = now)
_TOUCHED = {
    "location": "", "room": "", "provider": "", "patient": "created_at", "appointment": "created_at",
    "patient_allergy": "recorded_at", "patient_medication": "recorded_at", "coverage": "",
}


def upgrade() -> None:
    for table, start in _TOUCHED.items():
        op.add_column(table, sa.Column('updated_at', UTCDateTime(timezone=True), nullable=True))
        op.execute(f"UPDATE {table} SET updated_at = {start or 'CURRENT_TIMESTAMP'}")
    op.add_column('coverage', sa.Column('eligibility_reason', sqlmodel.sql.sqltypes.AutoString(length=3),
                                        server_default='', nullable=False))
    op.create_table(
        'provider_adjustment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('remittance_id', sa.Integer(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=True),
        sa.Column('provider_id_code', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column('fiscal_period_end', sa.Date(), nullable=False),
        sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=True),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
        sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
        sa.ForeignKeyConstraint(['remittance_id'], ['remittance.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_provider_adjustment_remittance_id'), 'provider_adjustment', ['remittance_id'], unique=False)
    # Money that moved is never edited or deleted (as ledger_entry, 0003).
    if op.get_bind().dialect.name == "sqlite":
        for op_name in ("update", "delete"):
            op.execute(f"""CREATE TRIGGER provider_adjustment_no_{op_name} BEFORE {op_name.upper()} ON provider_adjustment
            BEGIN SELECT RAISE(ABORT, 'provider_adjustment_append_only'); END""")
    else:
        op.execute("""CREATE TRIGGER provider_adjustment_append_only BEFORE UPDATE OR DELETE ON provider_adjustment
        FOR EACH ROW EXECUTE FUNCTION clinic_forbid('provider_adjustment_append_only')""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for op_name in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS provider_adjustment_no_{op_name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS provider_adjustment_append_only ON provider_adjustment")
    op.drop_index(op.f('ix_provider_adjustment_remittance_id'), table_name='provider_adjustment')
    op.drop_table('provider_adjustment')
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+): a rebuild would drop the tables' triggers.
    op.drop_column('coverage', 'eligibility_reason')
    for table in reversed(list(_TOUCHED)):
        op.drop_column(table, 'updated_at')
