"""one-off sends and previews are outbound rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

One-off emails (`/outreach send`) and previews are outbound rows, sent by the dispatcher's claim →
send → record: no enrollment; their kind, sender and sequence; the subject and body while unsent;
the previous preview step (follows_id); why a failed one failed (error_kind).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('campaign', 'one_off', 'preview', name='outbound_kind', native_enum=False, create_constraint=True, length=24), server_default='campaign', nullable=False))
        batch_op.add_column(sa.Column('sender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('sequence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('subject', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('follows_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('error_kind', sa.String(length=24), nullable=True))
        batch_op.alter_column('enrollment_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=True)
        batch_op.create_index('ix_outbound_messages_kind_queue', ['kind', 'status', 'due_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbound_messages_follows_id_outbound_messages'), 'outbound_messages', ['follows_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_outbound_messages_sequence_id_sequences'), 'sequences', ['sequence_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_outbound_messages_sender_id_users'), 'users', ['sender_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    op.execute("DELETE FROM outbound_messages WHERE kind != 'campaign'")  # they have no enrollment
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbound_messages_sender_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_outbound_messages_sequence_id_sequences'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_outbound_messages_follows_id_outbound_messages'), type_='foreignkey')
        batch_op.drop_index('ix_outbound_messages_kind_queue')
        batch_op.alter_column('enrollment_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=False)
        batch_op.drop_column('error_kind')
        batch_op.drop_column('follows_id')
        batch_op.drop_column('body')
        batch_op.drop_column('subject')
        batch_op.drop_column('sequence_id')
        batch_op.drop_column('sender_id')
        batch_op.drop_constraint(batch_op.f('ck_outbound_messages_outbound_kind'), type_='check')
        batch_op.drop_column('kind')
