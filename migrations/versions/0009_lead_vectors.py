"""lead vectors: each changed record's piece vectors, shared by every process

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # No foreign key: a row of a deleted record is harmless (its fingerprint is never
    # asked for again) and rows are written by workers racing with deletes.
    op.create_table(
        'lead_vectors',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.BigInteger(), nullable=False),
        sa.Column('recipe', sa.String(length=100), nullable=False),
        sa.Column('vectors', sa.LargeBinary(), nullable=False),
        sa.Column('computed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'record_id', name=op.f('pk_lead_vectors')),
    )


def downgrade():
    op.drop_table('lead_vectors')
