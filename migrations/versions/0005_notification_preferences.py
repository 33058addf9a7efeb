"""notification preferences: immediate or digest mail, mutes, unsubscribe, digest log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 06:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('unsubscribed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_digest_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('digest_checked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode IN ('immediate', 'digest')", name=op.f('ck_notification_preferences_mode')
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_notification_preferences_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preferences')),
    )
    op.create_table(
        'notification_mutes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('sector', 'need')", name=op.f('ck_notification_mutes_kind')),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_notification_mutes_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_mutes')),
        # Also the index for "this member's mutes" (its leading column).
        sa.UniqueConstraint('user_id', 'kind', 'key', name='uq_notification_mutes_user_kind_key'),
    )
    op.create_table(
        'digest_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('item_key', sa.String(length=120), nullable=False),
        sa.Column('sent_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_digest_items_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_items')),
        sa.UniqueConstraint('user_id', 'item_key', name='uq_digest_items_user_item'),
    )
    # The List-Unsubscribe header of a message, kept with it until it is delivered.
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_unsubscribe', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_column('list_unsubscribe')
    op.drop_table('digest_items')
    op.drop_table('notification_mutes')
    op.drop_table('notification_preferences')
