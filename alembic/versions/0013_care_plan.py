"""Frequency and duration of care (the treatment plan), kept as a history of saves.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_app.db import UTCDateTime

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("visits_per_week", sa.Integer(), nullable=False),
        sa.Column("duration_weeks", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("visits_per_week BETWEEN 1 AND 7", name="ck_care_plan_frequency"),
        sa.CheckConstraint("duration_weeks BETWEEN 1 AND 52", name="ck_care_plan_duration"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["recorded_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_care_plan_patient_id", "care_plan", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_care_plan_patient_id", table_name="care_plan")
    op.drop_table("care_plan")
