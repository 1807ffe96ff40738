"""send engine: mailbox gates, attempts, thread state, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:38:16.501820
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_notifications_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_delivered_at'), ['delivered_at', 'id'], unique=False)

    op.create_table('mailbox_send_counts',
    sa.Column('mailbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', bot.models.UTCDateTime(), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_mailbox_send_counts_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', 'hour', name=op.f('pk_mailbox_send_counts'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('thread_references', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_sent_at', bot.models.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_enrollments_open', ['campaign_id', 'ended_at'], unique=False)

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', bot.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', bot.models.UTCDateTime(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_outbound_messages_mailbox_id'))
        batch_op.create_index('ix_outbound_messages_mailbox_queue', ['mailbox_id', 'status', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_mailbox_queue')
        batch_op.create_index(batch_op.f('ix_outbound_messages_mailbox_id'), ['mailbox_id', 'status'], unique=False)
        batch_op.drop_column('attempted_at')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('not_before')

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index('ix_enrollments_open')
        batch_op.drop_column('last_sent_at')
        batch_op.drop_column('thread_references')
        batch_op.drop_column('status_reason')

    op.drop_table('mailbox_send_counts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_delivered_at'))

    op.drop_table('notifications')
