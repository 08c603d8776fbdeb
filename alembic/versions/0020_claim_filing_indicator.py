"""complete claims: each payer's claim filing indicator (the 837P's SBR09) and the subscriber's
administrative sex (the subscriber's DMG03 when the patient is not the subscriber)

- payer.claim_filing_indicator: X12 element 1032 (MB Medicare Part B, MC Medicaid, BL Blue
  Cross, CI commercial, ...). Payers already there get CI, which every claim carried until now.
- coverage.subscriber_sex: female, male, other or unknown (as patient.sex); rows already there
  are unknown, which the 837P sends as U, as before.

Columns are added in place (no batch copy on SQLite): a rebuild would drop the triggers on
coverage and payer from earlier revisions.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payer", sa.Column("claim_filing_indicator", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False,
                                     server_default="CI"))
    op.add_column("coverage", sa.Column("subscriber_sex", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False,
                                        server_default="unknown"))


def downgrade() -> None:
    op.drop_column("coverage", "subscriber_sex")
    op.drop_column("payer", "claim_filing_indicator")
