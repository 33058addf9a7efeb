"""lead analyses: each record's analysed terms and concept strengths, with the fingerprint
of the text and the recipe they came from, shared by every process (issue 10, item 5)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 12:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    # No foreign keys, as for lead_vectors: a record may be deleted before the worker that
    # claims it removes its analysis. Empty at first: the first worker pass queues every
    # candidate without an analysis of the current recipe.
    op.create_table(
        'lead_analyses',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.BigInteger(), nullable=False),
        sa.Column('recipe', sa.String(length=100), nullable=False),
        sa.Column('terms', sa.Text(), nullable=False),
        sa.Column('concepts', sa.LargeBinary(), nullable=False),
        sa.Column('computed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'record_id', name=op.f('pk_lead_analyses')),
    )


def downgrade():
    op.drop_table('lead_analyses')
