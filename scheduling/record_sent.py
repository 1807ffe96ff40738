"""Recording sends that went out: the common outcome, so it runs on SQLAlchemy Core with bulk
statements built from plain tuples (the ORM's per-object bookkeeping was most of a send's cost).
Planning each next step still goes through the Planner, for the enrollments that have one."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
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
from providers.base import SentMessage
from scheduling.claims import SENDABLE_ENROLLMENT
from scheduling.planner import Planner

O, E = OutboundMessage.__table__, Enrollment.__table__
SENDS = {s.value for s in SENDABLE_ENROLLMENT}

_MARK_SENT = (update(O).where(O.c.id == bindparam("b_id"), O.c.status == OutboundStatus.SENDING.value,
                             O.c.claimed_by == bindparam("b_worker"))
              .values(status=OutboundStatus.SENT.value, sent_at=bindparam("b_now"), error=None, claimed_by=None,
                      lease_expires_at=None, provider_message_id=bindparam("b_pid"),
                      provider_thread_id=bindparam("b_tid"), sent_message_id=bindparam("b_smid")))
_ADVANCE = (update(E).where(E.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), steps_sent=bindparam("b_steps"), thread_id=bindparam("b_thread"),
                    thread_references=bindparam("b_refs"), first_send_local=bindparam("b_first"),
                    last_sent_at=bindparam("b_last"), ended_at=bindparam("b_ended")))


@dataclass(frozen=True)
class _Row:
    id: int
    enrollment_id: int
    step_position: int
    message_id: str
    mailbox_id: int
    enrollment_status: str
    steps_sent: int
    thread_id: str | None
    thread_references: str | None
    first_send_local: Any
    campaign_id: int
    campaign_status: str
    sequence_id: int
    timezone: str


def record_sent(session: Session, sent: Sequence[tuple[int, SentMessage]], *, worker_id: str, now: datetime,
                planner: Planner) -> set[int]:
    """Mark rows sent, advance their enrollments, plan next steps. Returns the campaigns in which an
    enrollment ended (they may now be finished). Rows no longer ours are left alone."""
    results = dict(sent)
    rows = [_Row(*r) for r in session.execute(
        select(O.c.id, O.c.enrollment_id, O.c.step_position, O.c.message_id, O.c.mailbox_id, E.c.status,
               E.c.steps_sent, E.c.thread_id, E.c.thread_references, E.c.first_send_local, E.c.campaign_id,
               Campaign.status, Campaign.sequence_id, Campaign.timezone)
        .join(E, E.c.id == O.c.enrollment_id).join(Campaign, Campaign.id == E.c.campaign_id)
        .where(O.c.id.in_(results), O.c.status == OutboundStatus.SENDING.value, O.c.claimed_by == worker_id))]
    if not rows:
        return set()
    connection = session.connection()
    connection.execute(_MARK_SENT, [{"b_id": r.id, "b_now": now, "b_pid": results[r.id].provider_message_id,
                                     "b_tid": results[r.id].thread_id, "b_worker": worker_id,
                                     # the provider's own Message-ID, where it is not ours (Exchange may assign one)
                                     "b_smid": results[r.id].message_id if results[r.id].message_id != r.message_id
                                     else None} for r in rows])
    step_counts = dict(session.execute(
        select(SequenceStep.sequence_id, func.count()).where(SequenceStep.sequence_id.in_({r.sequence_id for r in rows}))
        .group_by(SequenceStep.sequence_id)).all())
    advances, follow_ups, ended = [], [], set()
    for row in rows:
        if row.enrollment_status not in SENDS:
            continue  # replied or paused while this send was under way: record it, plan nothing
        last = row.step_position >= step_counts[row.sequence_id]
        first_local = row.first_send_local or now.astimezone(ZoneInfo(row.timezone)).time().replace(microsecond=0)
        advances.append({
            "b_id": row.enrollment_id, "b_steps": max(row.steps_sent, row.step_position),
            "b_status": EnrollmentStatus.FINISHED.value if last else EnrollmentStatus.IN_PROGRESS.value
            if row.enrollment_status == EnrollmentStatus.NOT_STARTED.value else row.enrollment_status,
            "b_thread": row.thread_id or results[row.id].thread_id,
            "b_refs": " ".join([*(row.thread_references or "").split(), row.message_id]),
            "b_first": first_local, "b_last": now, "b_ended": now if last else None,
        })
        if last:
            ended.add(row.campaign_id)
        else:
            follow_ups.append((row.enrollment_id, row.step_position + 1))
    if advances:
        connection.execute(_ADVANCE, advances)
    session.execute(update(Mailbox).where(Mailbox.id.in_({r.mailbox_id for r in rows})).values(last_send_at=now))
    session.execute(update(Campaign).where(Campaign.id.in_({r.campaign_id for r in rows}),
                                           Campaign.status == CampaignStatus.SCHEDULED)
                    .values(status=CampaignStatus.ACTIVE))
    if follow_ups:
        _plan_follow_ups(session, follow_ups, planner)
    return ended


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
