"""tasks: the staff's task inbox (services/tasks)

- task: one to-do about a patient for a role's queue and/or a person, made by a rule (its
  ``key`` names the rule and the subject) or by hand; open -> snoozed -> done.

Database rules (the services are the first line): ``open_key`` is unique, so one rule never
has two open tasks for one subject; a done task has its closing time and no open key; a
snoozed task has its date; every task has a queue or a person.

Revision ID: 0022
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("open_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("queue_role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'snoozed', 'done')", name="ck_task_status"),
        sa.CheckConstraint("(status = 'done') = (closed_at IS NOT NULL)", name="ck_task_closed"),
        sa.CheckConstraint("status <> 'snoozed' OR snoozed_until IS NOT NULL", name="ck_task_snoozed"),
        sa.CheckConstraint("status <> 'done' OR open_key IS NULL", name="ck_task_done_key"),
        sa.CheckConstraint("queue_role IS NOT NULL OR assignee_user_id IS NOT NULL", name="ck_task_owner"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointment.id"]),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["care_case.id"]),
        sa.ForeignKeyConstraint(["assignee_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["closed_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index("ix_task_patient_id", "task", ["patient_id"])
    op.create_index("ix_task_status_due", "task", ["status", "due_on"])
    op.create_index("ix_task_assignee_status", "task", ["assignee_user_id", "status"])
    op.create_index("ix_task_queue_status", "task", ["queue_role", "status"])
    op.create_index("ix_task_subject", "task", ["subject"])
    op.create_index("ix_task_key", "task", ["key"])


def downgrade() -> None:
    op.drop_index("ix_task_key", table_name="task")
    op.drop_index("ix_task_subject", table_name="task")
    op.drop_index("ix_task_queue_status", table_name="task")
    op.drop_index("ix_task_assignee_status", table_name="task")
    op.drop_index("ix_task_status_due", table_name="task")
    op.drop_index("ix_task_patient_id", table_name="task")
    op.drop_table("task")
