"""accounts and audit chain: lock-out, forced password change, idle sessions, hashed audit rows

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23 13:33:35.097082
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD/DROP COLUMN (no batch copy on SQLite): a table copy would drop the
# audit log's append-only triggers from revision 0001.


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=""))
    op.add_column("audit_log", sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=""))
    op.add_column("user", sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("user", sa.Column("locked_until", clinic_app.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("user", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("user", sa.Column("password_changed_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("user_session", sa.Column("last_seen_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("user_session", "last_seen_at")
    for column in ("password_changed_at", "must_change_password", "locked_until", "failed_sign_ins"):
        op.drop_column("user", column)
    op.drop_column("audit_log", "row_hash")
    op.drop_column("audit_log", "prev_hash")
