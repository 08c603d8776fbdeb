"""KPI rollup by the visit's payer (services/kpi_rollup), for the dashboard's payer filter:

- kpi_visit_payer_day: the visit figures of kpi_visit_day (no rooms, no booked minutes: the
  utilisation tiles take no payer) per local day x location x provider x payer, the payer of a
  visit being the patient's active primary coverage on the visit's local day (0 = none).
- kpi_case_payer_day: kpi_case_day per payer, each episode visit grouped by the local day of
  the episode's previous attended visit with the same payer.

Both are recomputed with the visit's (location, day), as 0012 and 0014 do. A coverage added,
changed or removed can change the payer of any visit of its patient: its triggers mark every
visit of the patient (before and after the change) in kpi_dirty.

Every (location, day) is marked never computed (kpi_day_done emptied), so the next dashboard
load, or ``python -m clinic_app migrate``, computes the new tables too.

Revision ID: 0015
Revises: 0014
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARK_PATIENT = "INSERT INTO kpi_dirty (location_id, at) SELECT location_id, starts_at FROM appointment WHERE patient_id = {row}.patient_id;"
_SQLITE_NAMES = ["kpi_coverage_insert", "kpi_coverage_update", "kpi_coverage_delete"]


def upgrade() -> None:
    op.create_table(
        'kpi_visit_payer_day',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in
          ('scheduled', 'completed', 'arrivals', 'no_shows', 'late_cancels', 'advance_cancels', 'wait_count')],
        sa.Column('wait_minutes', sa.Float(), nullable=False),
        sa.Column('lag_count', sa.Integer(), nullable=False),
        sa.Column('lag_minutes', sa.Float(), nullable=False),
        sa.Column('charges_cents', sa.BigInteger(), nullable=False),
        sa.Column('new_patients', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('location_id', 'day', 'provider_id', 'payer_id'),
    )
    op.create_index('ix_kpi_visit_payer_day_payer_day', 'kpi_visit_payer_day', ['payer_id', 'day'])
    op.create_table(
        'kpi_case_payer_day',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Date(), nullable=True) for name in
          ('prev_any', 'prev_location', 'prev_provider', 'prev_both')],
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kpi_case_payer_day_payer_day', 'kpi_case_payer_day', ['payer_id', 'day'])
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f"CREATE TRIGGER kpi_coverage_insert AFTER INSERT ON coverage BEGIN {_MARK_PATIENT.format(row='NEW')} END")
        op.execute(f"CREATE TRIGGER kpi_coverage_update AFTER UPDATE ON coverage BEGIN {_MARK_PATIENT.format(row='OLD')}"
                   f" INSERT INTO kpi_dirty (location_id, at) SELECT location_id, starts_at FROM appointment"
                   f" WHERE patient_id = NEW.patient_id AND NEW.patient_id <> OLD.patient_id; END")
        op.execute(f"CREATE TRIGGER kpi_coverage_delete AFTER DELETE ON coverage BEGIN {_MARK_PATIENT.format(row='OLD')} END")
    else:
        op.execute(f"""CREATE FUNCTION clinic_kpi_coverage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          IF TG_OP <> 'INSERT' THEN {_MARK_PATIENT.format(row='OLD')} END IF;
          IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.patient_id <> OLD.patient_id) THEN
            {_MARK_PATIENT.format(row='NEW')}
          END IF;
          RETURN NULL; END $$""")
        op.execute("CREATE TRIGGER kpi_coverage AFTER INSERT OR UPDATE OR DELETE ON coverage"
                   " FOR EACH ROW EXECUTE FUNCTION clinic_kpi_coverage()")
    # Every day computed so far lacks the new tables' rows: compute each again when next read.
    # (as 0014: the whole rollup, so that ``migrate`` sees it empty and fills it once).
    for table in ("kpi_day_done", "kpi_visit_day", "kpi_claim_day", "kpi_case_day", "kpi_ledger_day", "kpi_money_day"):
        op.execute(f"DELETE FROM {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS kpi_coverage ON coverage")
        op.execute("DROP FUNCTION IF EXISTS clinic_kpi_coverage()")
    op.drop_index('ix_kpi_case_payer_day_payer_day', table_name='kpi_case_payer_day')
    op.drop_table('kpi_case_payer_day')
    op.drop_index('ix_kpi_visit_payer_day_payer_day', table_name='kpi_visit_payer_day')
    op.drop_table('kpi_visit_payer_day')
