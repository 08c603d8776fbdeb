"""patient merge (a record of each merge; final rows may follow a duplicate to its survivor)
and eligibility 270/271 fields on coverage; record_change (field history of edited records)

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-02 00:20:00

Final rows (a signed note, a ledger entry, an attachment, a signed note's measure score)
stay unchangeable, with one exception: their ``patient_id`` may change from a merged
duplicate to its survivor as recorded in ``patient_merge``, when nothing else in the row
changes. SQLite compares each column by name (listed from the table when this runs);
PostgreSQL compares the whole row as JSON without ``patient_id``. A later revision that adds
a column to one of these four tables on SQLite must recreate its trigger the same way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('patient_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('duplicate_patient_id', sa.Integer(), nullable=False),
    sa.Column('survivor_patient_id', sa.Integer(), nullable=False),
    sa.Column('merged_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('merged_by', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['duplicate_patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['merged_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['survivor_patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('duplicate_patient_id')
    )
    op.create_index(op.f('ix_patient_merge_survivor_patient_id'), 'patient_merge', ['survivor_patient_id'], unique=False)
    op.create_table('record_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('old_value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('new_value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.Column('changed_at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_record_change_entity', 'record_change', ['entity', 'entity_id'], unique=False)
    op.create_index(op.f('ix_record_change_patient_id'), 'record_change', ['patient_id'], unique=False)
    # Plain ADD COLUMN (no SQLite table copy, which would drop coverage's neighbours' triggers).
    op.add_column('coverage', sa.Column('copay_cents', sa.Integer(), nullable=True))
    op.add_column('coverage', sa.Column('eligibility_status', sqlmodel.sql.sqltypes.AutoString(length=10), server_default='', nullable=False))
    op.add_column('coverage', sa.Column('eligibility_copay_cents', sa.Integer(), nullable=True))
    op.add_column('coverage', sa.Column('deductible_remaining_cents', sa.Integer(), nullable=True))
    op.add_column('coverage', sa.Column('eligibility_checked_at', clinic_app.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('coverage', sa.Column('eligibility_trace', sqlmodel.sql.sqltypes.AutoString(length=30), server_default='', nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rules(merge_aware=True)
    else:
        _pg_rules(merge_aware=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rules(merge_aware=False)
    else:
        _pg_rules(merge_aware=False)
    for column in ('eligibility_trace', 'eligibility_checked_at', 'deductible_remaining_cents',
                   'eligibility_copay_cents', 'eligibility_status', 'copay_cents'):
        op.drop_column('coverage', column)
    op.drop_index(op.f('ix_record_change_patient_id'), table_name='record_change')
    op.drop_index('ix_record_change_entity', table_name='record_change')
    op.drop_table('record_change')
    op.drop_index(op.f('ix_patient_merge_survivor_patient_id'), table_name='patient_merge')
    op.drop_table('patient_merge')


_MERGE_RECORDED = (
    "EXISTS (SELECT 1 FROM patient_merge m WHERE m.duplicate_patient_id = OLD.patient_id "
    "AND m.survivor_patient_id = NEW.patient_id)"
)

# (table, trigger, the condition under which 0001/0002/0003 refuse an update, the message)
_SQLITE_UPDATE_RULES = [
    ("note", "note_signed_no_update", "OLD.signed_at IS NOT NULL", "note_signed"),
    ("measure_result", "measure_result_signed_update",
     "(SELECT signed_at FROM note WHERE id = NEW.note_id) IS NOT NULL", "note_signed"),
    ("attachment", "attachment_no_update", "", "attachment_final"),
    ("ledger_entry", "ledger_entry_no_update", "", "ledger_entry_append_only"),
]


def _sqlite_rules(*, merge_aware: bool) -> None:
    bind = op.get_bind()
    for table, trigger, refused_when, message in _SQLITE_UPDATE_RULES:
        conditions = [refused_when] if refused_when else []
        if merge_aware:
            columns = [row[1] for row in bind.exec_driver_sql(f"PRAGMA table_info({table})") if row[1] != "patient_id"]
            same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in columns)
            conditions.append(f"NOT (NEW.patient_id IS NOT OLD.patient_id AND {_MERGE_RECORDED} AND {same})")
        when = f"WHEN {' AND '.join(conditions)} " if conditions else ""
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} {when}"
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


_PG_MERGE_MOVE = f"""TG_OP = 'UPDATE' AND NEW.patient_id IS DISTINCT FROM OLD.patient_id
        AND (to_jsonb(NEW) - 'patient_id') = (to_jsonb(OLD) - 'patient_id') AND {_MERGE_RECORDED}"""

_PG_FUNCTIONS = [
    f"""CREATE FUNCTION clinic_forbid_unless_merge() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF {_PG_MERGE_MOVE} THEN RETURN NEW; END IF;
      RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
    END $$""",
    f"""CREATE FUNCTION clinic_signed_note_child_unless_merge() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE nid integer;
    BEGIN
      IF {_PG_MERGE_MOVE} THEN RETURN NEW; END IF;
      IF TG_OP = 'DELETE' THEN nid := OLD.note_id; ELSE nid := NEW.note_id; END IF;
      IF EXISTS (SELECT 1 FROM note WHERE id = nid AND signed_at IS NOT NULL) THEN
        RAISE EXCEPTION 'note_signed' USING ERRCODE = 'restrict_violation';
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$""",
]

# (table, trigger, timing and events, WHEN clause, function call): before -> after.
_PG_TRIGGERS = [
    ("note", "note_signed_immutable", "BEFORE UPDATE OR DELETE", "WHEN (OLD.signed_at IS NOT NULL)",
     "clinic_forbid('note_signed')", "clinic_forbid_unless_merge('note_signed')"),
    ("measure_result", "measure_result_signed", "BEFORE INSERT OR UPDATE OR DELETE", "",
     "clinic_forbid_signed_note_child()", "clinic_signed_note_child_unless_merge()"),
    ("attachment", "attachment_no_update", "BEFORE UPDATE", "",
     "clinic_forbid('attachment_final')", "clinic_forbid_unless_merge('attachment_final')"),
    ("ledger_entry", "ledger_entry_append_only", "BEFORE UPDATE OR DELETE", "",
     "clinic_forbid('ledger_entry_append_only')", "clinic_forbid_unless_merge('ledger_entry_append_only')"),
]


def _pg_rules(*, merge_aware: bool) -> None:
    if merge_aware:
        for statement in _PG_FUNCTIONS:
            op.execute(statement)
    for table, trigger, events, when, before, after in _PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute(
            f"CREATE TRIGGER {trigger} {events} ON {table} FOR EACH ROW {when} "
            f"EXECUTE FUNCTION {after if merge_aware else before}"
        )
    if not merge_aware:
        op.execute("DROP FUNCTION IF EXISTS clinic_forbid_unless_merge()")
        op.execute("DROP FUNCTION IF EXISTS clinic_signed_note_child_unless_merge()")
