"""intake before the first visit: forms (FHIR Questionnaires, versioned), answers
(QuestionnaireResponses), signed consents (PDF + SHA-256) and the patient's links

Database rules: a form version is never changed or deleted; completed answers are final; a
signed consent is never changed or deleted (a patient merge may move them, patient_id alone).

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from clinic_app.db import UTCDateTime

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Like every final row (alembic 0010), completed answers and signed consents may change only
# their patient_id, from a merged duplicate to its recorded survivor, with nothing else changed.
_MERGE_RECORDED = (
    "EXISTS (SELECT 1 FROM patient_merge m WHERE m.duplicate_patient_id = OLD.patient_id "
    "AND m.survivor_patient_id = NEW.patient_id)"
)


def _sqlite_rules() -> list[str]:
    bind = op.get_bind()

    def merge_move(table: str) -> str:
        columns = [row[1] for row in bind.exec_driver_sql(f"PRAGMA table_info({table})") if row[1] != "patient_id"]
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in columns)
        return f"NOT (NEW.patient_id IS NOT OLD.patient_id AND {_MERGE_RECORDED} AND {same})"

    return [
        *[
            f"""CREATE TRIGGER intake_form_no_{op_name} BEFORE {op_name.upper()} ON intake_form
            BEGIN SELECT RAISE(ABORT, 'intake_form_final'); END"""
            for op_name in ("update", "delete")
        ],
        f"""CREATE TRIGGER intake_response_completed_no_update BEFORE UPDATE ON intake_response
        WHEN OLD.status = 'completed' AND {merge_move("intake_response")}
        BEGIN SELECT RAISE(ABORT, 'intake_response_completed'); END""",
        """CREATE TRIGGER intake_response_completed_no_delete BEFORE DELETE ON intake_response
        WHEN OLD.status = 'completed' BEGIN SELECT RAISE(ABORT, 'intake_response_completed'); END""",
        f"""CREATE TRIGGER intake_consent_no_update BEFORE UPDATE ON intake_consent WHEN {merge_move("intake_consent")}
        BEGIN SELECT RAISE(ABORT, 'intake_consent_signed'); END""",
        """CREATE TRIGGER intake_consent_no_delete BEFORE DELETE ON intake_consent
        BEGIN SELECT RAISE(ABORT, 'intake_consent_signed'); END""",
    ]


_SQLITE_TRIGGERS = [f"{t}_no_{o}" for t in ("intake_form", "intake_response_completed", "intake_consent")
                    for o in ("update", "delete")]
_PG_RULES = [
    """CREATE TRIGGER intake_form_final BEFORE UPDATE OR DELETE ON intake_form FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('intake_form_final')""",
    # clinic_forbid_unless_merge (alembic 0010): refused, except a merge's move of patient_id alone.
    """CREATE TRIGGER intake_response_completed BEFORE UPDATE OR DELETE ON intake_response FOR EACH ROW
    WHEN (OLD.status = 'completed') EXECUTE FUNCTION clinic_forbid_unless_merge('intake_response_completed')""",
    """CREATE TRIGGER intake_consent_signed BEFORE UPDATE OR DELETE ON intake_consent FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid_unless_merge('intake_consent_signed')""",
]


def upgrade() -> None:
    op.create_table(
        "intake_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("visit_kinds", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("questionnaire", sa.Text(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_intake_form_version"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version"),
    )
    op.create_index("ix_intake_form_code", "intake_form", ["code"], unique=False)
    op.create_table(
        "intake_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("form_code", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('in-progress', 'completed')", name="ck_intake_response_status"),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointment.id"]),
        sa.ForeignKeyConstraint(["form_id"], ["intake_form.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appointment_id", "form_code"),
    )
    op.create_index("ix_intake_response_appointment_id", "intake_response", ["appointment_id"], unique=False)
    op.create_index("ix_intake_response_patient_id", "intake_response", ["patient_id"], unique=False)
    op.create_table(
        "intake_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("signature_png", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["response_id"], ["intake_response.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_id", "link_id"),
    )
    op.create_index("ix_intake_consent_patient_id", "intake_consent", ["patient_id"], unique=False)
    op.create_index("ix_intake_consent_response_id", "intake_consent", ["response_id"], unique=False)
    op.create_table(
        "intake_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointment.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_intake_link_appointment_id", "intake_link", ["appointment_id"], unique=False)
    for statement in _sqlite_rules() if op.get_bind().dialect.name == "sqlite" else _PG_RULES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table, name in (("intake_form", "intake_form_final"), ("intake_response", "intake_response_completed"),
                            ("intake_consent", "intake_consent_signed")):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.drop_index("ix_intake_link_appointment_id", table_name="intake_link")
    op.drop_table("intake_link")
    op.drop_index("ix_intake_consent_response_id", table_name="intake_consent")
    op.drop_index("ix_intake_consent_patient_id", table_name="intake_consent")
    op.drop_table("intake_consent")
    op.drop_index("ix_intake_response_patient_id", table_name="intake_response")
    op.drop_index("ix_intake_response_appointment_id", table_name="intake_response")
    op.drop_table("intake_response")
    op.drop_index("ix_intake_form_code", table_name="intake_form")
    op.drop_table("intake_form")
