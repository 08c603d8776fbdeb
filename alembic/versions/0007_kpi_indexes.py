"""Indexes the range KPIs read by: payments and adjustments by date, billed charges by date
of service, open AR at a date, claim answers by time, a patient's visits by time (new patients).

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 00:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ledger_kind_created', 'ledger_entry', ['kind', 'created_at'], unique=False)
    op.create_index('ix_ledger_kind_service_date', 'ledger_entry', ['kind', 'service_date'], unique=False)
    op.create_index('ix_ledger_created_amount', 'ledger_entry', ['created_at', 'amount_cents'], unique=False)
    op.create_index('ix_claim_event_status_at', 'claim_event', ['to_status', 'at'], unique=False)
    op.create_index('ix_appointment_patient_start', 'appointment', ['patient_id', 'starts_at', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_appointment_patient_start', table_name='appointment')
    op.drop_index('ix_claim_event_status_at', table_name='claim_event')
    op.drop_index('ix_ledger_created_amount', table_name='ledger_entry')
    op.drop_index('ix_ledger_kind_service_date', table_name='ledger_entry')
    op.drop_index('ix_ledger_kind_created', table_name='ledger_entry')
