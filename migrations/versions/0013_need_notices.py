"""need notices: the notice type and the funding source and stage of a need

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 04:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # Existing needs become concepts without known funding, the exchange format's default.
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('notice', sa.String(length=16), server_default='concept', nullable=False)
        )
        batch_op.add_column(sa.Column('funding_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('funding_stage', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_needs_notice'), "notice IN ('concept', 'sources-sought', 'rfi', 'rfp')"
        )
        batch_op.create_check_constraint(
            op.f('ck_needs_funding_source'),
            "funding_source IS NULL OR funding_source IN ('own-budget', 'adb', 'world-bank', "
            "'aiib', 'ustda', 'jica', 'ppp', 'grant', 'other')",
        )
        batch_op.create_check_constraint(
            op.f('ck_needs_funding_stage'),
            "funding_stage IS NULL OR funding_stage IN ('idea', 'feasibility', 'funded', "
            "'procurement', 'awarded')",
        )
        batch_op.create_check_constraint(
            op.f('ck_needs_funding_complete'), "(funding_source IS NULL) = (funding_stage IS NULL)"
        )


def downgrade():
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_needs_funding_complete'), type_='check')
        batch_op.drop_constraint(op.f('ck_needs_funding_stage'), type_='check')
        batch_op.drop_constraint(op.f('ck_needs_funding_source'), type_='check')
        batch_op.drop_constraint(op.f('ck_needs_notice'), type_='check')
        batch_op.drop_column('funding_stage')
        batch_op.drop_column('funding_source')
        batch_op.drop_column('notice')
