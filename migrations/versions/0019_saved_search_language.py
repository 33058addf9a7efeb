"""saved searches can ask for needs written in one language (issue 14)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 09:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    # NULL is "any language", as every search saved before this revision meant.
    with op.batch_alter_table('saved_searches') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('saved_searches') as batch_op:
        batch_op.drop_column('language')
