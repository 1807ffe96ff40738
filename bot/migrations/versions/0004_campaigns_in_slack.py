"""campaigns in Slack: status messages, archived sequences, candidate uploads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('candidate_uploads',
    sa.Column('id', _id, nullable=False),
    sa.Column('organisation_id', _id, nullable=False),
    sa.Column('user_id', _id, nullable=False),
    sa.Column('campaign_id', _id, nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', bot.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_candidate_uploads_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_candidate_uploads_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_candidate_uploads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate_uploads'))
    )
    op.create_index(op.f('ix_candidate_addresses_address'), 'candidate_addresses', ['address'], unique=False)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('status_ts', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('status_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('sequences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', bot.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sequences', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('status_hash')
        batch_op.drop_column('status_ts')
        batch_op.drop_column('status_channel')
    op.drop_index(op.f('ix_candidate_addresses_address'), table_name='candidate_addresses')
    op.drop_table('candidate_uploads')
