"""lead vector work: the queue of records whose sentence vectors workers compute, and
how far it has read the index-event outbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # No foreign keys, as for lead_vectors: a queued record may be deleted before it is
    # claimed, and the claimer then removes its vectors.
    op.create_table(
        'lead_vector_work',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('enqueued_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'record_id', name=op.f('pk_lead_vector_work')),
    )
    # No row yet: the first worker pass reads the outbox from its start and enqueues every
    # candidate without vectors of the current recipe.
    op.create_table(
        'lead_vector_feed',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_event', sa.BigInteger(), nullable=False),
        sa.Column('horizon', sa.BigInteger(), nullable=False),
        sa.Column('recipe', sa.String(length=100), nullable=False),
        sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_vector_feed')),
    )
    with op.batch_alter_table('lead_vectors', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_lead_vectors_computed_at'), ['computed_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('lead_vectors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_vectors_computed_at'))
    op.drop_table('lead_vector_feed')
    op.drop_table('lead_vector_work')
