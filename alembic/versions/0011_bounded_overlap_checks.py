"""SQLite's no-double-booking triggers stay fast at a million appointments.

The triggers of 0001 and 0004 look for an overlapping visit with ``starts_at < NEW.ends_at AND
ends_at > NEW.starts_at``; the index (provider_id, starts_at) then reads every earlier visit of
the provider (25,000 after three years at 1,000,000 appointments: 0.5-1 s per booking measured
with bench/generate.py's clinic, inside the write lock). A visit lasts at most a day (the
services allow 5-480 minutes; now a database rule too, checked on both databases), so an
overlapping visit starts at most a day before the new one: the triggers add that lower bound and
the index reads only the day before. PostgreSQL's exclusion constraints need no change.

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-02 00:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
# Follows 0007 (issue-7a's KPI indexes, merged into this branch); the integrator re-chains.
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status NOT IN ('no_show', 'cancelled')"
# (trigger name prefix, column, also when the column is set, message key)
_RULES = (
    ("appointment_provider_overlap", "provider_id", "", "provider_slot_taken"),
    ("appointment_room_overlap", "room_id", "NEW.room_id IS NOT NULL AND ", "room_slot_taken"),
    ("appointment_patient_overlap", "patient_id", "", "patient_slot_taken"),
)


def _overlap_triggers(bounded: bool) -> list[str]:
    # datetime(..., '-1 day') has no fraction of a second, so it sorts before any stored time
    # of that same second: the bound never drops a visit that could overlap.
    bound = " AND a.starts_at >= datetime(NEW.starts_at, '-1 day')" if bounded else ""
    statements = []
    for name, column, guard, key in _RULES:
        statements.append(
            f"""CREATE TRIGGER {name}_ins BEFORE INSERT ON appointment
            WHEN {guard}NEW.{_LIVE} AND EXISTS (SELECT 1 FROM appointment a WHERE a.{column} = NEW.{column}
              AND a.{_LIVE} AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at{bound})
            BEGIN SELECT RAISE(ABORT, '{key}'); END""")
        statements.append(
            f"""CREATE TRIGGER {name}_upd BEFORE UPDATE OF {column}, starts_at, ends_at, status ON appointment
            WHEN {guard}NEW.{_LIVE} AND EXISTS (SELECT 1 FROM appointment a WHERE a.id <> NEW.id
              AND a.{column} = NEW.{column} AND a.{_LIVE}
              AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at{bound})
            BEGIN SELECT RAISE(ABORT, '{key}'); END""")
    return statements


_WITHIN_DAY_SQLITE = [
    f"""CREATE TRIGGER appointment_within_day_{op_name} BEFORE {op_name.upper()} ON appointment
    WHEN julianday(NEW.ends_at) - julianday(NEW.starts_at) > 1
    BEGIN SELECT RAISE(ABORT, 'appointment_too_long'); END"""
    for op_name in ("insert", "update")
]


def _drop_overlap_triggers() -> None:
    for name, _, _, _ in _RULES:
        for suffix in ("ins", "upd"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE appointment ADD CONSTRAINT ck_appointment_too_long "
                   "CHECK (ends_at <= starts_at + interval '1 day')")
        return
    for statement in _WITHIN_DAY_SQLITE:
        op.execute(statement)
    _drop_overlap_triggers()
    for statement in _overlap_triggers(bounded=True):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE appointment DROP CONSTRAINT IF EXISTS ck_appointment_too_long")
        return
    _drop_overlap_triggers()
    for statement in _overlap_triggers(bounded=False):
        op.execute(statement)
    for op_name in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS appointment_within_day_{op_name}")
