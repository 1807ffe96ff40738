"""The claim: in one write transaction, pick due sends that may go out now and mark them `sending`.

PostgreSQL: mailboxes with due work are locked with FOR UPDATE SKIP LOCKED, so concurrent workers
split the mailboxes between them and one mailbox's limits are computed by one worker at a time.
SQLite: the transaction starts with BEGIN IMMEDIATE, so claims are serialised. In both, the UPDATE
that takes a row re-checks that the row is still pending and that its enrollment, campaign and
mailbox may still send: a reply recorded a moment earlier stops the send.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    OutboundStatus,
)
from scheduling.limits import DAY, Allowance, Usage, allowance

O, M = OutboundMessage, Mailbox
SENDABLE_ENROLLMENT = [s for s in EnrollmentStatus if s.sends]
SENDING_CAMPAIGN = [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]


def may_send():  # type: ignore[no-untyped-def]
    """The row's enrollment, campaign and mailbox still allow sending (correlated to O)."""
    return exists().where(
        Enrollment.id == O.enrollment_id,
        Enrollment.status.in_(SENDABLE_ENROLLMENT),
        Campaign.id == Enrollment.campaign_id,
        Campaign.status.in_(SENDING_CAMPAIGN),
        M.id == O.mailbox_id,
        M.status == MailboxStatus.CONNECTED,
    )


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return and_(O.status == OutboundStatus.PENDING, O.due_at <= now,
                or_(O.lease_expires_at.is_(None), O.lease_expires_at < now))


@dataclass(frozen=True)
class CapHit:
    mailbox_id: int
    reopens_at: datetime


@dataclass(frozen=True)
class Claim:
    rows: dict[int, list[int]]  # mailbox id → outbound ids now `sending`
    capped: list[CapHit]

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.rows.values())


def _usage(session: Session, mailbox_ids: Sequence[int], now: datetime) -> dict[int, Usage]:
    in_flight = dict(session.execute(
        select(O.mailbox_id, func.count()).where(
            O.mailbox_id.in_(mailbox_ids), O.status == OutboundStatus.SENDING, O.claimed_by.is_not(None))
        .group_by(O.mailbox_id)).all())
    window = {row[0]: (row[1], row[2]) for row in session.execute(
        select(O.mailbox_id, func.count(), func.min(O.attempted_at)).where(
            O.mailbox_id.in_(mailbox_ids), O.attempted_at > now - DAY,
            O.status.in_([OutboundStatus.SENT, OutboundStatus.SENDING]))
        .group_by(O.mailbox_id)).all()}
    return {m: Usage(in_flight.get(m, 0), *window.get(m, (0, None))) for m in mailbox_ids}


def claim(session: Session, *, now: datetime, worker_id: str, lease: timedelta, max_rows: int,
          max_mailboxes: int) -> Claim:
    mailboxes = session.execute(
        select(M.id, M.daily_cap, M.min_spacing_seconds, M.max_in_flight)
        .where(M.status == MailboxStatus.CONNECTED, or_(M.not_before.is_(None), M.not_before <= now),
               exists().where(O.mailbox_id == M.id, _due(now)))
        .order_by(M.last_send_at.is_not(None), M.last_send_at, M.id)  # least recently served first
        .limit(max_mailboxes)
        .with_for_update(of=M, skip_locked=True)  # ignored on SQLite, where BEGIN IMMEDIATE serialises
    ).all()
    if not mailboxes:
        return Claim({}, [])
    usage = _usage(session, [m.id for m in mailboxes], now)
    rows: dict[int, list[int]] = {}
    capped: list[CapHit] = []
    room = max_rows
    for mailbox in mailboxes:
        allowed: Allowance = allowance(
            daily_cap=mailbox.daily_cap, min_spacing_seconds=mailbox.min_spacing_seconds,
            max_in_flight=mailbox.max_in_flight, usage=usage[mailbox.id], now=now, room=room)
        if allowed.capped:
            capped.append(CapHit(mailbox.id, allowed.not_before))  # type: ignore[arg-type]
        taken: list[int] = []
        if allowed.quota:
            chosen = (select(O.id).where(O.mailbox_id == mailbox.id, _due(now), may_send())
                      .order_by(O.due_at, O.id).limit(allowed.quota).correlate(None).scalar_subquery())
            taken = list(session.scalars(
                update(O).where(O.id.in_(chosen), O.status == OutboundStatus.PENDING)
                .values(status=OutboundStatus.SENDING, claimed_by=worker_id, lease_expires_at=now + lease,
                        attempted_at=now, attempts=O.attempts + 1)
                .returning(O.id)).all())
        if taken:
            rows[mailbox.id] = sorted(taken)
            room -= len(taken)
        if allowed.not_before is not None and (taken or allowed.capped):
            session.execute(update(M).where(M.id == mailbox.id).values(not_before=allowed.not_before))
        if room <= 0:
            break
    return Claim(rows, capped)
