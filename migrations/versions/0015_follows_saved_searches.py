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


def _user_fk(table):
    return sa.ForeignKeyConstraint(
        ['user_id'], ['users.id'], name=op.f(f'fk_{table}_user_id_users'), ondelete='CASCADE'
    )


def _need_fk(table):
    return sa.ForeignKeyConstraint(
        ['need_id'], ['needs.id'], name=op.f(f'fk_{table}_need_id_needs'), ondelete='CASCADE'
    )


def upgrade():
    op.create_table(
        'need_follows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        _user_fk('need_follows'),
        _need_fk('need_follows'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_need_follows')),
        sa.UniqueConstraint('user_id', 'need_id', name='uq_need_follows_user_need'),
    )
    op.create_index(op.f('ix_need_follows_need_id'), 'need_follows', ['need_id'])

    # The unique key per follower and need is what tells each amendment, answer and
    # deadline reminder once, even when two workers reach the same reminder together.
    op.create_table(
        'follow_updates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('delivery', sa.String(length=16), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('mailed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('amendment', 'answer', 'reminder')", name=op.f('ck_follow_updates_kind')
        ),
        sa.CheckConstraint(
            "delivery IN ('pending', 'mailed', 'held')", name=op.f('ck_follow_updates_delivery')
        ),
        _user_fk('follow_updates'),
        _need_fk('follow_updates'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_updates')),
        sa.UniqueConstraint(
            'user_id', 'need_id', 'key', name='uq_follow_updates_user_need_key'
        ),
    )
    op.create_index(op.f('ix_follow_updates_need_id'), 'follow_updates', ['need_id'])
    op.create_index(
        'ix_follow_updates_user_delivery', 'follow_updates', ['user_id', 'delivery']
    )

    op.create_table(
        'saved_searches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('words', sa.String(length=500), nullable=False),
        sa.Column('sector', sa.String(length=32), nullable=True),
        sa.Column('country', sa.String(length=2), nullable=True),
        sa.Column('notice', sa.String(length=16), nullable=True),
        sa.Column('funding_source', sa.String(length=16), nullable=True),
        sa.Column('funding_stage', sa.String(length=16), nullable=True),
        sa.Column('budget_min', sa.BigInteger(), nullable=True),
        sa.Column('budget_max', sa.BigInteger(), nullable=True),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('paused_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('matches_from', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "frequency IN ('immediate', 'weekly')", name=op.f('ck_saved_searches_frequency')
        ),
        sa.CheckConstraint(
            'budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max',
            name=op.f('ck_saved_searches_budget_range'),
        ),
        _user_fk('saved_searches'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_searches')),
        sa.UniqueConstraint('user_id', 'name', name='uq_saved_searches_user_name'),
    )

    # The sent log: a need is found once per saved search, whatever happens to it after.
    op.create_table(
        'saved_search_matches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('saved_search_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.Column('delivery', sa.String(length=16), nullable=False),
        sa.Column('found_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('mailed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "delivery IN ('pending', 'mailed', 'held')",
            name=op.f('ck_saved_search_matches_delivery'),
        ),
        sa.ForeignKeyConstraint(
            ['saved_search_id'], ['saved_searches.id'],
            name=op.f('fk_saved_search_matches_saved_search_id_saved_searches'),
            ondelete='CASCADE',
        ),
        _user_fk('saved_search_matches'),
        _need_fk('saved_search_matches'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_search_matches')),
        sa.UniqueConstraint(
            'saved_search_id', 'need_id', name='uq_saved_search_matches_search_need'
        ),
    )
    op.create_index(
        op.f('ix_saved_search_matches_need_id'), 'saved_search_matches', ['need_id']
    )
    op.create_index(
        'ix_saved_search_matches_user_delivery', 'saved_search_matches', ['user_id', 'delivery']
    )

    op.create_table(
        'need_publications',
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('public_since', portal.db.UTCDateTime(timezone=True), nullable=True),
        _need_fk('need_publications'),
        sa.PrimaryKeyConstraint('need_id', name=op.f('pk_need_publications')),
    )
    op.create_index(
        op.f('ix_need_publications_public_since'), 'need_publications', ['public_since']
    )
    # Needs already public are stamped with when they were posted, so that a saved search
    # made today does not take the whole backlog for new needs.
    op.execute(
        "INSERT INTO need_publications (need_id, public_since) "
        "SELECT needs.id, needs.created_at FROM needs "
        "JOIN organizations ON organizations.id = needs.buyer_id "
        "WHERE needs.status = 'open' AND organizations.status = 'verified'"
    )

    op.create_table(
        'follow_settings',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('calendar_token', sa.String(length=64), nullable=True),
        sa.Column('last_immediate_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('weekly_checked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        _user_fk('follow_settings'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_follow_settings')),
        sa.UniqueConstraint('calendar_token', name=op.f('uq_follow_settings_calendar_token')),
    )


def downgrade():
    op.drop_table('follow_settings')
    op.drop_index(op.f('ix_need_publications_public_since'), table_name='need_publications')
    op.drop_table('need_publications')
    op.drop_index('ix_saved_search_matches_user_delivery', table_name='saved_search_matches')
    op.drop_index(op.f('ix_saved_search_matches_need_id'), table_name='saved_search_matches')
    op.drop_table('saved_search_matches')
    op.drop_table('saved_searches')
    op.drop_index('ix_follow_updates_user_delivery', table_name='follow_updates')
    op.drop_index(op.f('ix_follow_updates_need_id'), table_name='follow_updates')
    op.drop_table('follow_updates')
    op.drop_index(op.f('ix_need_follows_need_id'), table_name='need_follows')
    op.drop_table('need_follows')
