"""baseline: people, scheduling, notes, charges, audit, and the rules the database keeps

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 13:10:30.642067
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db


revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('appointment_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('color', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('duration_minutes BETWEEN 5 AND 480', name='ck_apptype_duration'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('fee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('timed', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name='ck_fee_amount'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mrn', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('first_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('last_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mrn')
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_last_name'), ['last_name'], unique=False)

    op.create_table('provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('discipline', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('npi', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('npi IS NULL OR length(npi) = 10', name='ck_provider_npi_len'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('provider', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_location_id'), ['location_id'], unique=False)

    op.create_table('room',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('location_id', 'name')
    )
    with op.batch_alter_table('room', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_location_id'), ['location_id'], unique=False)

    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('appointment_type_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('arrived_at', clinic_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_started_at', clinic_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('booked', 'arrived', 'in_session', 'ready_to_bill', 'billed', 'no_show', 'cancelled')", name='ck_appointment_status'),
    sa.CheckConstraint('ends_at > starts_at', name='ck_appointment_span'),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['appointment_type.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['room_id'], ['room.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index('ix_appointment_location_start', ['location_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_appointment_provider_start', ['provider_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_appointment_room_start', ['room_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_appointment_status', ['status'], unique=False)

    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('reception', 'clinician', 'biller', 'manager', 'admin')", name='ck_user_role'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('appointment_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appointment_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_event_appointment_id'), ['appointment_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_patient_id'), ['patient_id'], unique=False)

    op.create_table('note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('subjective', sa.Text(), nullable=False),
    sa.Column('objective', sa.Text(), nullable=False),
    sa.Column('assessment', sa.Text(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('signed_at', clinic_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['signed_by_user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('appointment_id')
    )
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_note_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_note_signed_at'), ['signed_at'], unique=False)

    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', clinic_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)

    op.create_table('charge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('unit_price_cents', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('diagnosis_codes', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name='ck_charge_amount'),
    sa.CheckConstraint('units >= 1', name='ck_charge_units'),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['note_id'], ['note.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('appointment_id', 'code'),
    sa.UniqueConstraint('appointment_id', 'line_no')
    )
    with op.batch_alter_table('charge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charge_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_charge_created_at'), ['created_at'], unique=False)

    op.create_table('note_diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.ForeignKeyConstraint(['note_id'], ['note.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('note_id', 'code')
    )
    with op.batch_alter_table('note_diagnosis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_diagnosis_note_id'), ['note_id'], unique=False)

    op.create_table('note_procedure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.CheckConstraint('units BETWEEN 1 AND 24', name='ck_procedure_units'),
    sa.ForeignKeyConstraint(['note_id'], ['note.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('note_id', 'code')
    )
    with op.batch_alter_table('note_procedure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_procedure_note_id'), ['note_id'], unique=False)

    _create_data_rules()


def downgrade() -> None:
    _drop_data_rules()
    with op.batch_alter_table('note_procedure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_procedure_note_id'))

    op.drop_table('note_procedure')
    with op.batch_alter_table('note_diagnosis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_diagnosis_note_id'))

    op.drop_table('note_diagnosis')
    with op.batch_alter_table('charge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charge_created_at'))
        batch_op.drop_index(batch_op.f('ix_charge_appointment_id'))

    op.drop_table('charge')
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))

    op.drop_table('user_session')
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_signed_at'))
        batch_op.drop_index(batch_op.f('ix_note_provider_id'))
        batch_op.drop_index(batch_op.f('ix_note_patient_id'))

    op.drop_table('note')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_patient_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    with op.batch_alter_table('appointment_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_event_appointment_id'))

    op.drop_table('appointment_event')
    op.drop_table('user')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index('ix_appointment_status')
        batch_op.drop_index('ix_appointment_room_start')
        batch_op.drop_index('ix_appointment_provider_start')
        batch_op.drop_index(batch_op.f('ix_appointment_patient_id'))
        batch_op.drop_index('ix_appointment_location_start')

    op.drop_table('appointment')
    with op.batch_alter_table('room', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_room_location_id'))

    op.drop_table('room')
    with op.batch_alter_table('provider', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_location_id'))

    op.drop_table('provider')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_last_name'))

    op.drop_table('patient')
    op.drop_table('location')
    op.drop_table('fee')
    op.drop_table('appointment_type')


# The rules below protect data whatever code writes to the database. Each has a
# test that fails without it (tests/test_db_rules.py). Their messages are the keys
# that services/platform/errors.py maps to domain errors. Both dialects report a broken rule
# as an integrity error (SQLite: RAISE(ABORT); PostgreSQL: SQLSTATE 23001).
_LIVE = "status NOT IN ('no_show', 'cancelled')"

_SQLITE_RULES = [
    # No double booking of a provider or a room (cancelled and no-show slots are free).
    f"""CREATE TRIGGER appointment_provider_overlap_ins BEFORE INSERT ON appointment
    WHEN NEW.{_LIVE} AND EXISTS (SELECT 1 FROM appointment a WHERE a.provider_id = NEW.provider_id
      AND a.{_LIVE} AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at)
    BEGIN SELECT RAISE(ABORT, 'provider_slot_taken'); END""",
    f"""CREATE TRIGGER appointment_provider_overlap_upd BEFORE UPDATE OF provider_id, starts_at, ends_at, status
    ON appointment
    WHEN NEW.{_LIVE} AND EXISTS (SELECT 1 FROM appointment a WHERE a.id <> NEW.id
      AND a.provider_id = NEW.provider_id AND a.{_LIVE}
      AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at)
    BEGIN SELECT RAISE(ABORT, 'provider_slot_taken'); END""",
    f"""CREATE TRIGGER appointment_room_overlap_ins BEFORE INSERT ON appointment
    WHEN NEW.room_id IS NOT NULL AND NEW.{_LIVE} AND EXISTS (SELECT 1 FROM appointment a
      WHERE a.room_id = NEW.room_id AND a.{_LIVE}
      AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at)
    BEGIN SELECT RAISE(ABORT, 'room_slot_taken'); END""",
    f"""CREATE TRIGGER appointment_room_overlap_upd BEFORE UPDATE OF room_id, starts_at, ends_at, status
    ON appointment
    WHEN NEW.room_id IS NOT NULL AND NEW.{_LIVE} AND EXISTS (SELECT 1 FROM appointment a
      WHERE a.id <> NEW.id AND a.room_id = NEW.room_id AND a.{_LIVE}
      AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at)
    BEGIN SELECT RAISE(ABORT, 'room_slot_taken'); END""",
    # A signed note is the legal record: no update, no delete, no change to its codes.
    """CREATE TRIGGER note_signed_no_update BEFORE UPDATE ON note WHEN OLD.signed_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'note_signed'); END""",
    """CREATE TRIGGER note_signed_no_delete BEFORE DELETE ON note WHEN OLD.signed_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'note_signed'); END""",
    *[
        f"""CREATE TRIGGER {table}_signed_{op_name} BEFORE {op_name.upper()} ON {table}
        WHEN (SELECT signed_at FROM note WHERE id = {row}.note_id) IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'note_signed'); END"""
        for table in ("note_diagnosis", "note_procedure")
        for op_name, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))
    ],
    # Charges and the audit log are never changed once written.
    """CREATE TRIGGER charge_no_update BEFORE UPDATE ON charge
    BEGIN SELECT RAISE(ABORT, 'charge_final'); END""",
    """CREATE TRIGGER charge_no_delete BEFORE DELETE ON charge
    BEGIN SELECT RAISE(ABORT, 'charge_final'); END""",
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log_append_only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log_append_only'); END""",
]

