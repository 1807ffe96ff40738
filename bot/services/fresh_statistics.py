"""Planner statistics brought up to date after a bulk write (PostgreSQL only).

Autovacuum analyzes a table only after a share of it changed and only when its launcher next
comes round (up to a minute), so right after 10,000 candidates land the planner may still think
`enrollments` or `outbound_messages` hold a handful of rows and pick nested loops for the campaign
message, the claim or the template check. ANALYZE samples at most 300 × default_statistics_target
rows a table, so its cost does not grow with the table. SQLite plans without such statistics here.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bot.models import Base

# What the bulk paths write (candidate confirm, campaign import): the tables their readers join.
CANDIDATE_TABLES = ("candidates", "candidate_addresses", "enrollments", "outbound_messages")
MIN_ROWS = 500  # fewer rows than this change no plan: autovacuum's own analyze is soon enough


def analyze_after_bulk_write(bind: Session | Connection, tables: Iterable[str] = CANDIDATE_TABLES, *,
                             rows: int | None = None) -> bool:
    """ANALYZE `tables` on PostgreSQL; nothing elsewhere, nor when `rows` (how many were written, when
    known) is under MIN_ROWS. Allowed inside a transaction, where it holds a lock that only other
    ANALYZE, VACUUM and DDL wait on until commit: call it at a transaction's end or in its own.
    Returns whether it ran."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name != "postgresql" or (rows is not None and rows < MIN_ROWS):
        return False
    for table in tables:
        if table not in Base.metadata.tables:  # the name goes into SQL: only our own tables
            raise ValueError(f"not a table of the bot: {table!r}")
        bind.execute(text(f'ANALYZE "{table}"'))
    return True
