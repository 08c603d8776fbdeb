"""messages about a patient: staff threads and patient threads

- message_thread: a conversation about one patient; kind staff (between colleagues) or patient
  (the patient and the clinic: to the desk's queue or to one clinician).
- message_member: a colleague in a thread and how far they have read it (read receipts).
- message: one message, by a staff member or by the patient; the patient's read time.

Database rules (the services are the first line): a message is never edited or deleted (only
the time the patient read it is set, once); a thread is never deleted.

Revision ID: 0026
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db  # noqa: F401  (UTCDateTime columns)

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHANGED = ("OLD.thread_id {ne} NEW.thread_id OR OLD.author_user_id {ne} NEW.author_user_id OR OLD.by_patient {ne} "
            "NEW.by_patient OR OLD.body {ne} NEW.body OR OLD.sent_at {ne} NEW.sent_at OR OLD.patient_read_at IS NOT NULL")

_SQLITE_RULES = [
    f"""CREATE TRIGGER message_kept BEFORE UPDATE ON message WHEN {_CHANGED.format(ne="IS NOT")}
    BEGIN SELECT RAISE(ABORT, 'message_kept'); END""",
    """CREATE TRIGGER message_no_delete BEFORE DELETE ON message
    BEGIN SELECT RAISE(ABORT, 'message_kept'); END""",
    """CREATE TRIGGER message_thread_no_delete BEFORE DELETE ON message_thread
    BEGIN SELECT RAISE(ABORT, 'message_kept'); END""",
]
_SQLITE_TRIGGERS = ["message_kept", "message_no_delete", "message_thread_no_delete"]

_PG_RULES = [
    f"""CREATE TRIGGER message_kept BEFORE UPDATE ON message FOR EACH ROW
    WHEN ({_CHANGED.format(ne="IS DISTINCT FROM")}) EXECUTE FUNCTION clinic_forbid('message_kept')""",
    """CREATE TRIGGER message_no_delete BEFORE DELETE ON message FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('message_kept')""",
    """CREATE TRIGGER message_thread_no_delete BEFORE DELETE ON message_thread FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('message_kept')""",
]


def upgrade() -> None:
    op.create_table(
        "message_thread",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("to_queue", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.Integer(), nullable=True),
        sa.Column("started_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('staff', 'patient')", name="ck_message_thread_kind"),
        sa.CheckConstraint("kind = 'staff' OR to_queue IN ('desk', 'clinician')", name="ck_message_thread_queue"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"]),
        sa.ForeignKeyConstraint(["started_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_message_thread_patient_id"), "message_thread", ["patient_id"], unique=False)
    op.create_index(op.f("ix_message_thread_last_at"), "message_thread", ["last_at"], unique=False)
    op.create_table(
        "message_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_upto", sa.Integer(), nullable=False),
        sa.Column("read_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["thread_id"], ["message_thread.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "user_id", name="uq_message_member"),
    )
    op.create_index(op.f("ix_message_member_thread_id"), "message_member", ["thread_id"], unique=False)
    op.create_index(op.f("ix_message_member_user_id"), "message_member", ["user_id"], unique=False)
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("by_patient", sa.Boolean(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("sent_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("patient_read_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(author_user_id IS NULL) = by_patient", name="ck_message_author"),
        sa.CheckConstraint("length(body) > 0", name="ck_message_body"),
        sa.ForeignKeyConstraint(["author_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["thread_id"], ["message_thread.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_thread_id_id", "message", ["thread_id", "id"], unique=False)
    for statement in _SQLITE_RULES if op.get_bind().dialect.name == "sqlite" else _PG_RULES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_message_thread_id_id", table_name="message")
    op.drop_table("message")
    op.drop_index(op.f("ix_message_member_user_id"), table_name="message_member")
    op.drop_index(op.f("ix_message_member_thread_id"), table_name="message_member")
    op.drop_table("message_member")
    op.drop_index(op.f("ix_message_thread_last_at"), table_name="message_thread")
    op.drop_index(op.f("ix_message_thread_patient_id"), table_name="message_thread")
    op.drop_table("message_thread")
