"""self registration: patients register themselves in the portal (services/portal/registration.py)

- online_booking.self_registration: the location lets patients register at /portal/register
  (off unless an admin turns it on).
- portal_registration: a registration from /portal/register until the desk decides on it; the
  e-mail link's token is kept only as its SHA-256; patient_id is the record it was accepted onto
  (services/frontdesk/merge.py moves it on a merge).

Database rules (the service is the first line): the status is one of the five; an accepted
registration names its patient; a declined one has its reason.

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import AutoString as S

from alembic import op
from clinic_app.db import UTCDateTime

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("online_booking", sa.Column("self_registration", sa.Boolean(), nullable=False, server_default="0"))
    op.create_table(
        "portal_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", S(length=80), nullable=False),
        sa.Column("last_name", S(length=80), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", S(length=120), nullable=False),
        sa.Column("phone", S(length=32), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", S(length=255), nullable=False),
        sa.Column("token_hash", S(length=64), nullable=False),
        sa.Column("status", S(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decline_reason", S(length=300), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('unverified', 'verified', 'accepted', 'declined', 'replaced')",
                           name="ck_portal_registration_status"),
        sa.CheckConstraint("status <> 'accepted' OR patient_id IS NOT NULL", name="ck_portal_registration_patient"),
        sa.CheckConstraint("status <> 'declined' OR decline_reason <> ''", name="ck_portal_registration_reason"),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_portal_registration_email", "portal_registration", ["email"])
    op.create_index("ix_portal_registration_status", "portal_registration", ["status"])
    op.create_index("ix_portal_registration_patient_id", "portal_registration", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_registration_patient_id", table_name="portal_registration")
    op.drop_index("ix_portal_registration_status", table_name="portal_registration")
    op.drop_index("ix_portal_registration_email", table_name="portal_registration")
    op.drop_table("portal_registration")
    op.drop_column("online_booking", "self_registration")
