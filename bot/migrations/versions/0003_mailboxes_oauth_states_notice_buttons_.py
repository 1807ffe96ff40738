"""mailboxes: oauth states, notice buttons and threads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_states',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.Enum('gmail', 'graph', 'smtp_imap', 'sandbox', name='provider', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enhanced', sa.Boolean(), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=True),
    sa.Column('flow', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('started_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('used_at', bot.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_oauth_states_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_states')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_oauth_states_state_hash'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('action_value', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('thread_of', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('ts', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('ts')
        batch_op.drop_column('channel')
        batch_op.drop_column('thread_of')
        batch_op.drop_column('action_value')
        batch_op.drop_column('action')

    op.drop_table('oauth_states')
