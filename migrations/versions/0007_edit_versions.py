"""edit versions: a version, who saved last and when, on every row edited through a form

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# Organizations' profiles, their capabilities and contacts, and needs: a save made on a
# form opened before someone else's save is refused (portal/versioning.py).
TABLES = ('organizations', 'capabilities', 'contacts', 'needs')


def upgrade():
    for table in TABLES:
        # Plain ADD COLUMNs with constant defaults, so SQLite needs no table rebuild
        # (a rebuild drops the old table, which with foreign keys on would cascade to
        # every row that refers to it). Existing rows start at version 1, saved by no one.
        op.add_column(
            table, sa.Column('version', sa.Integer(), server_default='1', nullable=False)
        )
        op.add_column(
            table,
            sa.Column('edited_by', sa.String(length=200), server_default='', nullable=False),
        )
        op.add_column(
            table, sa.Column('edited_at', portal.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), again without a rebuild.
    for table in reversed(TABLES):
        op.drop_column(table, 'edited_at')
        op.drop_column(table, 'edited_by')
        op.drop_column(table, 'version')
