"""revenue cycle: payers, coverage, fee schedules, claims, remittances, patient ledger

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-23 13:32:57.015655
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db  # noqa: F401  (UTCDateTime columns)


revision: str = '0003'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('payer_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('default_modifiers', sqlmodel.sql.sqltypes.AutoString(length=11), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('payer_id')
    )
    op.create_table('billing_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('organisation', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('npi', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('tax_id', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=55), nullable=False),
    sa.Column('city', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('zip_code', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('location_id')
    )
    op.create_table('coverage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('group_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('relationship', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('subscriber_first_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('subscriber_last_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('subscriber_birth_date', sa.Date(), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=55), nullable=False),
    sa.Column('city', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('zip_code', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("relationship IN ('self', 'spouse', 'child', 'other')", name='ck_coverage_relationship'),
    sa.CheckConstraint('effective_to IS NULL OR effective_to >= effective_from', name='ck_coverage_dates'),
    sa.CheckConstraint('priority IN (1, 2)', name='ck_coverage_priority'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coverage_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coverage_payer_id'), ['payer_id'], unique=False)

    op.create_table('fee_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name='ck_fee_schedule_amount'),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payer_id', 'code')
    )
    with op.batch_alter_table('fee_schedule', schema=None) as batch_op:
        batch_op.create_index('uq_fee_schedule_self_pay', ['code'], unique=True, sqlite_where=sa.text('payer_id IS NULL'), postgresql_where=sa.text('payer_id IS NULL'))

    op.create_table('claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=False),
    sa.Column('coverage_id', sa.Integer(), nullable=False),
    sa.Column('secondary_coverage_id', sa.Integer(), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('frequency', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('payer_claim_number', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('submit_count', sa.Integer(), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("frequency IN ('1', '7', '8')", name='ck_claim_frequency'),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'accepted', 'rejected', 'denied', 'paid', 'appealed')", name='ck_claim_status'),
    sa.CheckConstraint('total_cents >= 0', name='ck_claim_total'),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['coverage_id'], ['coverage.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.ForeignKeyConstraint(['secondary_coverage_id'], ['coverage.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_payer_id'), ['payer_id'], unique=False)
        batch_op.create_index('ix_claim_status', ['status'], unique=False)

    op.create_table('remittance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payer_name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('trace_number', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('payment_cents', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_sha256')
    )
    op.create_table('claim_diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.CheckConstraint('position BETWEEN 1 AND 12', name='ck_claim_dx_position'),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_id', 'position')
    )
    with op.batch_alter_table('claim_diagnosis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_diagnosis_claim_id'), ['claim_id'], unique=False)

    op.create_table('claim_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('claim_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_event_claim_id'), ['claim_id'], unique=False)

    op.create_table('ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('remittance_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('charge', 'payment', 'adjustment', 'write_off', 'refund', 'transfer')", name='ck_ledger_kind'),
    sa.CheckConstraint("method IN ('cash', 'cheque', 'card', 'insurance', '')", name='ck_ledger_method'),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittance.id'], ),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entry.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reverses_id')
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_payer_id'), ['payer_id'], unique=False)

    op.create_table('claim_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('charge_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('modifiers', sqlmodel.sql.sqltypes.AutoString(length=11), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('pointers', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name='ck_claim_line_amount'),
    sa.CheckConstraint('units >= 1', name='ck_claim_line_units'),
    sa.ForeignKeyConstraint(['charge_id'], ['charge.id'], ),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_id', 'line_no')
    )
    with op.batch_alter_table('claim_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_line_claim_id'), ['claim_id'], unique=False)

    op.create_table('line_posting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('claim_line_id', sa.Integer(), nullable=False),
    sa.Column('claim_status_code', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('charge_cents', sa.Integer(), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('remark_codes', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['claim_line_id'], ['claim_line.id'], ),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittance.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('line_posting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_posting_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_line_posting_claim_line_id'), ['claim_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_line_posting_remittance_id'), ['remittance_id'], unique=False)

    op.create_table('adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_posting_id', sa.Integer(), nullable=False),
    sa.Column('group_code', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.CheckConstraint("group_code IN ('CO', 'PR', 'OA', 'PI', 'CR')", name='ck_adjustment_group'),
    sa.ForeignKeyConstraint(['line_posting_id'], ['line_posting.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('adjustment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adjustment_line_posting_id'), ['line_posting_id'], unique=False)

    _create_data_rules()


def downgrade() -> None:
    _drop_data_rules()
    with op.batch_alter_table('adjustment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adjustment_line_posting_id'))

    op.drop_table('adjustment')
    with op.batch_alter_table('line_posting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_posting_remittance_id'))
        batch_op.drop_index(batch_op.f('ix_line_posting_claim_line_id'))
        batch_op.drop_index(batch_op.f('ix_line_posting_claim_id'))

    op.drop_table('line_posting')
    with op.batch_alter_table('claim_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_line_claim_id'))

    op.drop_table('claim_line')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_payer_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_patient_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_created_at'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_claim_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_appointment_id'))

    op.drop_table('ledger_entry')
    with op.batch_alter_table('claim_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_event_claim_id'))

    op.drop_table('claim_event')
    with op.batch_alter_table('claim_diagnosis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_diagnosis_claim_id'))

    op.drop_table('claim_diagnosis')
    op.drop_table('remittance')
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_status')
        batch_op.drop_index(batch_op.f('ix_claim_payer_id'))
        batch_op.drop_index(batch_op.f('ix_claim_patient_id'))
        batch_op.drop_index(batch_op.f('ix_claim_appointment_id'))

    op.drop_table('claim')
    with op.batch_alter_table('fee_schedule', schema=None) as batch_op:
        batch_op.drop_index('uq_fee_schedule_self_pay', sqlite_where=sa.text('payer_id IS NULL'), postgresql_where=sa.text('payer_id IS NULL'))

    op.drop_table('fee_schedule')
    with op.batch_alter_table('coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coverage_payer_id'))
        batch_op.drop_index(batch_op.f('ix_coverage_patient_id'))

    op.drop_table('coverage')
    op.drop_table('billing_profile')
    op.drop_table('payer')


# Money that has moved is never edited or deleted: a correction is a new, reversing
# entry. Claim history is append-only like the audit log. A card number (13 or more
# digits in a row) is refused in a payment reference: the clinic stores only the card
# terminal's reference.
_APPEND_ONLY = ("ledger_entry", "remittance", "line_posting", "adjustment", "claim_event")

_SQLITE_RULES = [
    *[
        f"""CREATE TRIGGER {table}_no_{op_name} BEFORE {op_name.upper()} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table}_append_only'); END"""
        for table in _APPEND_ONLY
        for op_name in ("update", "delete")
    ],
    """CREATE TRIGGER ledger_entry_no_card_number BEFORE INSERT ON ledger_entry
    WHEN NEW.reference GLOB '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*'
    BEGIN SELECT RAISE(ABORT, 'card_number_refused'); END""",
]

_SQLITE_TRIGGERS = [
    *[f"{table}_no_{op_name}" for table in _APPEND_ONLY for op_name in ("update", "delete")],
    "ledger_entry_no_card_number",
]

_PG_RULES = [
    *[
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW
        EXECUTE FUNCTION clinic_forbid('{table}_append_only')"""
        for table in _APPEND_ONLY
    ],
    """ALTER TABLE ledger_entry ADD CONSTRAINT card_number_refused CHECK (reference !~ '[0-9]{13}')""",
]


def _create_data_rules() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_RULES if dialect == "sqlite" else _PG_RULES:
        op.execute(statement)


def _drop_data_rules() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for table in _APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("ALTER TABLE ledger_entry DROP CONSTRAINT IF EXISTS card_number_refused")
