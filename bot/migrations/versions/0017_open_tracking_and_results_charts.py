"""open tracking and results charts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

- organisations.open_tracking: an admin allows campaigns to track opens (off by default).
- campaigns.track_opens: this campaign's emails carry the open-tracking image.
- email_opens: the time and IP of each fetch of that image, machine opens marked apart; deleted
  with their send, so with the campaign and the organisation.
- result_charts: the results chart uploaded for a campaign's message or a person's App Home, with
  the digest of the numbers it shows, so an unchanged chart is not uploaded again.
- an index on inbound_events.enrollment_id: the results read a campaign's answers by enrollment.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('result_charts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=32), nullable=False),
    sa.Column('uploaded_at', bot.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_result_charts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_result_charts_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_result_charts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_charts')),
    sa.UniqueConstraint('key', name=op.f('uq_result_charts_key'))
    )
    op.create_table('email_opens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outbound_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('opened_at', bot.models.base.UTCDateTime(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('machine', sa.Boolean(), nullable=False),
    sa.Column('machine_reason', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_email_opens_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbound_message_id'], ['outbound_messages.id'], name=op.f('fk_email_opens_outbound_message_id_outbound_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_opens'))
    )
    with op.batch_alter_table('email_opens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_opens_campaign_id'), ['campaign_id', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_opens_outbound_message_id'), ['outbound_message_id'], unique=False)

    op.create_index(op.f('ix_inbound_events_enrollment_id'), 'inbound_events', ['enrollment_id'], unique=False)
    # A plain ADD COLUMN: a batch would rebuild campaigns and lose its expression index (0013).
    op.add_column('campaigns', sa.Column('track_opens', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('organisations', sa.Column('open_tracking', sa.Boolean(), server_default=sa.false(),
                                             nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('open_tracking')

    # SQLite rebuilds campaigns to drop a column, and cannot carry 0013's index on lower(name) over.
    op.drop_index('uq_campaigns_owner_name', table_name='campaigns')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('track_opens')
    live = sa.text("archived_at IS NULL")
    op.create_index('uq_campaigns_owner_name', 'campaigns', ['owner_id', sa.text('lower(name)')], unique=True,
                    sqlite_where=live, postgresql_where=live)

    with op.batch_alter_table('email_opens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_opens_outbound_message_id'))
        batch_op.drop_index(batch_op.f('ix_email_opens_campaign_id'))

    op.drop_table('email_opens')
    op.drop_index(op.f('ix_inbound_events_enrollment_id'), table_name='inbound_events')
    op.drop_table('result_charts')
