"""candidate uploads confirmed in chunks: rows written so far, the running claim, its last progress

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

A confirm of 10,000 rows writes them 250 at a time, one transaction each, and shows its progress
in Slack between them; a run that dies part-way is resumed from rows_done (nothing written twice,
nothing left out), under a new confirm_claim so the old run, were it only slow, writes no more.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('candidate_uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rows_done', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('confirm_claim', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('confirming_at', bot.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('counts', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('candidate_uploads', schema=None) as batch_op:
        batch_op.drop_column('counts')
        batch_op.drop_column('confirming_at')
        batch_op.drop_column('confirm_claim')
        batch_op.drop_column('rows_done')
