"""hiring-manager delegation: when it ended, whether the manager hears of replies, lookup indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', bot.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('notify_grantor', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_delegations_grantor_id'), ['grantor_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_delegations_mailbox_id'), ['mailbox_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegations_mailbox_id'))
        batch_op.drop_index(batch_op.f('ix_delegations_grantor_id'))
        batch_op.drop_column('notify_grantor')
        batch_op.drop_column('ended_at')
