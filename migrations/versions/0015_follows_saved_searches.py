"""followed needs and saved searches with their alerts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 04:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
