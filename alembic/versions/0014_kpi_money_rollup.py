"""KPI rollup for money, claims and episodes of care (services/kpi_rollup), and the triggers
that keep it exact through kpi_dirty, as 0012 does for the visit figures:

- kpi_money_day: per UTC day x visit location x provider x payer, payments (and refunds) and
  contractual adjustments made that day, and charges billed for that date of service.
  Recomputed with the ledger's UTC day (kpi_dirty location 0): the ledger triggers of 0012
  already mark an entry's day; a charge entry also marks its date of service here, and a
  visit moved to another location or provider marks the days of its entries.
- kpi_claim_day: per local day x location x provider x payer, claims first submitted (and
  answered, and clean at their first answer) and adjudication events, each with the time of
  the claim's previous adjudication (and denial), so that a range counts each claim once.
- kpi_case_day: per local day x location x provider, attended visits in an episode of care
  with the local day of the episode's previous attended visit (anywhere, at the location, with
  the provider, both), so that a range counts each episode once.
  Both are recomputed with the visit day (kpi_dirty location = the visit's location): a claim
  event marks every event of its claim; an episode's link, or a visit of it that starts or
  stops counting as attended or moves, marks the episode's attended visits from then on.

Every (location, day) and ledger day is marked never computed (kpi_day_done emptied) so the
next dashboard load computes the new tables too. No table is rebuilt.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from clinic_app.db import UTCDateTime

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARK = "INSERT INTO kpi_dirty (location_id, at) "
_ATTENDED = "('arrived', 'in_session', 'ready_to_bill', 'billed')"
_CLAIM_EVENTS = (  # every event of a claim, at its visit's location
    "SELECT a.location_id, x.at FROM claim_event x JOIN claim c ON c.id = x.claim_id"
    " JOIN appointment a ON a.id = c.appointment_id WHERE x.claim_id = {claim}"
)
_CLAIM_AT = "SELECT a.location_id, {at} FROM claim c JOIN appointment a ON a.id = c.appointment_id WHERE c.id = {claim}"
# The attended visits of an episode that start from (a margin before) a given time: the ones
# whose previous visit in the episode a change can alter.
_CASE_VISITS = (
    "SELECT a.location_id, a.starts_at FROM case_visit cv JOIN appointment a ON a.id = cv.appointment_id"
    " WHERE cv.case_id = {case} AND a.status IN " + _ATTENDED + " AND a.starts_at >= {since}"
)
_OF_VISIT = "(SELECT case_id FROM case_visit WHERE appointment_id = {visit})"
_MOVED = "OLD.location_id <> NEW.location_id OR OLD.provider_id <> NEW.provider_id"
_COUNTS_CHANGED = (
    f"(OLD.status IN {_ATTENDED}) <> (NEW.status IN {_ATTENDED}) OR (NEW.status IN {_ATTENDED} AND"
    f" (OLD.starts_at <> NEW.starts_at OR {_MOVED}))"
)


def _sqlite() -> list[str]:
    service_day = "{row}.service_date || ' 00:00:00.000000'"
    since = "datetime(min(OLD.starts_at, NEW.starts_at), '-2 days')"
    out = [
        f"""CREATE TRIGGER kpi_money_charge_insert AFTER INSERT ON ledger_entry
        WHEN NEW.kind = 'charge' AND NEW.service_date IS NOT NULL BEGIN
        {_MARK}VALUES (0, {service_day.format(row="NEW")}); END""",
        f"""CREATE TRIGGER kpi_money_charge_update AFTER UPDATE ON ledger_entry BEGIN
        {_MARK}SELECT 0, {service_day.format(row="OLD")} WHERE OLD.kind = 'charge' AND OLD.service_date IS NOT NULL;
        {_MARK}SELECT 0, {service_day.format(row="NEW")} WHERE NEW.kind = 'charge' AND NEW.service_date IS NOT NULL; END""",
        f"""CREATE TRIGGER kpi_money_charge_delete AFTER DELETE ON ledger_entry
        WHEN OLD.kind = 'charge' AND OLD.service_date IS NOT NULL BEGIN
        {_MARK}VALUES (0, {service_day.format(row="OLD")}); END""",
        f"""CREATE TRIGGER kpi_money_appointment_moved AFTER UPDATE OF location_id, provider_id ON appointment
        WHEN {_MOVED} BEGIN
        {_MARK}SELECT 0, created_at FROM ledger_entry WHERE appointment_id = NEW.id;
        {_MARK}SELECT 0, {service_day.format(row="ledger_entry")} FROM ledger_entry
          WHERE appointment_id = NEW.id AND kind = 'charge' AND service_date IS NOT NULL;
        {_MARK}SELECT OLD.location_id, e.at FROM claim_event e JOIN claim c ON c.id = e.claim_id WHERE c.appointment_id = NEW.id;
        {_MARK}SELECT NEW.location_id, e.at FROM claim_event e JOIN claim c ON c.id = e.claim_id WHERE c.appointment_id = NEW.id; END""",
        f"""CREATE TRIGGER kpi_claim_event_insert AFTER INSERT ON claim_event BEGIN
        {_MARK}{_CLAIM_EVENTS.format(claim="NEW.claim_id")}; END""",
        f"""CREATE TRIGGER kpi_claim_event_update AFTER UPDATE ON claim_event BEGIN
        {_MARK}{_CLAIM_EVENTS.format(claim="NEW.claim_id")};
        {_MARK}{_CLAIM_EVENTS.format(claim="OLD.claim_id")} AND OLD.claim_id <> NEW.claim_id;
        {_MARK}{_CLAIM_AT.format(at="OLD.at", claim="OLD.claim_id")}; END""",
        f"""CREATE TRIGGER kpi_claim_event_delete AFTER DELETE ON claim_event BEGIN
        {_MARK}{_CLAIM_EVENTS.format(claim="OLD.claim_id")};
        {_MARK}{_CLAIM_AT.format(at="OLD.at", claim="OLD.claim_id")}; END""",
        f"""CREATE TRIGGER kpi_claim_update AFTER UPDATE OF payer_id, appointment_id ON claim
        WHEN OLD.payer_id <> NEW.payer_id OR OLD.appointment_id <> NEW.appointment_id BEGIN
        {_MARK}{_CLAIM_EVENTS.format(claim="NEW.id")};
        {_MARK}SELECT a.location_id, x.at FROM claim_event x JOIN appointment a ON a.id = OLD.appointment_id
          WHERE x.claim_id = NEW.id; END""",
        f"""CREATE TRIGGER kpi_case_appointment AFTER UPDATE OF status, starts_at, location_id, provider_id ON appointment
        WHEN {_COUNTS_CHANGED} BEGIN
        {_MARK}{_CASE_VISITS.format(case=_OF_VISIT.format(visit="NEW.id"), since=since)}; END""",
    ]
    for op_name, rows in (("insert", ("NEW",)), ("update", ("OLD", "NEW")), ("delete", ("OLD",))):
        body = []
        for row in rows:
            counts = f"EXISTS (SELECT 1 FROM appointment WHERE id = {row}.appointment_id AND status IN {_ATTENDED})"
            visit_start = f"(SELECT datetime(starts_at, '-2 days') FROM appointment WHERE id = {row}.appointment_id)"
            body.append(f"{_MARK}{_CASE_VISITS.format(case=f'{row}.case_id', since=visit_start)} AND {counts};")
            body.append(f"{_MARK}SELECT location_id, starts_at FROM appointment WHERE id = {row}.appointment_id"
                        f" AND status IN {_ATTENDED};")
        out.append(f"CREATE TRIGGER kpi_case_visit_{op_name} AFTER {op_name.upper()} ON case_visit BEGIN {' '.join(body)} END")
    return out


_SQLITE_NAMES = [
    "kpi_money_charge_insert", "kpi_money_charge_update", "kpi_money_charge_delete", "kpi_money_appointment_moved",
    "kpi_claim_event_insert", "kpi_claim_event_update", "kpi_claim_event_delete", "kpi_claim_update", "kpi_case_appointment",
    "kpi_case_visit_insert", "kpi_case_visit_update", "kpi_case_visit_delete",
]


def _pg() -> list[str]:
    service_day = "({row}.service_date::timestamp AT TIME ZONE 'UTC')"
    since = "LEAST(OLD.starts_at, NEW.starts_at) - interval '2 days'"
    case_rows = []
    for row in ("OLD", "NEW"):
        counts = f"EXISTS (SELECT 1 FROM appointment WHERE id = {row}.appointment_id AND status IN {_ATTENDED})"
        visit_start = f"(SELECT starts_at - interval '2 days' FROM appointment WHERE id = {row}.appointment_id)"
        case_rows.append(f"""IF TG_OP <> '{"INSERT" if row == "OLD" else "DELETE"}' THEN
          {_MARK}{_CASE_VISITS.format(case=f'{row}.case_id', since=visit_start)} AND {counts};
          {_MARK}SELECT location_id, starts_at FROM appointment WHERE id = {row}.appointment_id AND status IN {_ATTENDED};
        END IF;""")
    return [
        *_pg_trigger("kpi_money_charge", "ledger_entry", "INSERT OR UPDATE OR DELETE", f"""
          IF TG_OP <> 'INSERT' AND OLD.kind = 'charge' AND OLD.service_date IS NOT NULL THEN
            {_MARK}VALUES (0, {service_day.format(row="OLD")});
          END IF;
          IF TG_OP <> 'DELETE' AND NEW.kind = 'charge' AND NEW.service_date IS NOT NULL THEN
            {_MARK}VALUES (0, {service_day.format(row="NEW")});
          END IF;"""),
        *_pg_trigger("kpi_appointment_moved", "appointment", "UPDATE", f"""
          IF {_MOVED} THEN
            {_MARK}SELECT 0, created_at FROM ledger_entry WHERE appointment_id = NEW.id;
            {_MARK}SELECT 0, {service_day.format(row="ledger_entry")} FROM ledger_entry
              WHERE appointment_id = NEW.id AND kind = 'charge' AND service_date IS NOT NULL;
            {_MARK}SELECT OLD.location_id, e.at FROM claim_event e JOIN claim c ON c.id = e.claim_id WHERE c.appointment_id = NEW.id;
            {_MARK}SELECT NEW.location_id, e.at FROM claim_event e JOIN claim c ON c.id = e.claim_id WHERE c.appointment_id = NEW.id;
          END IF;
          IF {_COUNTS_CHANGED} THEN
            {_MARK}{_CASE_VISITS.format(case=_OF_VISIT.format(visit="NEW.id"), since=since)};
          END IF;"""),
        *_pg_trigger("kpi_claim_event", "claim_event", "INSERT OR UPDATE OR DELETE", f"""
          IF TG_OP <> 'DELETE' THEN {_MARK}{_CLAIM_EVENTS.format(claim="NEW.claim_id")}; END IF;
          IF TG_OP <> 'INSERT' THEN
            {_MARK}{_CLAIM_EVENTS.format(claim="OLD.claim_id")};
            {_MARK}{_CLAIM_AT.format(at="OLD.at", claim="OLD.claim_id")};
          END IF;"""),
        *_pg_trigger("kpi_claim", "claim", "UPDATE", f"""
          IF OLD.payer_id <> NEW.payer_id OR OLD.appointment_id <> NEW.appointment_id THEN
            {_MARK}{_CLAIM_EVENTS.format(claim="NEW.id")};
            {_MARK}SELECT a.location_id, x.at FROM claim_event x JOIN appointment a ON a.id = OLD.appointment_id WHERE x.claim_id = NEW.id;
          END IF;"""),
        *_pg_trigger("kpi_case_visit", "case_visit", "INSERT OR UPDATE OR DELETE", " ".join(case_rows)),
    ]


_PG_TRIGGERS = {"kpi_money_charge": "ledger_entry", "kpi_appointment_moved": "appointment", "kpi_claim_event": "claim_event",
                "kpi_claim": "claim", "kpi_case_visit": "case_visit"}


def _pg_trigger(name: str, table: str, events: str, body: str) -> list[str]:
    """A plpgsql function clinic_<name> running ``body`` and the row trigger <name> calling it."""
    assert _PG_TRIGGERS[name] == table
    return [
        f"CREATE FUNCTION clinic_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$",
        f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW EXECUTE FUNCTION clinic_{name}()",
    ]


def upgrade() -> None:
    op.create_table(
        'kpi_money_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=False),
        sa.Column('paid_cents', sa.BigInteger(), nullable=False),
        sa.Column('adjusted_cents', sa.BigInteger(), nullable=False),
        sa.Column('billed_cents', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'location_id', 'provider_id', 'payer_id'),
    )
    op.create_table(
        'kpi_claim_day',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=False),
        sa.Column('prev_adjudicated_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('prev_denied_at', UTCDateTime(timezone=True), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in
          ('first_submitted', 'answered', 'clean', 'adjudicated', 'denied')],
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kpi_claim_day_location_day', 'kpi_claim_day', ['location_id', 'day'])
    op.create_table(
        'kpi_case_day',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Date(), nullable=True) for name in
          ('prev_any', 'prev_location', 'prev_provider', 'prev_both')],
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kpi_case_day_location_day', 'kpi_case_day', ['location_id', 'day'])
    for statement in _sqlite() if op.get_bind().dialect.name == 'sqlite' else _pg():
        op.execute(statement)
    # Every day computed so far lacks the new tables' rows: compute each again when next read.
    op.execute("DELETE FROM kpi_day_done")
    op.execute("DELETE FROM kpi_visit_day")
    op.execute("DELETE FROM kpi_ledger_day")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for trigger, table in _PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS clinic_{trigger}()")
    op.execute("DELETE FROM kpi_day_done")  # the days computed with 0014 hold no figures 0012 lacks; recompute anyway
    op.drop_index('ix_kpi_claim_day_location_day', table_name='kpi_claim_day')
    op.drop_table('kpi_case_day')
    op.drop_table('kpi_claim_day')
    op.drop_table('kpi_money_day')
