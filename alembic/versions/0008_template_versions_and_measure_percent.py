"""Admin-edited note templates kept as versions; notes pinned to the version they use;
clinic-defined measures may score as a percent of the highest possible; procedure
modifiers on notes and charges, and assistants (PTA/OTA) whose services carry CQ/CO.

Revision ID: 0011
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db  # noqa: F401  (UTCDateTime columns)

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A template version is never changed or deleted: notes written with it keep its fields.
_SQLITE_RULES = [
    f"""CREATE TRIGGER note_template_no_{op_name} BEFORE {op_name.upper()} ON note_template
    BEGIN SELECT RAISE(ABORT, 'note_template_final'); END"""
    for op_name in ("update", "delete")
]
_PG_RULES = [
    """CREATE TRIGGER note_template_final BEFORE UPDATE OR DELETE ON note_template FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('note_template_final')""",
]


def _scoring_check(values: str) -> None:
    # outcome_measure has no triggers, so SQLite's table rebuild loses nothing.
    with op.batch_alter_table("outcome_measure", recreate="always") as batch_op:
        batch_op.drop_constraint("ck_measure_scoring", type_="check")
        batch_op.create_check_constraint("ck_measure_scoring", f"scoring IN ({values})")


def upgrade() -> None:
    op.create_table(
        "note_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("discipline", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("visit_kinds", sa.Text(), nullable=False),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("section_labels", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_note_template_version"),
        sa.CheckConstraint("form IN ('SOAP', 'DAP')", name="ck_note_template_form"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version"),
    )
    op.create_index(op.f("ix_note_template_code"), "note_template", ["code"], unique=False)
    op.add_column("note_form", sa.Column("template_version", sa.Integer(), nullable=True))
    _scoring_check("'sum', 'mean', 'percent'")
    # Plain ADD COLUMNs: note_procedure and charge have triggers a SQLite table rebuild would drop.
    for table, column, length in (("note_procedure", "modifiers", 11), ("charge", "modifiers", 11),
                                  ("provider", "assistant_kind", 4)):
        op.add_column(table, sa.Column(column, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False,
                                       server_default=""))
    for statement in _SQLITE_RULES if op.get_bind().dialect.name == "sqlite" else _PG_RULES:
        op.execute(statement)


def downgrade() -> None:
    op.execute("UPDATE outcome_measure SET active = false, scoring = 'mean' WHERE scoring = 'percent'")
    _scoring_check("'sum', 'mean'")
    for table, column in (("note_form", "template_version"), ("note_procedure", "modifiers"), ("charge", "modifiers"),
                          ("provider", "assistant_kind")):
        if op.get_bind().dialect.name == "sqlite":
            # A batch drop would rebuild the table and lose its triggers; SQLite 3.35+ drops a column in place.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
    op.drop_index(op.f("ix_note_template_code"), table_name="note_template")
    op.drop_table("note_template")
