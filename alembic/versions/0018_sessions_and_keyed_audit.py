"""sessions bound to the password they began with; the audit chain keyed from here on

- user_session.password_stamp: a fingerprint of the account's password hash when the session
  began (services/auth.password_stamp). A session whose account's password changed since is
  no longer valid. Sessions open at the upgrade are ended: their cookie was set by JavaScript
  (readable by any script on the page); the server now sets an HttpOnly one at sign-in.
- audit_log.keyed: rows written from now on link with an HMAC keyed by CLINIC_AUDIT_KEY
  (kept outside the database, services/platform/audit.py); the rows already there keep their plain
  SHA-256 links and are verified as such. They are not re-keyed: rewriting them would be the
  very edit the append-only rule forbids. The first keyed row links to the last plain row, so
  an edit of an old row that recomputes the plain chain still breaks the first keyed link,
  which only the key can recompute.

Revision ID: 0016
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD/DROP COLUMN (no batch copy on SQLite): a table copy would drop the audit log's
# append-only triggers from revision 0001.


def upgrade() -> None:
    op.add_column("user_session", sa.Column("password_stamp", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                            server_default=""))
    op.add_column("audit_log", sa.Column("keyed", sa.Boolean(), nullable=False, server_default="0"))
    op.execute(sa.text("UPDATE user_session SET ended_at = CURRENT_TIMESTAMP WHERE ended_at IS NULL"))


def downgrade() -> None:
    op.drop_column("audit_log", "keyed")
    op.drop_column("user_session", "password_stamp")
