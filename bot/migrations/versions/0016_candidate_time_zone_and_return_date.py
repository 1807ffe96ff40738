"""the candidate's own time zone, and an out-of-office's return date

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

- candidates.time_zone: an IANA zone from the upload's `time zone` column (a city is mapped to its
  zone when read); the send-time rules run in it, the campaign's zone being the default.
- enrollments.away_until: the return date an auto-reply states; the next step waits for the first
  send day after it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('candidates', sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.add_column('enrollments', sa.Column('away_until', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_column('away_until')
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
