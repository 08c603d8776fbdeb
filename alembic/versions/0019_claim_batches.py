"""claim batches: the 837P files of a send, kept as one zip, sent once

- claim_batch: one batch of claims (one 837P file per payer, zipped as written), its status
  ready -> sent, who sent it and how (marked by the biller, or written to the outbox folder).
- claim_batch_claim: the claims of each batch (a corrected claim goes out in a later batch too).

Database rules (the services are the first line): a batch's files never change and a sent
batch is never changed again; no batch or batch membership is deleted or edited.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db  # noqa: F401  (UTCDateTime columns)

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEPT = "OLD.zip_data {ne} NEW.zip_data OR OLD.zip_sha256 {ne} NEW.zip_sha256 OR OLD.status = 'sent'"

_SQLITE_RULES = [
    f"""CREATE TRIGGER claim_batch_kept BEFORE UPDATE ON claim_batch WHEN {_KEPT.format(ne="IS NOT")}
    BEGIN SELECT RAISE(ABORT, 'claim_batch_kept'); END""",
    """CREATE TRIGGER claim_batch_no_delete BEFORE DELETE ON claim_batch
    BEGIN SELECT RAISE(ABORT, 'claim_batch_kept'); END""",
    """CREATE TRIGGER claim_batch_claim_no_update BEFORE UPDATE ON claim_batch_claim
    BEGIN SELECT RAISE(ABORT, 'claim_batch_kept'); END""",
    """CREATE TRIGGER claim_batch_claim_no_delete BEFORE DELETE ON claim_batch_claim
    BEGIN SELECT RAISE(ABORT, 'claim_batch_kept'); END""",
]
_SQLITE_TRIGGERS = ["claim_batch_kept", "claim_batch_no_delete", "claim_batch_claim_no_update", "claim_batch_claim_no_delete"]

_PG_RULES = [
    f"""CREATE TRIGGER claim_batch_kept BEFORE UPDATE ON claim_batch FOR EACH ROW
    WHEN ({_KEPT.format(ne="IS DISTINCT FROM")}) EXECUTE FUNCTION clinic_forbid('claim_batch_kept')""",
    """CREATE TRIGGER claim_batch_no_delete BEFORE DELETE ON claim_batch FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('claim_batch_kept')""",
    """CREATE TRIGGER claim_batch_claim_append_only BEFORE UPDATE OR DELETE ON claim_batch_claim FOR EACH ROW
    EXECUTE FUNCTION clinic_forbid('claim_batch_kept')""",
]


def upgrade() -> None:
    op.create_table(
        "claim_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("payer_names", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("file_names", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("zip_data", sa.LargeBinary(), nullable=False),
        sa.Column("zip_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.Integer(), nullable=True),
        sa.Column("sent_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_how", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.CheckConstraint("status IN ('ready', 'sent')", name="ck_claim_batch_status"),
        sa.CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="ck_claim_batch_sent_at"),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["sent_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_claim_batch_created_at"), "claim_batch", ["created_at"], unique=False)
    op.create_table(
        "claim_batch_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["claim_batch.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "claim_id", name="uq_claim_batch_claim"),
    )
    op.create_index(op.f("ix_claim_batch_claim_batch_id"), "claim_batch_claim", ["batch_id"], unique=False)
    op.create_index(op.f("ix_claim_batch_claim_claim_id"), "claim_batch_claim", ["claim_id"], unique=False)
    for statement in _SQLITE_RULES if op.get_bind().dialect.name == "sqlite" else _PG_RULES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index(op.f("ix_claim_batch_claim_claim_id"), table_name="claim_batch_claim")
    op.drop_index(op.f("ix_claim_batch_claim_batch_id"), table_name="claim_batch_claim")
    op.drop_table("claim_batch_claim")
    op.drop_index(op.f("ix_claim_batch_created_at"), table_name="claim_batch")
    op.drop_table("claim_batch")