_SQLITE_TRIGGERS = [
    "appointment_provider_overlap_ins", "appointment_provider_overlap_upd",
    "appointment_room_overlap_ins", "appointment_room_overlap_upd",
    "note_signed_no_update", "note_signed_no_delete",
    *[f"{t}_signed_{o}" for t in ("note_diagnosis", "note_procedure") for o in ("insert", "update", "delete")],
    "charge_no_update", "charge_no_delete", "audit_log_no_update", "audit_log_no_delete",
]

_PG_RULES = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE appointment ADD CONSTRAINT ex_appointment_provider_overlap
    EXCLUDE USING gist (provider_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE ({_LIVE})""",
    f"""ALTER TABLE appointment ADD CONSTRAINT ex_appointment_room_overlap
    EXCLUDE USING gist (room_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
    WHERE (room_id IS NOT NULL AND {_LIVE})""",
    """CREATE FUNCTION clinic_forbid() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END $$""",
    """CREATE FUNCTION clinic_forbid_signed_note_child() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE nid integer;
    BEGIN
      IF TG_OP = 'DELETE' THEN nid := OLD.note_id; ELSE nid := NEW.note_id; END IF;
      IF EXISTS (SELECT 1 FROM note WHERE id = nid AND signed_at IS NOT NULL) THEN
        RAISE EXCEPTION 'note_signed' USING ERRCODE = 'restrict_violation';
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER note_signed_immutable BEFORE UPDATE OR DELETE ON note FOR EACH ROW
    WHEN (OLD.signed_at IS NOT NULL) EXECUTE FUNCTION clinic_forbid('note_signed')""",
    """CREATE TRIGGER note_diagnosis_signed BEFORE INSERT OR UPDATE OR DELETE ON note_diagnosis
    FOR EACH ROW EXECUTE FUNCTION clinic_forbid_signed_note_child()""",
    """CREATE TRIGGER note_procedure_signed BEFORE INSERT OR UPDATE OR DELETE ON note_procedure
    FOR EACH ROW EXECUTE FUNCTION clinic_forbid_signed_note_child()""",
    """CREATE TRIGGER charge_final BEFORE UPDATE OR DELETE ON charge FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('charge_final')""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('audit_log_append_only')""",
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
    for table, name in (
        ("note", "note_signed_immutable"), ("note_diagnosis", "note_diagnosis_signed"),
        ("note_procedure", "note_procedure_signed"), ("charge", "charge_final"),
        ("audit_log", "audit_log_append_only"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS clinic_forbid_signed_note_child()")
    op.execute("DROP FUNCTION IF EXISTS clinic_forbid()")
