"""The dispatch benchmark's same-work floor: one process, none of the bot's sending code.

Each round claims up to BATCH due rows by bare SQL (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
LOCKED LIMIT n) RETURNING on PostgreSQL; the same statement inside BEGIN IMMEDIATE on SQLite), reads
what the emails need in one join (candidate name and fields, mailbox address, owner's name), does the
per-message work of bench/_same_work.py for each row (render, MIME, sandbox write) and marks the
claim sent in one UPDATE. The bot's models are used for table names only.

The claim orders by due_at alone: the index on (status, due_at) then serves it, stopping at n rows.
Ordering by (due_at, id), as bench/dispatch.py's old floor does, has no index on PostgreSQL: every
claim reads and sorts every pending row (a seq scan and a sort: 113 ms a claim at 100,000 rows,
against 0.3 ms), so that floor gets slower per send as the queue grows.

floor(engine, rows, root) returns sends per second; give it a dict as `breakdown` to get the seconds
spent in each part (claim, load, render, mime, write, mark) and the count of sends.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, select, update

from bench._same_work import SameWork
from bot.models import Candidate, Enrollment, Mailbox, OutboundMessage, User

BATCH = 400  # as bench/dispatch.py: up to 4 rows per mailbox, 100 mailboxes
PARTS = ("claim", "load", "render", "mime", "write", "mark")


def floor(engine: Engine, rows: int, root: Path, breakdown: dict[str, float] | None = None,
          batch: int = BATCH) -> float:
    t = OutboundMessage.__table__
    e, c, m, u = Enrollment.__table__, Candidate.__table__, Mailbox.__table__, User.__table__
    sqlite = engine.dialect.name == "sqlite"
    spent = dict.fromkeys(PARTS, 0.0)
    work = SameWork(root)
    clock = time.perf_counter
    started = clock()
    done = 0
    try:
        while done < rows:
            now = datetime.now(timezone.utc)
            t0 = clock()
            with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():  # BEGIN IMMEDIATE
                claimed = conn.execute(
                    update(t).where(t.c.id.in_(
                        select(t.c.id).where(t.c.status == "pending", t.c.due_at <= now)
                        .order_by(t.c.due_at).limit(batch)
                        .with_for_update(skip_locked=True).correlate(None).scalar_subquery()))
                    .values(status="sending", claimed_by="floor", attempted_at=now)
                    .returning(t.c.id)).scalars().all()
            t1 = clock()
            spent["claim"] += t1 - t0
            if not claimed:
                break
            with engine.connect() as conn:
                sendables = conn.execute(
                    select(t.c.id, t.c.to_address, t.c.message_id, c.c.name, c.c.fields, m.c.address, u.c.name)
                    .join(e, e.c.id == t.c.enrollment_id).join(c, c.c.id == e.c.candidate_id)
                    .join(m, m.c.id == t.c.mailbox_id).join(u, u.c.id == m.c.owner_id)
                    .where(t.c.id.in_(claimed)).order_by(t.c.id)).all()
            t2 = clock()
            spent["load"] += t2 - t1
            for _, to_address, message_id, name, fields, from_address, from_name in sendables:
                a = clock()
                subject, body = work.render(name, fields)
                b = clock()
                data = work.mime(from_address, from_name, to_address, name, subject, body, message_id, now)
                d = clock()
                work.write(from_address, data, f"thread-{message_id.strip('<>')}")
                spent["render"] += b - a
                spent["mime"] += d - b
                spent["write"] += clock() - d
            t3 = clock()
            with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
                conn.execute(update(t).where(t.c.id.in_([row[0] for row in sendables]))
                             .values(status="sent", sent_at=now, claimed_by=None))
            spent["mark"] += clock() - t3
            done += len(sendables)
    finally:
        work.close()
    elapsed = clock() - started
    if breakdown is not None:
        breakdown.update(spent, sends=done, elapsed=elapsed, sqlite=sqlite)
    return done / elapsed
