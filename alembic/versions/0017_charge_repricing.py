"""charge_price: the history of each charge's price and the schedule that gave it; a charge of
an unbilled visit may be re-priced (issue 14: insurance recorded after the visit was signed)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-08 09:00:00

Charges stayed final from capture (0001). Now one update is allowed: a charge's
``unit_price_cents`` and ``amount_cents`` may change, nothing else in the row, while its
visit is ready to bill (not billed, on no claim line), to exactly the price of the
charge's latest ``charge_price`` row, which names the price it replaces (so the history
cannot be skipped), and with amount = unit price x units. Anything else is refused as
before ('charge_final'). ``charge_price`` itself is append-only.

SQLite compares every other column by name (listed from the table when this runs), as 0009
does; a later revision that adds a column to charge on SQLite must recreate this trigger.
PostgreSQL compares the row as JSON without the two price columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db

revision: str = '0021'
down_revision: str | Sequence[str] | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRICE = ("unit_price_cents", "amount_cents")
_UNBILLED = (
    "(SELECT status FROM appointment WHERE id = OLD.appointment_id) = 'ready_to_bill' "
    "AND NOT EXISTS (SELECT 1 FROM claim_line WHERE charge_id = OLD.id)"
)
_LATEST_PRICE = (
    "EXISTS (SELECT 1 FROM charge_price p WHERE p.id = (SELECT max(id) FROM charge_price WHERE charge_id = OLD.id) "
    "AND p.unit_price_cents = NEW.unit_price_cents AND p.amount_cents = NEW.amount_cents "
    "AND p.previous_unit_price_cents = OLD.unit_price_cents AND p.previous_amount_cents = OLD.amount_cents)"
)
_REPRICE_OK = f"NEW.amount_cents = NEW.unit_price_cents * NEW.units AND {_UNBILLED} AND {_LATEST_PRICE}"


def upgrade() -> None:
    op.create_table('charge_price',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('charge_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('coverage_id', sa.Integer(), nullable=True),
    sa.Column('unit_price_cents', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('previous_unit_price_cents', sa.Integer(), nullable=True),
    sa.Column('previous_amount_cents', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', clinic_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('unit_price_cents >= 0 AND amount_cents >= 0', name='ck_charge_price_amounts'),
    sa.ForeignKeyConstraint(['charge_id'], ['charge.id'], ),
    sa.ForeignKeyConstraint(['coverage_id'], ['coverage.id'], ),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_charge_price_charge_id'), 'charge_price', ['charge_id'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rules(repriceable=True)
    else:
        _pg_rules(repriceable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rules(repriceable=False)
    else:
        _pg_rules(repriceable=False)
    op.drop_index(op.f('ix_charge_price_charge_id'), table_name='charge_price')
    op.drop_table('charge_price')


def _sqlite_rules(*, repriceable: bool) -> None:
    op.execute("DROP TRIGGER IF EXISTS charge_no_update")
    for name in ("charge_price_no_update", "charge_price_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if not repriceable:
        op.execute("CREATE TRIGGER charge_no_update BEFORE UPDATE ON charge BEGIN SELECT RAISE(ABORT, 'charge_final'); END")
        return
    columns = [row[1] for row in op.get_bind().exec_driver_sql("PRAGMA table_info(charge)") if row[1] not in _PRICE]
    same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in columns)
    op.execute(
        f"CREATE TRIGGER charge_no_update BEFORE UPDATE ON charge WHEN NOT ({same} AND {_REPRICE_OK}) "
        "BEGIN SELECT RAISE(ABORT, 'charge_final'); END"
    )
    for name, event in (("charge_price_no_update", "UPDATE"), ("charge_price_no_delete", "DELETE")):
        op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON charge_price BEGIN SELECT RAISE(ABORT, 'charge_price_append_only'); END")


_PG_FUNCTION = f"""CREATE FUNCTION clinic_charge_reprice_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE'
         AND (to_jsonb(NEW) - ARRAY['unit_price_cents', 'amount_cents']) = (to_jsonb(OLD) - ARRAY['unit_price_cents', 'amount_cents'])
         AND {_REPRICE_OK} THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'charge_final' USING ERRCODE = 'restrict_violation';
    END $$"""


def _pg_rules(*, repriceable: bool) -> None:
    op.execute("DROP TRIGGER IF EXISTS charge_final ON charge")
    if not repriceable:
        op.execute("DROP TRIGGER IF EXISTS charge_price_append_only ON charge_price")
        op.execute("CREATE TRIGGER charge_final BEFORE UPDATE OR DELETE ON charge FOR EACH ROW EXECUTE FUNCTION clinic_forbid('charge_final')")
        op.execute("DROP FUNCTION IF EXISTS clinic_charge_reprice_only()")
        return
    op.execute(_PG_FUNCTION)
    op.execute("CREATE TRIGGER charge_final BEFORE UPDATE OR DELETE ON charge FOR EACH ROW EXECUTE FUNCTION clinic_charge_reprice_only()")
    op.execute(
        "CREATE TRIGGER charge_price_append_only BEFORE UPDATE OR DELETE ON charge_price FOR EACH ROW "
        "EXECUTE FUNCTION clinic_forbid('charge_price_append_only')"
    )
