"""KPI rollup: per local day x location x provider x room visit figures, and the triggers
that record every visit whose figures change (appointment, note, charge) in kpi_dirty, so
the dashboard recomputes that day before reading (services/kpi_rollup).

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02 01:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARK = "INSERT INTO kpi_dirty (location_id, at) "
# New patients: a change to one visit can make another visit of the patient their first
# attended one, or not: mark the patient's first attended visit among the others too.
_FIRST_OF_OTHERS = (
    "SELECT location_id, starts_at FROM appointment WHERE patient_id = {row}.patient_id AND id <> {row}.id"
    " AND status IN ('arrived', 'in_session', 'ready_to_bill', 'billed') ORDER BY starts_at LIMIT 1"
)
# The tables whose rows belong to one visit (appointment_id) and move its figures.
_VISIT_CHILDREN = ("note", "charge")

_SQLITE = [
    f"""CREATE TRIGGER kpi_dirty_appointment_insert AFTER INSERT ON appointment BEGIN
    {_MARK}VALUES (NEW.location_id, NEW.starts_at);
    {_MARK}{_FIRST_OF_OTHERS.format(row="NEW")}; END""",
    f"""CREATE TRIGGER kpi_dirty_appointment_update AFTER UPDATE ON appointment BEGIN
    {_MARK}VALUES (OLD.location_id, OLD.starts_at);
    {_MARK}SELECT NEW.location_id, NEW.starts_at WHERE NEW.location_id <> OLD.location_id OR NEW.starts_at <> OLD.starts_at;
    {_MARK}{_FIRST_OF_OTHERS.format(row="NEW")};
    {_MARK}SELECT * FROM ({_FIRST_OF_OTHERS.format(row="OLD")}) WHERE OLD.patient_id <> NEW.patient_id; END""",
    f"""CREATE TRIGGER kpi_dirty_appointment_delete AFTER DELETE ON appointment BEGIN
    {_MARK}VALUES (OLD.location_id, OLD.starts_at);
    {_MARK}{_FIRST_OF_OTHERS.format(row="OLD")}; END""",
    *[
        f"""CREATE TRIGGER kpi_dirty_{table}_{op_name} AFTER {op_name.upper()} ON {table} BEGIN
        {_MARK}SELECT location_id, starts_at FROM appointment WHERE id = {row}.appointment_id; END"""
        for table in _VISIT_CHILDREN
        for op_name, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))
    ],
    *[
        f"""CREATE TRIGGER kpi_dirty_{table}_moved AFTER UPDATE OF appointment_id ON {table} BEGIN
        {_MARK}SELECT location_id, starts_at FROM appointment WHERE id = OLD.appointment_id; END"""
        for table in _VISIT_CHILDREN
    ],
]
# Ledger entries: location 0 marks the entry's UTC day in kpi_ledger_day (open AR).
_SQLITE += [
    f"CREATE TRIGGER kpi_dirty_ledger_{op_name} AFTER {op_name.upper()} ON ledger_entry BEGIN {_MARK}VALUES (0, {row}.created_at); END"
    for op_name, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))
] + ["CREATE TRIGGER kpi_dirty_ledger_moved AFTER UPDATE OF created_at ON ledger_entry BEGIN "
     f"{_MARK}VALUES (0, OLD.created_at); END"]
_SQLITE_NAMES = [
    *[f"kpi_dirty_ledger_{o}" for o in ("insert", "update", "delete", "moved")],
    "kpi_dirty_appointment_insert", "kpi_dirty_appointment_update", "kpi_dirty_appointment_delete",
    *[f"kpi_dirty_{t}_{o}" for t in _VISIT_CHILDREN for o in ("insert", "update", "delete", "moved")],
]

_PG = [
    f"""CREATE FUNCTION clinic_kpi_dirty_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        {_MARK}VALUES (OLD.location_id, OLD.starts_at);
        {_MARK}{_FIRST_OF_OTHERS.format(row="OLD")};
      END IF;
      IF TG_OP <> 'DELETE' THEN
        {_MARK}VALUES (NEW.location_id, NEW.starts_at);
        {_MARK}{_FIRST_OF_OTHERS.format(row="NEW")};
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER kpi_dirty_appointment AFTER INSERT OR UPDATE OR DELETE ON appointment FOR EACH ROW
    EXECUTE FUNCTION clinic_kpi_dirty_appointment()""",
    f"""CREATE FUNCTION clinic_kpi_dirty_visit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN {_MARK}SELECT location_id, starts_at FROM appointment WHERE id = OLD.appointment_id; END IF;
      IF TG_OP <> 'DELETE' THEN {_MARK}SELECT location_id, starts_at FROM appointment WHERE id = NEW.appointment_id; END IF;
      RETURN NULL;
    END $$""",
    *[
        f"""CREATE TRIGGER kpi_dirty_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW
        EXECUTE FUNCTION clinic_kpi_dirty_visit()"""
        for table in _VISIT_CHILDREN
    ],
    f"""CREATE FUNCTION clinic_kpi_dirty_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN {_MARK}VALUES (0, OLD.created_at); END IF;
      IF TG_OP <> 'DELETE' THEN {_MARK}VALUES (0, NEW.created_at); END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER kpi_dirty_ledger AFTER INSERT OR UPDATE OR DELETE ON ledger_entry FOR EACH ROW
    EXECUTE FUNCTION clinic_kpi_dirty_ledger()""",
]


def upgrade() -> None:
    op.create_table(
        'kpi_visit_day',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in
          ('scheduled', 'completed', 'arrivals', 'no_shows', 'late_cancels', 'advance_cancels')],
        sa.Column('held_minutes', sa.Float(), nullable=False),
        sa.Column('wait_count', sa.Integer(), nullable=False),
        sa.Column('wait_minutes', sa.Float(), nullable=False),
        sa.Column('lag_count', sa.Integer(), nullable=False),
        sa.Column('lag_minutes', sa.Float(), nullable=False),
        sa.Column('charges_cents', sa.BigInteger(), nullable=False),
        sa.Column('new_patients', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('location_id', 'day', 'provider_id', 'room_id'),
    )
    op.create_table(
        'kpi_ledger_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'payer_id'),
    )
    op.create_table(
        'kpi_day_done',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('location_id', 'day'),
    )
    op.create_table(
        'kpi_dirty',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    for statement in _SQLITE if op.get_bind().dialect.name == 'sqlite' else _PG:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table in ('appointment', *_VISIT_CHILDREN):
            op.execute(f"DROP TRIGGER IF EXISTS kpi_dirty_{table} ON {table}")
        op.execute("DROP TRIGGER IF EXISTS kpi_dirty_ledger ON ledger_entry")
        op.execute("DROP FUNCTION IF EXISTS clinic_kpi_dirty_ledger()")
        op.execute("DROP FUNCTION IF EXISTS clinic_kpi_dirty_appointment()")
        op.execute("DROP FUNCTION IF EXISTS clinic_kpi_dirty_visit()")
    op.drop_table('kpi_dirty')
    op.drop_table('kpi_day_done')
    op.drop_table('kpi_ledger_day')
    op.drop_table('kpi_visit_day')
