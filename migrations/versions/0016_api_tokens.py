"""members' personal API tokens, stored hashed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 04:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
