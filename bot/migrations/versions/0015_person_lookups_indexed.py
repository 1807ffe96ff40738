"""a person's enrollments and one-off emails indexed by the person

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

The rules of engagement (bot.services.engagement) and the do-not-contact sweep look a person up by
candidate across every campaign, and one-off emails by address across every mailbox; without these
each such check read the whole table.
"""
from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_enrollments_candidate_id'), 'enrollments', ['candidate_id'], unique=False)
    op.create_index(op.f('ix_direct_messages_to_address'), 'direct_messages', ['to_address'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_direct_messages_to_address'), table_name='direct_messages')
    op.drop_index(op.f('ix_enrollments_candidate_id'), table_name='enrollments')
