"""replies past the last step, one-off sends tracked, Graph ids and header fallback, thread subject

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('direct_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mailbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('sent_message_id', sa.String(length=255), nullable=True),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('provider_thread_id', sa.String(length=255), nullable=True),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('sent_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_direct_messages_candidate_id_candidates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_direct_messages_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], name=op.f('fk_direct_messages_sender_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_messages')),
    sa.UniqueConstraint('message_id', name=op.f('uq_direct_messages_message_id'))
    )
    with op.batch_alter_table('direct_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_direct_messages_mailbox_id'), ['mailbox_id', 'to_address'], unique=False)

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread_subject', sa.String(length=998), nullable=True))

    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direct_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_inbound_events_direct_message_id_direct_messages'), 'direct_messages', ['direct_message_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers_refused', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_message_id', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbound_messages_sent_message_id'), ['sent_message_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_messages_sent_message_id'))
        batch_op.drop_column('sent_message_id')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('headers_refused')

    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inbound_events_direct_message_id_direct_messages'), type_='foreignkey')
        batch_op.drop_column('direct_message_id')

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_column('thread_subject')

    with op.batch_alter_table('direct_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_direct_messages_mailbox_id'))

    op.drop_table('direct_messages')
