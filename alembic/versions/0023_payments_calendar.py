"""patient portal: online payments, calendar invitations, clinicians' iCal feeds

- online_payment: a payment a patient starts online through a gateway (the local one or
  Stripe); the gateway's payment id and the checkout's idempotency key are unique (a double
  click or a retried webhook finds the same row), the amount is more than 0, and a payment is
  posted to the ledger at most once (ledger_entry_id unique, set exactly when it succeeded).
- calendar_invite: per appointment, the SEQUENCE of its .ics invitation and a fingerprint of
  what the invitation last said.
- ical_feed: per provider, the SHA-256 of the private feed's secret (empty: turned off).

Revision ID: 0024
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clinic_app.db  # noqa: F401  (UTCDateTime columns)

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "online_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("gateway", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("gateway_payment_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("prepayment", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("decline_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=True),
        sa.Column("receipt_sent_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", clinic_app.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name="ck_online_payment_amount"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'declined')", name="ck_online_payment_status"),
        sa.CheckConstraint("(status = 'succeeded') = (ledger_entry_id IS NOT NULL)", name="ck_online_payment_posted"),
        sa.ForeignKeyConstraint(["ledger_entry_id"], ["ledger_entry.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gateway_payment_id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("ledger_entry_id"),
    )
    op.create_index(op.f("ix_online_payment_patient_id"), "online_payment", ["patient_id"], unique=False)
    op.create_table(
        "calendar_invite",
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointment.id"]),
        sa.PrimaryKeyConstraint("appointment_id"),
    )
    op.create_table(
        "ical_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", clinic_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id"),
        sa.UniqueConstraint("secret_hash"),
    )


def downgrade() -> None:
    op.drop_table("ical_feed")
    op.drop_table("calendar_invite")
    op.drop_index(op.f("ix_online_payment_patient_id"), table_name="online_payment")
    op.drop_table("online_payment")
