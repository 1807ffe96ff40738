"""Every status change of an enrollment, as a guarded transition in SQL.

Each is one `UPDATE … WHERE id = ? AND status IN (the states it may leave)`, and the caller learns
from the row count whether it happened. A decision is never taken from a status read earlier in the
transaction: on PostgreSQL (READ COMMITTED) a concurrent writer may commit between that read and
our write, and the guarded UPDATE then waits for its lock and re-tests the WHERE against the row
as committed. Whatever the commit order, an ended state is never left by a later writer: SPEC "A
reply, bounce or complaint recorded for a candidate is final". SQLite serialises writers, so the
guard is redundant there but costs nothing.

| transition | leaves | enters |
|---|---|---|
| a step was sent (scheduling.record_sent, in bulk) | SENDS | in progress, out of office, finished |
| paused by the owner, or after a failed send | SENDS | paused |
| resumed | paused | in progress / not started |
| an auto-reply arrived | SENDS | out of office |
| a bounce moves on to another address | OPEN | in progress / not started |
| a reply or a final bounce | OPEN | replied / bounced |
| the owner's correction "that was an auto-reply" | replied | out of office |

Outbound rows keep their own guards where they change (claim, release, record): each UPDATE
names the state it leaves (`sending`, claimed by this worker) and the worker acts on what it
returns.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import Enrollment, EnrollmentStatus
from bot.services.campaign_marks import mark_stale

SENDS = frozenset(s for s in EnrollmentStatus if s.sends)
FINAL = frozenset({EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED})  # never left but by the owner's correction
OPEN = frozenset(EnrollmentStatus) - FINAL  # finished is not final: a late reply or bounce still lands


def move(session: Session, enrollment: Enrollment, *, leaving: Collection[EnrollmentStatus], to: EnrollmentStatus,
         **values: Any) -> bool:
    """Compare-and-set: `enrollment` enters `to` (with `values`) only if it is, in the database now,
    in one of the `leaving` states. The object in the session is brought up to date either way."""
    moved = session.execute(
        update(Enrollment).where(Enrollment.id == enrollment.id, Enrollment.status.in_(list(leaving)))
        .values(status=to, **values).execution_options(synchronize_session="fetch")).rowcount == 1
    if not moved:  # someone else's change won: show the caller the state as it is
        session.refresh(enrollment, ["status", "ended_at", "status_reason"])
    else:
        mark_stale(session, [enrollment.campaign_id])  # its campaign message shows the new status
    return moved


def end(session: Session, enrollment: Enrollment, status: EnrollmentStatus, **values: Any) -> bool:
    """Replied or bounced, from any state that is not already final."""
    assert status in FINAL
    return move(session, enrollment, leaving=OPEN, to=status, **values)
