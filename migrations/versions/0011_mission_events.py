"""mission events: trade-mission events, their participants, meeting requests and the
meetings the scheduler placed (a request meets once; a table holds one meeting per slot)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:41:40.788413

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Deleting an event or an organization deletes its participation, requests and
    # meetings: they mean nothing without it.
    op.create_table('mission_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=120), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('venue', sa.String(length=200), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('sessions', sa.JSON(), nullable=False),
    sa.Column('meeting_minutes', sa.Integer(), nullable=False),
    sa.Column('tables', sa.Integer(), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('registration_closes', sa.Date(), nullable=True),
    sa.Column('join_link_pattern', sa.String(length=500), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('meeting_minutes BETWEEN 10 AND 120', name=op.f('ck_mission_events_meeting_minutes')),
    sa.CheckConstraint('tables BETWEEN 0 AND 1000', name=op.f('ck_mission_events_tables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_events'))
    )
    with op.batch_alter_table('mission_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mission_events_ref'), ['ref'], unique=True)

    op.create_table('mission_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('attends', sa.JSON(), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('max_meetings', sa.Integer(), nullable=True),
    sa.Column('offers', sa.Text(), nullable=False),
    sa.Column('looks_for', sa.Text(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('registered_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('on-site', 'online')", name=op.f('ck_mission_participants_mode')),
    sa.CheckConstraint('max_meetings IS NULL OR max_meetings >= 1', name=op.f('ck_mission_participants_max_meetings')),
    sa.ForeignKeyConstraint(['event_id'], ['mission_events.id'], name=op.f('fk_mission_participants_event_id_mission_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_mission_participants_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_participants')),
    sa.UniqueConstraint('event_id', 'organization_id', name='uq_mission_participants_once')
    )
    with op.batch_alter_table('mission_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mission_participants_organization_id'), ['organization_id'], unique=False)

    op.create_table('mission_meeting_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('from_id', sa.Integer(), nullable=False),
    sa.Column('to_id', sa.Integer(), nullable=False),
    sa.Column('pair', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('must_meet', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decline_reason', sa.Text(), nullable=False),
    sa.Column('proposed_by_staff', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'declined', 'withdrawn', 'expired')", name=op.f('ck_mission_meeting_requests_status')),
    sa.CheckConstraint('from_id <> to_id', name=op.f('ck_mission_meeting_requests_two_participants')),
    sa.ForeignKeyConstraint(['event_id'], ['mission_events.id'], name=op.f('fk_mission_meeting_requests_event_id_mission_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_id'], ['mission_participants.id'], name=op.f('fk_mission_meeting_requests_from_id_mission_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_id'], ['mission_participants.id'], name=op.f('fk_mission_meeting_requests_to_id_mission_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_meeting_requests')),
    sa.UniqueConstraint('event_id', 'pair', name='uq_mission_meeting_requests_pair')
    )
    with op.batch_alter_table('mission_meeting_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mission_meeting_requests_from_id'), ['from_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mission_meeting_requests_to_id'), ['to_id'], unique=False)

    op.create_table('mission_meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('table_number', sa.Integer(), nullable=True),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(online AND table_number IS NULL) OR (NOT online AND table_number >= 1)', name=op.f('ck_mission_meetings_place')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_mission_meetings_times')),
    sa.ForeignKeyConstraint(['event_id'], ['mission_events.id'], name=op.f('fk_mission_meetings_event_id_mission_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['mission_meeting_requests.id'], name=op.f('fk_mission_meetings_request_id_mission_meeting_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_meetings')),
    sa.UniqueConstraint('event_id', 'starts_at', 'table_number', name='uq_mission_meetings_table'),
    sa.UniqueConstraint('request_id', name=op.f('uq_mission_meetings_request_id'))
    )
    with op.batch_alter_table('mission_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mission_meetings_event_id'), ['event_id'], unique=False)



def downgrade():
    with op.batch_alter_table('mission_meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mission_meetings_event_id'))

    op.drop_table('mission_meetings')
    with op.batch_alter_table('mission_meeting_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mission_meeting_requests_to_id'))
        batch_op.drop_index(batch_op.f('ix_mission_meeting_requests_from_id'))

    op.drop_table('mission_meeting_requests')
    with op.batch_alter_table('mission_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mission_participants_organization_id'))

    op.drop_table('mission_participants')
    with op.batch_alter_table('mission_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mission_events_ref'))

    op.drop_table('mission_events')
