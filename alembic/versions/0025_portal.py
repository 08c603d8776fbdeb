"""the patient portal: patient accounts, their sessions, one-time links, online booking settings

- patient_account: a patient's own sign-in (e-mail, argon2 hash, lock-out), one per patient.
- portal_session: a signed-in patient's browser (the portal_session cookie; only the hash kept).
- portal_token: invitation and check-in links, hashed at rest, single use, with an expiry.
- online_booking: each location's online booking rules.
- appointment.booked_online: the patient booked it in the portal (the board's card says so);
  appointment.awaiting_approval: such a booking the desk has yet to approve (per location);
  added in place (no batch copy on SQLite, which would drop earlier triggers).

Revision ID: 0023
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from clinic_app.db import UTCDateTime

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "patient_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("email", S(length=120), nullable=False),
        sa.Column("password_hash", S(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_set_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "portal_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", S(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("password_stamp", S(length=16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["patient_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_portal_session_account_id", "portal_session", ["account_id"])
    op.create_table(
        "portal_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", S(length=64), nullable=False),
        sa.Column("kind", S(length=10), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('invite', 'checkin')", name="ck_portal_token_kind"),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointment.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_portal_token_patient_id", "portal_token", ["patient_id"])
    op.create_table(
        "online_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("type_ids", S(length=400), nullable=False),
        sa.Column("provider_ids", S(length=400), nullable=False),
        sa.Column("new_patients", sa.Boolean(), nullable=False),
        sa.Column("returning_patients", sa.Boolean(), nullable=False),
        sa.Column("min_notice_hours", sa.Integer(), nullable=False),
        sa.Column("days_ahead", sa.Integer(), nullable=False),
        sa.Column("max_upcoming", sa.Integer(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("cancel_window_hours", sa.Integer(), nullable=False),
        sa.CheckConstraint("min_notice_hours >= 0 AND days_ahead >= 1 AND max_upcoming >= 1 "
                           "AND cancel_window_hours >= 0", name="ck_online_booking_ranges"),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("location_id"),
    )
    op.add_column("appointment", sa.Column("booked_online", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("appointment", sa.Column("awaiting_approval", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("appointment", "awaiting_approval")
    op.drop_column("appointment", "booked_online")
    op.drop_table("online_booking")
    op.drop_index("ix_portal_token_patient_id", table_name="portal_token")
    op.drop_table("portal_token")
    op.drop_index("ix_portal_session_account_id", table_name="portal_session")
    op.drop_table("portal_session")
    op.drop_table("patient_account")
