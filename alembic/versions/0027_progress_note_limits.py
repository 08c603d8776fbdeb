"""progress_note_limit: a payer's own progress-note numbers (services/tasks)

- progress_note_limit: per payer, a progress note is due after ``visits`` visits or ``days``
  days since the evaluation or last progress note, whichever first; a payer without a row
  keeps the clinic's 10 visits / 30 days.

Database rules (the service is the first line): one row per payer; visits 1-60, days 1-365.

Revision ID: 0027
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_app.db

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "progress_note_limit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", clinic_app.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("visits BETWEEN 1 AND 60", name="ck_progress_limit_visits"),
        sa.CheckConstraint("days BETWEEN 1 AND 365", name="ck_progress_limit_days"),
        sa.ForeignKeyConstraint(["payer_id"], ["payer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payer_id"),
    )


def downgrade() -> None:
    op.drop_table("progress_note_limit")
