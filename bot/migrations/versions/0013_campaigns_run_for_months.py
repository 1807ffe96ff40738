"""campaigns run for months: one live name per owner, archived campaigns, removed candidates, the
organisation's holidays, and why a mailbox waits

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

- Sequences and campaigns: a unique index on (owner, lower(name)) among the live ones. Names that
  already collide are made unique first by adding " (2)", " (3)", ... to the later ones, so nobody's
  campaign is lost; the recruiter sees the new name in their lists.
- campaigns.archived_at: a finished campaign out of the lists, its history kept.
- enrollments.status may be "removed": taken out of a campaign by the recruiter.
- organisations.holidays: the organisation's calendar, dates no campaign sends on.
- mailboxes.not_before_reason: which gate set not_before (spacing, daily cap, provider rate limit).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.models

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_OLD_STATUSES = ('not_started', 'in_progress', 'out_of_office', 'paused', 'replied', 'bounced', 'finished')
_NEW_STATUSES = _OLD_STATUSES + ('removed',)


def _status_type(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name='enrollment_status', native_enum=False, create_constraint=True, length=24)


def _rename_colliding(table: str) -> None:
    """Later rows whose name collides (ignoring case) with an earlier live one of the same owner get
    " (2)", " (3)", ... until free."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        f"SELECT id, owner_id, name FROM {table} WHERE archived_at IS NULL ORDER BY id")).all()
    taken: set[tuple[int, str]] = set()
    for row_id, owner_id, name in rows:
        candidate, n = name, 1
        while (owner_id, candidate.lower()) in taken:
            n += 1
            candidate = f"{name[:190]} ({n})"
        taken.add((owner_id, candidate.lower()))
        if candidate != name:
            bind.execute(sa.text(f"UPDATE {table} SET name = :name WHERE id = :id"), {"name": candidate, "id": row_id})


def _unique_name_index(table: str) -> None:
    live = sa.text("archived_at IS NULL")
    op.create_index(f'uq_{table}_owner_name', table, ['owner_id', sa.text('lower(name)')], unique=True,
                    sqlite_where=live, postgresql_where=live)


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', bot.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holidays', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before_reason', sa.String(length=24), nullable=True))
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=_status_type(_OLD_STATUSES), type_=_status_type(_NEW_STATUSES),
                              existing_nullable=False)
    for table in ('sequences', 'campaigns'):
        _rename_colliding(table)
        _unique_name_index(table)


def downgrade() -> None:
    op.drop_index('uq_campaigns_owner_name', table_name='campaigns')
    op.drop_index('uq_sequences_owner_name', table_name='sequences')
    op.execute("UPDATE enrollments SET status = 'finished' WHERE status = 'removed'")
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=_status_type(_NEW_STATUSES), type_=_status_type(_OLD_STATUSES),
                              existing_nullable=False)
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('not_before_reason')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('holidays')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
