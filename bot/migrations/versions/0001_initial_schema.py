"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 20:46:29.560204
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organisations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slack_team_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('permission_level', sa.Enum('basic', 'enhanced', name='permission_level', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('slack_team_id', name=op.f('uq_organisations_slack_team_id'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_audit_log_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_organisation_id'), ['organisation_id', 'created_at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slack_user_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('tz', sa.String(length=64), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_users_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('organisation_id', 'slack_user_id', name=op.f('uq_users_organisation_id_slack_user_id'))
    )
    op.create_table('candidates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_candidates_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_candidates_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidates'))
    )
    op.create_table('mailboxes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.Enum('gmail', 'graph', 'smtp_imap', 'sandbox', name='provider', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('status', sa.Enum('connected', 'needs_reconnect', 'disconnected', name='mailbox_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=True),
    sa.Column('permission_level', sa.Enum('basic', 'enhanced', name='permission_level', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('credentials', sa.LargeBinary(), nullable=True),
    sa.Column('sync_cursor', sa.String(length=500), nullable=True),
    sa.Column('daily_cap', sa.Integer(), nullable=False),
    sa.Column('min_spacing_seconds', sa.Integer(), nullable=False),
    sa.Column('max_in_flight', sa.Integer(), nullable=False),
    sa.Column('last_send_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('connected_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_mailboxes_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_mailboxes_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('address', name=op.f('uq_mailboxes_address'))
    )
    op.create_table('sequences',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_sequences_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_sequences_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequences'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sequence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mailbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'scheduled', 'active', 'paused', 'finished', name='campaign_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('pause_reason', sa.Enum('by_user', 'mailbox_disconnected', 'needs_reconnect', 'delegation_revoked', name='pause_reason', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('send_preference', sa.Enum('started', 'specific', 'best', name='send_preference', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('specific_time', sa.Time(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('send_days', sa.String(length=7), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('email_preference', sa.Enum('work', 'personal', 'other', name='address_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('strict_preference', sa.Boolean(), nullable=False),
    sa.Column('alert_channel_id', sa.String(length=32), nullable=True),
    sa.Column('same_thread', sa.Boolean(), nullable=False),
    sa.Column('started_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('paused_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_campaigns_mailbox_id_mailboxes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_campaigns_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_campaigns_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], name=op.f('fk_campaigns_sequence_id_sequences'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_table('candidate_addresses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('kind', sa.Enum('work', 'personal', 'other', name='address_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('use_first', sa.Boolean(), nullable=False),
    sa.Column('added_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_candidate_addresses_added_by_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_candidate_addresses_candidate_id_candidates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate_addresses')),
    sa.UniqueConstraint('candidate_id', 'address', name=op.f('uq_candidate_addresses_candidate_id_address'))
    )
    op.create_table('sequence_steps',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sequence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('delay_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('delay_days >= 0', name=op.f('ck_sequence_steps_delay_not_negative')),
    sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], name=op.f('fk_sequence_steps_sequence_id_sequences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequence_steps')),
    sa.UniqueConstraint('sequence_id', 'position', name=op.f('uq_sequence_steps_sequence_id_position'))
    )
    op.create_table('delegations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mailbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('grantor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('grantee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('requested', 'approved', 'denied', 'revoked', 'expired', name='delegation_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('requested_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('decided_at', bot.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_delegations_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grantee_id'], ['users.id'], name=op.f('fk_delegations_grantee_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grantor_id'], ['users.id'], name=op.f('fk_delegations_grantor_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_delegations_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegations'))
    )
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegations_grantee_id'), ['grantee_id', 'status'], unique=False)

    op.create_table('enrollments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('candidate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('not_started', 'in_progress', 'out_of_office', 'paused', 'replied', 'bounced', 'finished', name='enrollment_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('steps_sent', sa.Integer(), nullable=False),
    sa.Column('address_override', sa.String(length=320), nullable=True),
    sa.Column('fields_override', sa.JSON(), nullable=False),
    sa.Column('tried_addresses', sa.JSON(), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=True),
    sa.Column('first_send_local', sa.Time(), nullable=True),
    sa.Column('ended_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_enrollments_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_enrollments_candidate_id_candidates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('campaign_id', 'candidate_id', name=op.f('uq_enrollments_campaign_id_candidate_id'))
    )
    op.create_table('outbound_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrollment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mailbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step_position', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('in_reply_to', sa.String(length=255), nullable=True),
    sa.Column('references', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', 'cancelled', name='outbound_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('due_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('window_start', bot.models.UTCDateTime(), nullable=True),
    sa.Column('window_end', bot.models.UTCDateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('provider_thread_id', sa.String(length=255), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('sent_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_outbound_messages_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_outbound_messages_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages')),
    sa.UniqueConstraint('enrollment_id', 'step_position', 'to_address', name=op.f('uq_outbound_messages_enrollment_id_step_position_to_address')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbound_messages_message_id'))
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_messages_mailbox_id'), ['mailbox_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_messages_status'), ['status', 'due_at'], unique=False)

    op.create_table('inbound_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mailbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrollment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('outbound_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.Enum('reply', 'auto_reply', 'bounce', 'other', name='inbound_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('provider_message_id', sa.String(length=255), nullable=False),
    sa.Column('provider_thread_id', sa.String(length=255), nullable=True),
    sa.Column('from_address', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.String(length=998), nullable=True),
    sa.Column('failed_recipients', sa.JSON(), nullable=False),
    sa.Column('permanent', sa.Boolean(), nullable=True),
    sa.Column('received_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('handled_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_inbound_events_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_inbound_events_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbound_message_id'], ['outbound_messages.id'], name=op.f('fk_inbound_events_outbound_message_id_outbound_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_events')),
    sa.UniqueConstraint('mailbox_id', 'provider_message_id', name=op.f('uq_inbound_events_mailbox_id_provider_message_id'))
    )


def downgrade() -> None:
    op.drop_table('inbound_events')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_messages_status'))
        batch_op.drop_index(batch_op.f('ix_outbound_messages_mailbox_id'))

    op.drop_table('outbound_messages')
    op.drop_table('enrollments')
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegations_grantee_id'))

    op.drop_table('delegations')
    op.drop_table('sequence_steps')
    op.drop_table('candidate_addresses')
    op.drop_table('campaigns')
    op.drop_table('sequences')
    op.drop_table('mailboxes')
    op.drop_table('candidates')
    op.drop_table('users')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_organisation_id'))

    op.drop_table('audit_log')
    op.drop_table('organisations')
