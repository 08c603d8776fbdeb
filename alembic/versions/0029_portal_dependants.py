"""portal_dependant: a portal account's access to a dependant's records (services/portal/dependants)

- portal_dependant: account -> dependant patient, the relationship (the guarantor relationships
  less 'self'), who granted it and when, who revoked it and when.

Database rules (the service is the first line): the relationship from the list; revoked_at and
revoked_by_user_id together; one live (unrevoked) link per account and patient.

Revision ID: 0031
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_app.db

revision: str = "0031"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_dependant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=10), nullable=False),
        sa.Column("granted_by_user_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", clinic_app.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", clinic_app.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("relationship IN ('parent', 'spouse', 'guardian', 'other')",
                           name="ck_portal_dependant_relationship"),
        sa.CheckConstraint("(revoked_at IS NULL) = (revoked_by_user_id IS NULL)", name="ck_portal_dependant_revoked"),
        sa.ForeignKeyConstraint(["account_id"], ["patient_account.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["granted_by_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["revoked_by_user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_dependant_account_id", "portal_dependant", ["account_id"])
    op.create_index("ix_portal_dependant_patient_id", "portal_dependant", ["patient_id"])
    op.create_index("uq_portal_dependant_live", "portal_dependant", ["account_id", "patient_id"], unique=True,
                    sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_portal_dependant_live", table_name="portal_dependant")
    op.drop_index("ix_portal_dependant_patient_id", table_name="portal_dependant")
    op.drop_index("ix_portal_dependant_account_id", table_name="portal_dependant")
    op.drop_table("portal_dependant")
