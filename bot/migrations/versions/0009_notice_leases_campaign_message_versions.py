"""notice delivery leases, campaign message versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

Notices and channel alerts are claimed for delivery with a lease (claimed_by, lease_expires_at),
so Slack is called outside any write transaction; a campaign's message is redrawn only when its
message_version moved past the one last drawn.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('message_drawn_version', sa.Integer(), nullable=True))

    with op.batch_alter_table('channel_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', bot.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', bot.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('claimed_by')

    with op.batch_alter_table('channel_alerts', schema=None) as batch_op:
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('claimed_by')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('message_drawn_version')
        batch_op.drop_column('message_version')
