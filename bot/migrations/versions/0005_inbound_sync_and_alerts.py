"""replies and bounces: sync state per mailbox, channel alerts outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('channel_alerts',
    sa.Column('id', _id, nullable=False),
    sa.Column('organisation_id', _id, nullable=False),
    sa.Column('campaign_id', _id, nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_channel_alerts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_channel_alerts_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_alerts')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_channel_alerts_dedupe_key'))
    )
    op.create_index(op.f('ix_channel_alerts_delivered_at'), 'channel_alerts', ['delivered_at', 'channel_id'], unique=False)
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.alter_column('sync_cursor', existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=True)
        batch_op.add_column(sa.Column('last_synced_at', bot.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('sync_not_before', bot.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('sync_not_before')
        batch_op.drop_column('last_synced_at')
        batch_op.alter_column('sync_cursor', existing_type=sa.Text(), type_=sa.String(length=500), existing_nullable=True)
    op.drop_index(op.f('ix_channel_alerts_delivered_at'), table_name='channel_alerts')
    op.drop_table('channel_alerts')
