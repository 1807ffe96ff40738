"""protection: the do-not-contact list, rules of engagement, complaints

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

- do_not_contact: the organisation's list of addresses and whole domains, who added each, when, why
  and how (a command, a reply's button, a CSV, an opt-out reply, the unsubscribe link, a complaint).
- organisations: the rules of engagement (days, warn or block), whether an opt-out reply puts the
  address on the list by itself, whether emails carry an opt-out link.
- enrollments: the owner's reason for overriding the rules of engagement; statuses "complained"
  and "do_not_contact" (ended).
- inbound_events.kind may be "complaint"; mailboxes count the complaints their sends drew.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_STATUSES = ('not_started', 'in_progress', 'out_of_office', 'paused', 'replied', 'bounced', 'finished', 'removed')
_NEW_STATUSES = _STATUSES + ('complained', 'do_not_contact')
_KINDS = ('reply', 'auto_reply', 'bounce', 'other')
_NEW_KINDS = ('reply', 'auto_reply', 'bounce', 'complaint', 'other')


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    op.create_table('do_not_contact',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organisation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('is_domain', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Enum('command', 'reply_button', 'csv', 'opt_out_reply', 'unsubscribe', 'complaint', name='dnc_source', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('added_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_do_not_contact_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_do_not_contact_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_do_not_contact')),
    sa.UniqueConstraint('organisation_id', 'value', name=op.f('uq_do_not_contact_organisation_id_value'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engagement_override', sa.String(length=500), nullable=True))
        batch_op.alter_column('status', existing_type=_enum(_STATUSES, 'enrollment_status'),
                              type_=_enum(_NEW_STATUSES, 'enrollment_status'), existing_nullable=False)

    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=_enum(_KINDS, 'inbound_kind'), type_=_enum(_NEW_KINDS, 'inbound_kind'),
                              existing_nullable=False)

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaints', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engagement_days', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('engagement_rule', sa.Enum('warn', 'block', name='engagement_rule', native_enum=False, create_constraint=True, length=24), server_default='warn', nullable=False))
        batch_op.add_column(sa.Column('opt_out_replies_to_dnc', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('opt_out_link', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('opt_out_link')
        batch_op.drop_column('opt_out_replies_to_dnc')
        batch_op.drop_constraint(batch_op.f('ck_organisations_engagement_rule'), type_='check')
        batch_op.drop_column('engagement_rule')
        batch_op.drop_column('engagement_days')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('complaints')

    op.execute("UPDATE inbound_events SET kind = 'other' WHERE kind = 'complaint'")
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=_enum(_NEW_KINDS, 'inbound_kind'), type_=_enum(_KINDS, 'inbound_kind'),
                              existing_nullable=False)

    op.execute("UPDATE enrollments SET status = 'bounced' WHERE status IN ('complained', 'do_not_contact')")
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_column('engagement_override')
        batch_op.alter_column('status', existing_type=_enum(_NEW_STATUSES, 'enrollment_status'),
                              type_=_enum(_STATUSES, 'enrollment_status'), existing_nullable=False)

    op.drop_table('do_not_contact')
