"""Planner statistics brought up to date after a bulk write (PostgreSQL only).

Right after thousands of rows land in one go (a CSV confirmed into a campaign, `outreach campaign
import`, Start on a large campaign), PostgreSQL still plans with the statistics it had before: on a
young database it believes a campaign has 3 enrollments and 2 sends are pending, and joins them by
a nested loop that compares every enrollment with every pending send (10,000 × 15,000 rows: 10–30
s for one `/outreach status`, when or campaign message, against 20 ms once analysed). Autovacuum
analyses these tables after 2% of them change (migration 0011), but only on its next round, up to
a minute later: the writer analyses them itself, at once.

ANALYZE samples at most 30,000 rows a table whatever its size (tens of milliseconds, a share
update lock that blocks no read or write), so it runs only after a write of BULK_ROWS or more.
SQLite needs nothing: its planner without statistics prefers the indexes these reads use.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction
from bot.models import Base

BULK_ROWS = 500  # rows written at once from which the statistics are refreshed
# What a bulk write of candidates touches, and what status, when and the campaign message read.
TABLES = ("candidates", "candidate_addresses", "enrollments", "outbound_messages")


def analyze_after_bulk_write(bind: Session | Connection, tables: Iterable[str] = TABLES, *,
                             rows: int | None = None) -> bool:
    """ANALYZE `tables` on PostgreSQL through `bind`; nothing elsewhere, nor when `rows` (how many
    were written, when known) is under BULK_ROWS. Allowed inside a transaction, where it holds a lock
    only other ANALYZE, VACUUM and DDL wait on until commit: call it at a transaction's end or in its
    own (refresh_after_bulk_write). Returns whether it ran."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name != "postgresql" or (rows is not None and rows < BULK_ROWS):
        return False
    names = list(tables)
    for table in names:
        if table not in Base.metadata.tables:  # the name goes into SQL: only our own tables
            raise ValueError(f"not a table of the bot: {table!r}")
    bind.execute(text(f"ANALYZE {', '.join(names)}"))
    return True


def refresh_after_bulk_write(sessions: sessionmaker[Session], *, rows: int, tables: Iterable[str] = TABLES) -> bool:
    """The same in a transaction of its own: call it after the write has committed (its rows are
    then what ANALYZE samples)."""
    if rows < BULK_ROWS or sessions.kw["bind"].dialect.name != "postgresql":
        return False  # decided before any transaction: SQLite's would take its write lock for nothing
    with transaction(sessions) as session:
        return analyze_after_bulk_write(session, tables, rows=rows)
