"""follow updates keep what happened as data, worded in each reader's language

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    # NULL on the rows written before: they have only their English summary, shown as it is.
    # Rows written after keep the summary too, so a downgrade loses no update's text.
    with op.batch_alter_table('follow_updates') as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('follow_updates') as batch_op:
        batch_op.drop_column('details')
