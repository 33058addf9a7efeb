"""lead dismissals: an organization's "not for us" on a lead, with a reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 03:00:23.535444

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'lead_dismissals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('vendor_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('not_relevant', 'not_our_market', 'too_small', 'already_in_contact')",
            name=op.f('ck_lead_dismissals_reason'),
        ),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'],
            name=op.f('fk_lead_dismissals_organization_id_organizations'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['need_id'], ['needs.id'],
            name=op.f('fk_lead_dismissals_need_id_needs'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['vendor_id'], ['organizations.id'],
            name=op.f('fk_lead_dismissals_vendor_id_organizations'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_lead_dismissals_user_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_dismissals')),
        # Also the index for "this organization's dismissals" (its leading column).
        sa.UniqueConstraint(
            'organization_id', 'need_id', 'vendor_id', name='uq_lead_dismissals_org_need_vendor'
        ),
    )
    with op.batch_alter_table('lead_dismissals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_dismissals_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_dismissals_vendor_id'), ['vendor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_dismissals_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('lead_dismissals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_dismissals_user_id'))
        batch_op.drop_index(batch_op.f('ix_lead_dismissals_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_lead_dismissals_need_id'))

    op.drop_table('lead_dismissals')
