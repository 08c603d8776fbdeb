"""the portal's My care and Profile: outcome measures at home, and contact changes the desk accepts

- home_measure: the measure asked (patient, code, who asked, when), and the patient's answer
  (item values and labels as JSON, the score, when); no note: the chart's trend shows it as
  reported by the patient. Answered and score come together (a check).
- profile_change: the contact details a patient asked to change in the portal (JSON of field
  -> new value), waiting until the desk accepts (the record changes, with field history) or
  declines it; a newer request replaces a waiting one.

Revision ID: 0029
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from clinic_app.db import UTCDateTime

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "home_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("measure_code", S(length=16), nullable=False),
        sa.Column("assigned_by_user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("item_values", sa.Text(), nullable=False),
        sa.Column("item_labels", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.CheckConstraint("(answered_at IS NULL) = (score IS NULL)", name="ck_home_measure_answer"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["assigned_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_home_measure_patient_id", "home_measure", ["patient_id"], unique=False)
    op.create_table(
        "profile_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("status", S(length=10), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", S(length=200), nullable=False),
        sa.CheckConstraint("status IN ('waiting', 'accepted', 'declined', 'replaced')", name="ck_profile_change_status"),
        sa.CheckConstraint("(status = 'waiting') = (decided_at IS NULL)", name="ck_profile_change_decided"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["patient_account.id"]),
        sa.ForeignKeyConstraint(["decided_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_profile_change_patient_id", "profile_change", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_profile_change_patient_id", table_name="profile_change")
    op.drop_table("profile_change")
    op.drop_index("ix_home_measure_patient_id", table_name="home_measure")
    op.drop_table("home_measure")
