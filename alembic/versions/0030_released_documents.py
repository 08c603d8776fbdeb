"""released_document, and the day-of reminder with its check-in link (services/portal)

- released_document: a document a clinician shares with the patient in the portal (the visit
  summary of a signed note), one row per note and kind; withdrawn_at when sharing stopped.
- reminder.kind: "ahead" (the lead time before, every row so far) or "day_of"; the send-once
  key becomes (appointment, channel, kind).
- online_booking.online_checkin (None: follows ``enabled``) and day_of_reminder_hours (None:
  no day-of reminder; 1-12 hours before, on the visit's day).

SQLite copies reminder and online_booking to change their keys and checks (neither has triggers).

Revision ID: 0030
Revises: 0031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_app.db

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The unnamed (appointment_id, channel) key of 0006, named so that a batch copy can drop it;
# PostgreSQL named it itself.
_OLD_KEY = {"sqlite": "uq_reminder_appointment_id", "postgresql": "reminder_appointment_id_channel_key"}
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "released_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("released_by_user_id", sa.Integer(), nullable=False),
        sa.Column("released_at", clinic_app.db.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", clinic_app.db.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('visit_summary')", name="ck_released_document_kind"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.ForeignKeyConstraint(["released_by_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["withdrawn_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("note_id", "kind", name="uq_released_document_note_kind"),
    )
    op.create_index("ix_released_document_patient_id", "released_document", ["patient_id"])
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("reminder", naming_convention=_CONVENTION) as batch:
        batch.add_column(sa.Column("kind", sa.String(length=8), server_default="ahead", nullable=False))
        batch.drop_constraint(_OLD_KEY.get(dialect, _OLD_KEY["postgresql"]), type_="unique")
        batch.create_unique_constraint("uq_reminder_visit_channel_kind", ["appointment_id", "channel", "kind"])
        batch.create_check_constraint("ck_reminder_kind", "kind IN ('ahead', 'day_of')")
    with op.batch_alter_table("online_booking") as batch:
        batch.add_column(sa.Column("online_checkin", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("day_of_reminder_hours", sa.Integer(), nullable=True))
        batch.create_check_constraint("ck_online_booking_day_of_hours",
                                      "day_of_reminder_hours IS NULL OR day_of_reminder_hours BETWEEN 1 AND 12")


def downgrade() -> None:
    with op.batch_alter_table("online_booking") as batch:
        batch.drop_constraint("ck_online_booking_day_of_hours", type_="check")
        batch.drop_column("day_of_reminder_hours")
        batch.drop_column("online_checkin")
    op.execute("DELETE FROM reminder_attempt WHERE reminder_id IN (SELECT id FROM reminder WHERE kind = 'day_of')")
    op.execute("DELETE FROM reminder WHERE kind = 'day_of'")
    with op.batch_alter_table("reminder") as batch:
        batch.drop_constraint("ck_reminder_kind", type_="check")
        batch.drop_constraint("uq_reminder_visit_channel_kind", type_="unique")
        batch.create_unique_constraint(_OLD_KEY.get(op.get_bind().dialect.name, _OLD_KEY["postgresql"]),
                                       ["appointment_id", "channel"])
        batch.drop_column("kind")
    op.drop_index("ix_released_document_patient_id", table_name="released_document")
    op.drop_table("released_document")
