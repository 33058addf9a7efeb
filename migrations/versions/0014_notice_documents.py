"""notice documents, numbered amendments and vendors' questions with the buyer's public answers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 04:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
