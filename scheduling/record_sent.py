"""Recording sends that went out: the common outcome, so it runs on SQLAlchemy Core with one bulk
statement per table, each `UPDATE … FROM rows RETURNING` with the batch's rows as one parameter
(scheduling.bulk_rows; the ORM's per-object bookkeeping, and executemany's statement per row, were
most of a send's cost). Planning each next step still goes
through the Planner, for the enrollments that have one.

Both updates are guarded transitions, built by bot.services.transitions: a row is marked sent only while it
is still `sending` and claimed by this worker, and an enrollment advances only while it is in a
state that sends, with its new status computed in SQL from the row as it is then, never from an
earlier read. A reply that commits while this runs either wins (the enrollment stays Replied and no
next step is planned) or waits for this transaction and then cancels the step planned here."""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, String, Time, case, func, select, update
from sqlalchemy.orm import Session, selectinload

from bot.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
    SequenceStep,
)
from bot.services import transitions
from providers.base import SentMessage
from scheduling.bulk_rows import Columns, rows_params, rows_table
from bot.services.planner import Planner
from bot.services.campaign_marks import mark_stale

O, E = OutboundMessage.__table__, Enrollment.__table__


@dataclass(frozen=True)
class Sent:
    """A send the provider accepted (or a reconciliation found in the mailbox)."""

    row_id: int
    message: SentMessage
    subject: str | None = None  # what a new thread was started with: later steps answer "Re: " it


@dataclass(frozen=True)
class SentRow:
    """What recording a send needs of its row, none of which changes once the row is planned: read
    when the batch is composed (compose.load_sendables), so recording skips a query."""

    id: int
    enrollment_id: int
    step_position: int
    message_id: str
    mailbox_id: int
    campaign_id: int
    sequence_id: int
    timezone: str  # the zone the first send's time of day is kept in: the candidate's, else the campaign's
    steps: int | None = None  # how many steps its sequence has (a running sequence's steps are locked)


def record_sent(session: Session, sent: Sequence[Sent], *, worker_id: str, now: datetime,
                planner: Planner, known: Mapping[int, SentRow] | None = None) -> set[int]:
    """Mark rows sent, advance their enrollments, plan next steps. Returns the campaigns in which an
    enrollment ended (they may now be finished). Rows no longer ours are left alone (the mark's own
    guard). `known`: the rows' SentRow, where the caller has them."""
    results = {s.row_id: s for s in sent}
    if known is not None and all(i in known for i in results):
        rows = {i: known[i] for i in results}
    else:  # a reconciliation's finds
        rows = {r[0]: SentRow(*r) for r in session.execute(
            select(O.c.id, O.c.enrollment_id, O.c.step_position, O.c.message_id, O.c.mailbox_id, E.c.campaign_id,
                   Campaign.sequence_id, func.coalesce(Candidate.time_zone, Campaign.timezone))
            .join(E, E.c.id == O.c.enrollment_id).join(Campaign, Campaign.id == E.c.campaign_id)
            .join(Candidate, Candidate.id == E.c.candidate_id)
            .where(O.c.id.in_(results), O.c.status == OutboundStatus.SENDING.value, O.c.claimed_by == worker_id))}
    if not rows:
        return set()
    connection = session.connection()
    marked = _mark_sent(connection, [(r, results[r.id].message) for r in rows.values()], worker_id, now)
    if not marked:
        return set()
    mine = [rows[i] for i in marked]
    step_counts = {r.sequence_id: r.steps for r in mine if r.steps is not None}
    if len(step_counts) < len({r.sequence_id for r in mine}):
        step_counts = dict(session.execute(
            select(SequenceStep.sequence_id, func.count())
            .where(SequenceStep.sequence_id.in_({r.sequence_id for r in mine})).group_by(SequenceStep.sequence_id)).all())
    advanced = _advance(connection, mine, results, step_counts, now)
    ended, follow_ups = set(), []
    for row in mine:
        status = advanced.get(row.enrollment_id)
        if status is None:
            continue  # replied, bounced or paused while this send was under way: recorded, nothing planned
        if status == EnrollmentStatus.FINISHED.value:
            ended.add(row.campaign_id)
        else:
            follow_ups.append((row.enrollment_id, row.step_position + 1))
    session.execute(update(Mailbox).where(Mailbox.id.in_({r.mailbox_id for r in mine})).values(last_send_at=now))
    # Scheduled → Active with the first send; their campaign messages show the sends (mark_stale).
    mark_stale(session, {r.campaign_id for r in mine}, status=case(
        (Campaign.status == CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE.value), else_=Campaign.status))
    if follow_ups:
        _plan_follow_ups(session, follow_ups, planner)
    return ended


def _sent_id(row: SentRow, message: SentMessage) -> str:
    """The Message-ID the recipient sees: the provider's, where it kept one (Exchange may rewrite ours)."""
    return message.message_id or row.message_id


_MARKS: Columns = [("b_id", Integer()), ("b_pid", String()), ("b_tid", String()), ("b_mid", String())]
_ADVANCES: Columns = [("b_id", Integer()), ("b_step", Integer()), ("b_last", Integer()), ("b_thread", String()),
                      ("b_mid", String()), ("b_subject", String()), ("b_first", Time())]


@functools.cache
def _statements(backend: str) -> tuple[Any, Any]:
    """Both bulk UPDATEs (the transitions' builders, bot.services.transitions.mark_sent and
    .advance), built once per backend so SQLAlchemy compiles each once."""
    return (transitions.mark_sent(rows_table(backend, "marks", _MARKS), backend),
            transitions.advance(rows_table(backend, "advances", _ADVANCES)))


def _mark_sent(connection: Connection, sent: list[tuple[SentRow, SentMessage]], worker_id: str,
               now: datetime) -> set[int]:
    dialect = connection.dialect
    rows = [(row.id, message.provider_message_id, message.thread_id,
             _sent_id(row, message) if _sent_id(row, message) != row.message_id else None) for row, message in sent]
    return set(connection.execute(_statements(dialect.name)[0], {
        "b_worker": worker_id, "b_now": now, **rows_params(dialect, "marks", _MARKS, rows)}).scalars())


def _advance(connection: Connection, rows: list[SentRow], results: dict[int, Sent], step_counts: dict[int, int],
             now: datetime) -> dict[int, str]:
    """One guarded UPDATE for every enrollment whose step went out; returns enrollment id → new status
    for those that advanced. Everything is computed from the row as it is when the UPDATE runs."""
    dialect = connection.dialect
    data = [(row.enrollment_id, row.step_position, int(row.step_position >= step_counts[row.sequence_id]),
             results[row.id].message.thread_id, _sent_id(row, results[row.id].message), results[row.id].subject,
             now.astimezone(ZoneInfo(row.timezone)).time().replace(microsecond=0)) for row in rows]
    return dict(connection.execute(_statements(dialect.name)[1], {
        "b_now": now, **rows_params(dialect, "advances", _ADVANCES, data)}).all())


def _plan_follow_ups(session: Session, follow_ups: list[tuple[int, int]], planner: Planner) -> None:
    """The ORM planner, fed enrollments (with campaign, candidate and addresses) in three queries."""
    session.expire_all()  # the Core updates above changed rows this session may hold
    enrollments = {e.id: e for e in session.scalars(
        select(Enrollment).where(Enrollment.id.in_([e for e, _ in follow_ups])).options(
            selectinload(Enrollment.campaign).selectinload(Campaign.mailbox),
            selectinload(Enrollment.candidate).selectinload(Candidate.addresses)))}
    for enrollment_id, position in follow_ups:
        planner.plan(enrollments[enrollment_id], position)
    session.flush()
