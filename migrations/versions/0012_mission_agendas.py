"""mission agendas: a participant's private calendar token and what it was last mailed,
when a meeting last changed (the .ics SEQUENCE), what each side says came of a meeting,
and the day-before reminders already sent

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 00:25:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # The token is the whole secret of the subscription URL: unique, and NULL until the
    # participant asks for one (or after they revoke it). agenda_digest fingerprints the
    # published agenda last mailed, so "agenda changed" goes only to those it changed for.
    with op.batch_alter_table('mission_participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('agenda_digest', sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_mission_participants_calendar_token'), ['calendar_token'], unique=True
        )

    # NULL for meetings placed before this revision: their created_at stands in.
    with op.batch_alter_table('mission_meetings', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=True)
        )

    # Keyed by the request, not the meeting: a re-plan deletes and re-creates meetings,
    # and what was said about a meeting must outlive that. rated_by is the member whose
    # "cooperation possible" is their side's consent to an introduction.
    op.create_table(
        'mission_meeting_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('attendance', sa.String(length=8), nullable=False),
        sa.Column('rating', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('rated_by_id', sa.Integer(), nullable=True),
        sa.Column('introduction_id', sa.Integer(), nullable=True),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "attendance IN ('held', 'no-show')",
            name=op.f('ck_mission_meeting_outcomes_attendance'),
        ),
        sa.CheckConstraint(
            "rating IN ('not-held', 'no-interest', 'interesting', 'cooperation')",
            name=op.f('ck_mission_meeting_outcomes_rating'),
        ),
        sa.ForeignKeyConstraint(
            ['request_id'], ['mission_meeting_requests.id'],
            name=op.f('fk_mission_meeting_outcomes_request_id_mission_meeting_requests'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['participant_id'], ['mission_participants.id'],
            name=op.f('fk_mission_meeting_outcomes_participant_id_mission_participants'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['rated_by_id'], ['users.id'],
            name=op.f('fk_mission_meeting_outcomes_rated_by_id_users'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['introduction_id'], ['introductions.id'],
            name=op.f('fk_mission_meeting_outcomes_introduction_id_introductions'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_meeting_outcomes')),
        sa.UniqueConstraint(
            'request_id', 'participant_id', name='uq_mission_meeting_outcomes_once'
        ),
    )
    with op.batch_alter_table('mission_meeting_outcomes', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_mission_meeting_outcomes_participant_id'), ['participant_id'],
            unique=False,
        )

    # One row per participant and local day reminded: the primary key is what makes the
    # worker's reminder idempotent, even with two workers racing.
    op.create_table(
        'mission_agenda_reminders',
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('sent_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['participant_id'], ['mission_participants.id'],
            name=op.f('fk_mission_agenda_reminders_participant_id_mission_participants'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint(
            'participant_id', 'day', name=op.f('pk_mission_agenda_reminders')
        ),
    )


def downgrade():
    op.drop_table('mission_agenda_reminders')
    with op.batch_alter_table('mission_meeting_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mission_meeting_outcomes_participant_id'))
    op.drop_table('mission_meeting_outcomes')
    with op.batch_alter_table('mission_meetings', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
    with op.batch_alter_table('mission_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mission_participants_calendar_token'))
        batch_op.drop_column('agenda_digest')
        batch_op.drop_column('calendar_token')
