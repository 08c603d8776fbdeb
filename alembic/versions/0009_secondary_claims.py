"""secondary claims: a claim to the secondary payer names the primary claim it follows;
claim-level adjustments of an 835 are kept apart from line-level ones (837P 2320 CAS);
a claim remembers the 837P file (GS control number) that carried it, for 999 acknowledgements.

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-02 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: no table rebuild (adjustment has append-only triggers).
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite takes a REFERENCES clause in ADD COLUMN but Alembic would want a rebuild.
        op.execute('ALTER TABLE claim ADD COLUMN primary_claim_id INTEGER REFERENCES claim (id)')
    else:
        op.add_column('claim', sa.Column('primary_claim_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_claim_primary_claim_id', 'claim', 'claim', ['primary_claim_id'], ['id'])
    # At most one secondary claim follows a primary claim.
    op.create_index('ix_claim_primary_claim_id', 'claim', ['primary_claim_id'], unique=True)
    op.add_column('adjustment', sa.Column('claim_level', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('claim', sa.Column('batch_control', sa.String(length=9), nullable=False, server_default=''))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+): a batch rebuild would lose adjustment's triggers.
    op.execute('ALTER TABLE adjustment DROP COLUMN claim_level')
    op.drop_index('ix_claim_primary_claim_id', table_name='claim')
    with op.batch_alter_table('claim') as batch_op:
        batch_op.drop_column('batch_control')
        batch_op.drop_column('primary_claim_id')
