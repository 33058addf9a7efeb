"""notice documents, numbered amendments and vendors' questions with the buyer's public answers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 04:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # The questions deadline sits beside the closing date; NULL: questions until it.
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('questions_close_on', sa.Date(), nullable=True))

    # A removed document keeps its row (the amendment that removed it names it); the
    # storage name is random and unique, the only link to the bytes on disk.
    op.create_table(
        'notice_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('storage_name', sa.String(length=64), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('removed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('pdf', 'docx', 'xlsx', 'png', 'jpeg')", name=op.f('ck_notice_documents_kind')
        ),
        sa.CheckConstraint('size >= 0', name=op.f('ck_notice_documents_size')),
        sa.ForeignKeyConstraint(
            ['need_id'], ['needs.id'],
            name=op.f('fk_notice_documents_need_id_needs'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['uploaded_by_id'], ['users.id'],
            name=op.f('fk_notice_documents_uploaded_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_documents')),
        sa.UniqueConstraint('storage_name', name=op.f('uq_notice_documents_storage_name')),
    )
    with op.batch_alter_table('notice_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_documents_need_id'), ['need_id'], unique=False)

    # Numbered per need: the unique pair is what makes two amendments at once two numbers
    # (the writer locks the need first) rather than one number twice.
    op.create_table(
        'notice_amendments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('number >= 1', name=op.f('ck_notice_amendments_number')),
        sa.ForeignKeyConstraint(
            ['need_id'], ['needs.id'],
            name=op.f('fk_notice_amendments_need_id_needs'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['users.id'],
            name=op.f('fk_notice_amendments_created_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_amendments')),
        sa.UniqueConstraint('need_id', 'number', name='uq_notice_amendments_need_number'),
    )

    # The asking organization is kept (its members see their own questions) but never
    # shown to anyone else; an answer is public once answered_at is set.
    op.create_table(
        'notice_questions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('need_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('asked_by_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('asked_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_by_id', sa.Integer(), nullable=True),
        sa.Column('answered_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['need_id'], ['needs.id'],
            name=op.f('fk_notice_questions_need_id_needs'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'],
            name=op.f('fk_notice_questions_organization_id_organizations'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['asked_by_id'], ['users.id'],
            name=op.f('fk_notice_questions_asked_by_id_users'), ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['answered_by_id'], ['users.id'],
            name=op.f('fk_notice_questions_answered_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_questions')),
    )
    with op.batch_alter_table('notice_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_questions_need_id'), ['need_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_notice_questions_organization_id'), ['organization_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('notice_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_questions_organization_id'))
        batch_op.drop_index(batch_op.f('ix_notice_questions_need_id'))
    op.drop_table('notice_questions')
    op.drop_table('notice_amendments')
    with op.batch_alter_table('notice_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_documents_need_id'))
    op.drop_table('notice_documents')
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_column('questions_close_on')
