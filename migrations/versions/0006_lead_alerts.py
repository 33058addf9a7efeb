"""lead alerts: when each immediate-mode member was last alerted, and where the alerts
last looked at the index events

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # One row, created by the first alert pass.
    op.create_table(
        'lead_alert_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('event_horizon', sa.BigInteger(), nullable=False),
        sa.Column('event_mark', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_alert_state')),
    )
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('last_lead_alert_at', portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('lead_alerts_version', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.drop_column('lead_alerts_version')
        batch_op.drop_column('last_lead_alert_at')
    op.drop_table('lead_alert_state')
