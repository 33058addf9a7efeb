"""introductions: the brokered vendor-buyer workflow and its append-only audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 04:46:26.086290

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

STATES = (
    "'requested', 'under_review', 'approved', 'accepted', 'introduced', 'meeting_held', "
    "'proposal_submitted', 'won', 'lost', 'stalled', 'declined', 'withdrawn', 'expired'"
)


def upgrade():
    # No ON DELETE CASCADE towards organizations, needs or introductions: the pipeline and
    # its audit trail are kept forever.
    op.create_table(
        'introductions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('vendor_id', sa.Integer(), nullable=False),
        sa.Column('buyer_id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=24), nullable=False),
        sa.Column('requested_by_side', sa.String(length=8), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('vendor_consented_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('buyer_consented_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('approved_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('introduced_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('stalled_from', sa.String(length=24), nullable=True),
        sa.Column('state_changed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reminder_sent_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('vendor_outcome_asked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('buyer_outcome_asked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "requested_by_side IN ('vendor', 'buyer', 'staff')", name=op.f('ck_introductions_origin')
        ),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f('ck_introductions_state')),
        sa.CheckConstraint('vendor_id <> buyer_id', name=op.f('ck_introductions_two_organizations')),
        sa.ForeignKeyConstraint(
            ['vendor_id'], ['organizations.id'], name=op.f('fk_introductions_vendor_id_organizations')
        ),
        sa.ForeignKeyConstraint(
            ['buyer_id'], ['organizations.id'], name=op.f('fk_introductions_buyer_id_organizations')
        ),
        sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_introductions_need_id_needs')),
        sa.ForeignKeyConstraint(
            ['requested_by_id'], ['users.id'],
            name=op.f('fk_introductions_requested_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_introductions')),
    )
    with op.batch_alter_table('introductions', schema=None) as batch_op:
        # The pair index also serves "introductions of this vendor" (its leading column).
        batch_op.create_index('ix_introductions_pair', ['vendor_id', 'buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_introductions_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_introductions_need_id'), ['need_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_introductions_requested_by_id'), ['requested_by_id'], unique=False
        )
        # What the expiry and reminder pass scans: open states by age.
        batch_op.create_index(
            'ix_introductions_state_changed', ['state', 'state_changed_at'], unique=False
        )

    op.create_table(
        'introduction_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('introduction_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('from_state', sa.String(length=24), nullable=True),
        sa.Column('to_state', sa.String(length=24), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_role', sa.String(length=8), nullable=False),
        sa.Column('actor_name', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('private', sa.Boolean(), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "actor_role IN ('staff', 'vendor', 'buyer', 'system')",
            name=op.f('ck_introduction_events_actor_role'),
        ),
        sa.CheckConstraint(
            "kind IN ('transition', 'note', 'reminder', 'outcome_question')",
            name=op.f('ck_introduction_events_kind'),
        ),
        sa.ForeignKeyConstraint(
            ['introduction_id'], ['introductions.id'],
            name=op.f('fk_introduction_events_introduction_id_introductions'),
        ),
        sa.ForeignKeyConstraint(
            ['actor_id'], ['users.id'],
            name=op.f('fk_introduction_events_actor_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_introduction_events')),
    )
    with op.batch_alter_table('introduction_events', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_introduction_events_introduction_id'), ['introduction_id'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_introduction_events_actor_id'), ['actor_id'], unique=False)


def downgrade():
    with op.batch_alter_table('introduction_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_introduction_events_actor_id'))
        batch_op.drop_index(batch_op.f('ix_introduction_events_introduction_id'))
    op.drop_table('introduction_events')

    with op.batch_alter_table('introductions', schema=None) as batch_op:
        batch_op.drop_index('ix_introductions_state_changed')
        batch_op.drop_index(batch_op.f('ix_introductions_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_introductions_need_id'))
        batch_op.drop_index(batch_op.f('ix_introductions_buyer_id'))
        batch_op.drop_index('ix_introductions_pair')
    op.drop_table('introductions')
