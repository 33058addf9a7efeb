"""the vector queue's outbox position keeps the PostgreSQL snapshot it read at

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    # Empty on the existing row: its next read goes by the horizon alone, as before, and
    # records the snapshot it read at (portal.outbox.Position.seen).
    with op.batch_alter_table('lead_vector_feed') as batch_op:
        batch_op.add_column(sa.Column('seen', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('lead_vector_feed') as batch_op:
        batch_op.drop_column('seen')
