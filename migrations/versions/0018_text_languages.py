"""the language each need is written in (issue 14)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    # Filled by the needs services on every create, edit and import. Rows that exist
    # before this revision stay NULL ("not known yet") until `portal needs
    # detect-languages` runs: a migration does not load the detector's model.
    with op.batch_alter_table('needs') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.create_index('ix_needs_language', ['language'], unique=False)


def downgrade():
    with op.batch_alter_table('needs') as batch_op:
        batch_op.drop_index('ix_needs_language')
        batch_op.drop_column('language')
