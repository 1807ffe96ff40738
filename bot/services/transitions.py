"""Every status change of an outbound row and of an enrollment, as a guarded transition in SQL.

Each is one `UPDATE … WHERE status IN (the states it may leave)` (and, for a claimed outbound row,
`AND claimed_by = this worker`), and the caller learns from the row count, or from the ids the
UPDATE returns, whether it happened. A decision is never taken from a status read earlier in the
transaction: on PostgreSQL (READ COMMITTED) a concurrent writer may commit between that read and
our write, and the guarded UPDATE then waits for its lock and re-tests the WHERE against the row
as committed. Whatever the commit order, an ended state is never left by a later writer: SPEC "A
reply, bounce or complaint recorded for a candidate is final". SQLite serialises writers, so the
guard is redundant there but costs nothing.

The hot paths stay bulk: the claim and the send recorder build their `UPDATE … FROM rows`
statements from the builders here (`claim_rows`, `mark_sent`, `advance`), given the FROM clause of
their batch, so the rule of which state may be left for which lives here and nowhere else.

An outbound row (one step to one address):

| state | may move to | who moves it (function here ← caller) |
|---|---|---|
| (new) | pending | the planner inserts it (scheduling.planner): at Start, after a send, on resume, on a bounce |
| pending, due | sending, claimed by a worker with a lease | `claim_rows` ← scheduling.claims, in bulk |
| pending | cancelled | `cancel_planned` ← bot.services.replies: the candidate replied or bounced; bot.services.campaign_lifecycle: removed |
| sending, claimed by w | sent | `mark_sent` ← scheduling.record_sent, in bulk: accepted, or found by a check |
| sending, claimed by w | pending, or cancelled if the candidate's sequence ended | `release` ← scheduling.claims: withdrawn at the last look, the attempt given back; `back_to_pending` ← scheduling.outcomes: rate limited, reconnect needed, not found when checked |
| sending, claimed by w | failed | `fail` ← scheduling.outcomes: a permanent refusal, or given up after the last attempt |
| sending, claimed by w | sending, unclaimed, checked after a backoff | `set_aside` ← scheduling.outcomes, scheduling.dispatcher: an unclear answer, or a check that failed |
| sending, lease ended | sending, claimed by the checking worker | `take_over` ← scheduling.dispatcher.reconcile |
| failed, cancelled | pending | `reopen` ← bot.services.campaigns: the same step to the same address planned again |
| sent | – | never left |

A one-off email or a preview step (kind one_off / preview, no enrollment; bot.services.direct_send
inserts it pending, due now) moves through the same states, with these transitions of its own:

| state | may move to | who moves it |
|---|---|---|
| pending, due | sending, claimed | `claim_rows` ← scheduling.one_off (a targeted claim, or run_once's) |
| sending, claimed by w | sent, its subject and body cleared | `one_off_sent` ← scheduling.outcomes |
| sending, claimed by w | failed (error_kind), its text cleared; never retried | `fail` ← scheduling.outcomes |
| sending, claimed by w | sending, unclaimed, checked after a backoff | `set_aside` ← scheduling.outcomes, as above |
| pending | cancelled: the step before it did not go out | `cancel_following` ← scheduling.outcomes |
| pending, held for too long | cancelled | `expire_one_offs` ← scheduling.one_off |

An enrollment (one candidate in one campaign):

| transition | leaves | enters | who |
|---|---|---|---|
| a step was sent | SENDS | in progress, out of office, finished | `advance` ← scheduling.record_sent, in bulk |
| paused by the owner, or after a failed send | SENDS | paused | `move` ← bot.services.campaigns, scheduling.outcomes |
| resumed | paused | in progress / not started | `move` ← bot.services.campaigns |
| an auto-reply arrived | SENDS | out of office | `move` ← bot.services.replies |
| a bounce moves on to another address | OPEN | in progress / not started | `move` ← bot.services.replies |
| a reply or a final bounce | OPEN | replied / bounced | `end` ← bot.services.replies |
| a complaint (spam or abuse report) | OPEN | complained | `end` ← bot.services.replies |
| an address of theirs put on the do-not-contact list | OPEN | do not contact | `end` ← bot.services.do_not_contact |
| the owner's correction "that was an auto-reply" | replied | out of office | `move` ← bot.services.replies |
| removed from the campaign by the owner or an edit share | SENDS, paused | removed (ended) | `move` ← bot.services.campaign_lifecycle |
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Row, String, and_, bindparam, case, exists, func, literal, or_, true, update
from sqlalchemy.orm import Session

from bot.models import Enrollment, EnrollmentStatus, OutboundKind, OutboundMessage, OutboundStatus, UTCDateTime
from bot.services.campaign_marks import mark_stale

SENDS = frozenset(s for s in EnrollmentStatus if s.sends)
# Never left but by the owner's correction of a reply (SPEC: a reply, bounce or complaint is final; an
# address on the do-not-contact list is never written to again, even if the entry is removed later).
FINAL = frozenset({EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED, EnrollmentStatus.COMPLAINED,
                   EnrollmentStatus.DO_NOT_CONTACT})
OPEN = frozenset(EnrollmentStatus) - FINAL  # finished is not final: a late reply or bounce still lands

O = OutboundMessage
OT, ET = OutboundMessage.__table__, Enrollment.__table__


# ---- enrollments -----------------------------------------------------------------------------------

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
    """Replied, bounced, complained or do-not-contact, from any state that is not already final."""
    assert status in FINAL
    return move(session, enrollment, leaving=OPEN, to=status, **values)


def advance(rows: FromClause) -> Any:
    """The bulk UPDATE for enrollments whose step went out, from `rows` (columns b_id, b_step,
    b_last, b_thread, b_mid, b_subject, b_first; bind parameter b_now). Only an enrollment in a state
    that sends moves, its new status computed in SQL from the row as it is then. Returns id, status."""
    now = bindparam("b_now", type_=UTCDateTime())
    status = case((rows.c.b_last == 1, EnrollmentStatus.FINISHED.value),
                  (ET.c.status == EnrollmentStatus.NOT_STARTED.value, EnrollmentStatus.IN_PROGRESS.value),
                  else_=ET.c.status)
    references = case((func.coalesce(ET.c.thread_references, "") == "", rows.c.b_mid),
                      else_=ET.c.thread_references + literal(" ") + rows.c.b_mid)
    return (update(ET).where(ET.c.id == rows.c.b_id, ET.c.status.in_([s.value for s in SENDS]))
            .values(status=status,
                    steps_sent=case((ET.c.steps_sent > rows.c.b_step, ET.c.steps_sent), else_=rows.c.b_step),
                    thread_id=func.coalesce(ET.c.thread_id, rows.c.b_thread),
                    thread_references=references,
                    thread_subject=func.coalesce(ET.c.thread_subject, rows.c.b_subject),
                    first_send_local=func.coalesce(ET.c.first_send_local, rows.c.b_first),
                    last_sent_at=now, ended_at=case((rows.c.b_last == 1, now), else_=None))
            .returning(ET.c.id, ET.c.status))


# ---- outbound rows -----------------------------------------------------------------------------------

def claimable(now: Any) -> ColumnElement[bool]:
    """A row the claim may take: pending, due, and not held by a lease."""
    return and_(O.status == OutboundStatus.PENDING, O.due_at <= now,
                or_(O.lease_expires_at.is_(None), O.lease_expires_at < now))


def claim_rows(chosen: Any, *, worker: Any, lease_until: Any, now: Any) -> Any:
    """pending → sending, claimed by `worker`: the UPDATE for the rows of `chosen`, a scalar subquery
    that must select, with FOR UPDATE SKIP LOCKED, only rows that are `claimable(now)`. The guard is
    in that locked subquery (PostgreSQL locks the rows as SQLite's write lock does), so the UPDATE
    needs no second status test (one would also make SQLite scan every pending row). The caller adds
    its RETURNING and acts on the ids it gets back."""
    return update(O).where(O.id.in_(chosen)).values(
        status=OutboundStatus.SENDING, claimed_by=worker, lease_expires_at=lease_until, attempted_at=now,
        attempts=O.attempts + 1)


def mark_sent(marks: FromClause, backend: str) -> Any:
    """sending (claimed by b_worker) → sent, for the rows of `marks` (columns b_id, b_pid, b_tid,
    b_mid; bind parameters b_worker, b_now). Returns the ids that moved: a row no longer ours (a
    lease that ran out and another worker's check) is left alone."""
    # SQLite: `status || ''`, the same test, or it drives the join from the status index (every row
    # in `sending`, each against every mark) instead of one primary-key seek per mark. PostgreSQL:
    # the plain test, which it serves from that index (the rows in flight); the opaque one made it
    # scan the whole table for every batch, a cost that grew with the table.
    status = OT.c.status.op("||")(literal("", String())) if backend == "sqlite" else OT.c.status
    return (update(OT).where(OT.c.id == marks.c.b_id, status == OutboundStatus.SENDING.value,
                             OT.c.claimed_by == bindparam("b_worker"))
            .values(status=OutboundStatus.SENT.value, sent_at=bindparam("b_now", type_=UTCDateTime()), error=None,
                    claimed_by=None, lease_expires_at=None, provider_message_id=marks.c.b_pid,
                    provider_thread_id=marks.c.b_tid, sent_message_id=marks.c.b_mid)
            .returning(OT.c.id))


def _give_back(session: Session, ids: Sequence[int], *, worker_id: str, **values: Any) -> list[Row[Any]]:
    """sending (claimed by `worker_id`) → cancelled where the candidate's sequence has ended (as reply
    handling cancels planned rows: never pending again), else → pending, waiting for its turn (or a
    resume). Returns (mailbox_id, attempted_at) of each row that moved."""
    ended = ~exists().where(Enrollment.id == O.enrollment_id, Enrollment.status.in_(SENDS))
    moved: list[Row[Any]] = []
    for status, which in ((OutboundStatus.CANCELLED, ended), (OutboundStatus.PENDING, true())):
        moved += session.execute(
            update(O).where(O.id.in_(ids), O.status == OutboundStatus.SENDING, O.claimed_by == worker_id, which)
            .values(status=status, claimed_by=None, lease_expires_at=None, **values)
            .returning(O.mailbox_id, O.attempted_at)).all()
    return moved


def release(session: Session, ids: Sequence[int], *, worker_id: str) -> list[Row[Any]]:
    """Claimed rows that never reached the provider (withdrawn at the last look): the attempt is
    given back. Returns (mailbox_id, attempted_at) of each row that moved, for the daily counter."""
    return _give_back(session, ids, worker_id=worker_id, attempts=O.attempts - 1)


def back_to_pending(session: Session, row: OutboundMessage, *, worker_id: str, reason: str) -> bool:
    """Not accepted by the provider (rate limited, reconnect needed, not found when checked): the
    row waits again, or is cancelled if the candidate's sequence ended. The object is brought up to
    date."""
    moved = bool(_give_back(session, [row.id], worker_id=worker_id, error=reason[:1000]))
    session.refresh(row, ["status", "error", "claimed_by", "lease_expires_at"])
    return moved


def fail(session: Session, row: OutboundMessage, *, worker_id: str, reason: str, **values: Any) -> bool:
    """sending (claimed by `worker_id`) → failed, with its reason (and `values`: a one-off's error_kind)."""
    return _settle(session, row, leaving=[OutboundStatus.SENDING], worker_id=worker_id, status=OutboundStatus.FAILED,
                   error=reason[:1000], claimed_by=None, lease_expires_at=None, **values)


def one_off_sent(session: Session, row: OutboundMessage, *, worker_id: str, now: datetime,
                 provider_message_id: str | None, thread_id: str | None, sent_message_id: str | None) -> bool:
    """A one-off or preview row (claimed by `worker_id`): sending → sent, its text cleared (no body of
    sent mail is kept). No enrollment to advance."""
    return _settle(session, row, leaving=[OutboundStatus.SENDING], worker_id=worker_id, status=OutboundStatus.SENT,
                   sent_at=now, error=None, claimed_by=None, lease_expires_at=None, subject=None, body=None,
                   provider_message_id=provider_message_id, provider_thread_id=thread_id,
                   sent_message_id=sent_message_id)


def cancel_following(session: Session, row_ids: Collection[int]) -> list[Row[Any]]:
    """pending → cancelled for the preview steps after these rows, and the steps after those (a
    preview stops at its first error). Returns (id, mailbox_id, created_at) of each row that moved."""
    moved: list[Row[Any]] = []
    after = list(row_ids)
    while after:
        found = session.execute(
            update(O).where(O.follows_id.in_(after), O.status == OutboundStatus.PENDING,
                            O.kind != OutboundKind.CAMPAIGN)
            .values(status=OutboundStatus.CANCELLED, subject=None, body=None)
            .returning(O.id, O.mailbox_id, O.created_at)).all()
        moved += found
        after = [r[0] for r in found]
    return moved


def expire_one_offs(session: Session, *, created_before: datetime) -> list[Row[Any]]:
    """pending → cancelled for one-offs and preview steps queued before `created_before` (their
    mailbox was held all that while). Returns (id, mailbox_id, created_at, sender_id, to_address, kind)."""
    return session.execute(
        update(O).where(O.kind.in_([OutboundKind.ONE_OFF, OutboundKind.PREVIEW]),
                        O.status == OutboundStatus.PENDING, O.created_at < created_before)
        .values(status=OutboundStatus.CANCELLED, subject=None, body=None, error_kind="held",
                error="the mailbox was held too long")
        .returning(O.id, O.mailbox_id, O.created_at, O.sender_id, O.to_address, O.kind)).all()


def set_aside(session: Session, row: OutboundMessage, *, worker_id: str, check_at: datetime,
              **values: Any) -> bool:
    """Still `sending`, unclaimed: it may have gone out, so it is looked up in the mailbox (by
    whichever worker's reconcile comes first) at `check_at`, never sent blindly again."""
    return _settle(session, row, leaving=[OutboundStatus.SENDING], worker_id=worker_id, claimed_by=None,
                   lease_expires_at=check_at, **values)


def take_over(session: Session, stale: Any, *, worker_id: str, lease_until: datetime) -> list[Row[Any]]:
    """sending, lease ended → sending, claimed by `worker_id` for a check, for the rows of `stale` (a
    scalar subquery that locks them, SKIP LOCKED). Returns (id, mailbox_id, message_id) of each."""
    return session.execute(
        update(O).where(O.id.in_(stale), O.status == OutboundStatus.SENDING)
        .values(claimed_by=worker_id, lease_expires_at=lease_until)
        .returning(O.id, O.mailbox_id, O.message_id)).all()


def cancel_planned(session: Session, enrollment_id: int) -> int:
    """pending → cancelled for every step planned for this candidate (their sequence ended: the claim
    re-checks anyway, but no report then shows them as still to come). Returns how many moved."""
    return session.execute(update(O).where(O.enrollment_id == enrollment_id, O.status == OutboundStatus.PENDING)
                           .values(status=OutboundStatus.CANCELLED)).rowcount


def reopen(session: Session, row: OutboundMessage, **values: Any) -> bool:
    """failed / cancelled → pending, with `values` (the new plan): a step planned again to an address
    it failed at or was cancelled for (one row per step and address), with its attempts reset."""
    return _settle(session, row, leaving=[OutboundStatus.FAILED, OutboundStatus.CANCELLED], worker_id=None,
                   status=OutboundStatus.PENDING, error=None, attempts=0, claimed_by=None, lease_expires_at=None,
                   attempted_at=None, **values)


def _settle(session: Session, row: OutboundMessage, *, leaving: Collection[OutboundStatus], worker_id: str | None,
            **values: Any) -> bool:
    """One row, compare-and-set on its status (and its claim owner, when `worker_id` is given); the
    object in the session is brought up to date either way."""
    guard = [O.id == row.id, O.status.in_(list(leaving))]
    if worker_id is not None:
        guard.append(O.claimed_by == worker_id)
    moved = session.execute(update(O).where(*guard).values(**values)
                            .execution_options(synchronize_session="fetch")).rowcount == 1
    if not moved:
        session.refresh(row, ["status", "claimed_by", "lease_expires_at", "error"])
    return moved
