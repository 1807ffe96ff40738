"""Planner statistics brought up to date after a bulk write (issue 16, part 2).

Right after thousands of rows land in one go (a CSV confirmed into a campaign, `outreach campaign
import`, Start on a large campaign), PostgreSQL still plans with the statistics it had before: on a
young database it believes a campaign has 3 enrollments and 2 sends are pending, and joins them by
a nested loop that compares every enrollment with every pending send (10,000 × 15,000 rows: 10–30
s for one `/outreach status`, when or campaign message, against 20 ms once analysed). Autovacuum
analyses these tables after 2% of them change (migration 0011), but only on its next round, up to
a minute later: the writer analyses them itself, at once, after it commits.

ANALYZE samples at most 30,000 rows a table whatever its size (tens of milliseconds, a share
update lock that blocks no read or write), so it runs only after a write of BULK_ROWS or more.
SQLite needs nothing: its planner without statistics prefers the indexes these reads use.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction

BULK_ROWS = 500  # rows written at once from which the statistics are refreshed
# What a bulk write of candidates touches, and what status, when and the campaign message read.
TABLES = ("candidates", "candidate_addresses", "enrollments", "outbound_messages")


def refresh_after_bulk_write(sessions: sessionmaker[Session], *, rows: int, tables: tuple[str, ...] = TABLES) -> bool:
    """ANALYZE `tables` on PostgreSQL when `rows` (what the write added) is BULK_ROWS or more. Call it
    after the write has committed, outside any transaction (its rows are then what ANALYZE samples).
    Returns whether it ran."""
    if rows < BULK_ROWS:
        return False
    with transaction(sessions, write=True) as session:
        if session.get_bind().dialect.name != "postgresql":
            return False
        session.execute(text(f"ANALYZE {', '.join(tables)}"))
    return True
