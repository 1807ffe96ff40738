"""The claim: in one write transaction, pick due sends that may go out now and mark them `sending`.

PostgreSQL: mailboxes with due work are locked with FOR UPDATE SKIP LOCKED, so concurrent workers
split the mailboxes between them and one mailbox's limits are computed by one worker at a time.
SQLite: the transaction starts with BEGIN IMMEDIATE, so claims are serialised. In both, the UPDATE
that takes a row re-checks that the row is still pending and that its enrollment, campaign and
mailbox may still send: a reply recorded a moment earlier stops the send.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Dialect, Integer, and_, bindparam, exists, func, literal_column, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from bot.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    Mailbox,
    MailboxStatus,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
)
from bot.services.delegations import grants
from bot.services import send_counts, transitions
from bot.services.transitions import SENDS
from bot.rules.limits import Allowance, Usage, allowance
from scheduling.bulk_rows import Columns, rows_params, rows_table

O, M = OutboundMessage, Mailbox
SENDING_CAMPAIGN = [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]


def may_send():  # type: ignore[no-untyped-def]
    """The row's enrollment, campaign and mailbox still allow sending (correlated to O), and the
    campaign's owner may still send from the mailbox: theirs, or delegated and not revoked."""
    return exists().where(
        Enrollment.id == O.enrollment_id,
        Enrollment.status.in_(SENDS),
        Campaign.id == Enrollment.campaign_id,
        Campaign.status.in_(SENDING_CAMPAIGN),
        M.id == O.mailbox_id,
        M.status == MailboxStatus.CONNECTED,
        grants(M.owner_id, Campaign.owner_id, M.id, Campaign.id),
    )


def one_off_may_send():  # type: ignore[no-untyped-def]
    """A one-off or preview row (correlated to O) may go out: its mailbox is connected, its sender may
    still use it (theirs, or a delegation not revoked), and the preview step before it was sent. (No
    enrollment: `may_send` never takes these rows, so campaign claims and counts never see them.)"""
    previous = aliased(OutboundMessage)
    return and_(
        O.kind != OutboundKind.CAMPAIGN,
        exists().where(M.id == O.mailbox_id, M.status == MailboxStatus.CONNECTED,
                       grants(M.owner_id, O.sender_id, M.id, None)),
        or_(O.follows_id.is_(None), exists().where(previous.id == O.follows_id, previous.status == OutboundStatus.SENT)),
    )


_due = transitions.claimable


# SQLite takes each mailbox's rows in a statement of its own (no LATERAL), up to a hundred a claim:
# SQLAlchemy's work per execution cost about as much as SQLite's, so it is compiled once to SQL text
# with named placeholders (constants inlined) and run on the transaction's own DBAPI connection. The
# transition (pending → sending) is transitions.claim_rows; its guard is the locked subquery's `claimable`.
_TAKE_ONE = transitions.claim_rows(
    select(O.id).where(O.mailbox_id == literal_column(":b_mailbox"), _due(literal_column(":b_now")), may_send())
    .order_by(O.due_at, O.id).limit(literal_column(":b_quota"))
    .correlate(None).scalar_subquery(),
    worker=literal_column(":b_worker"), lease_until=literal_column(":b_lease_until"),
    now=literal_column(":b_now")).returning(O.id)


@functools.cache
def _take_one_sql(dialect: Dialect) -> tuple[str, Callable[[datetime], Any]]:
    """The statement as SQLite text, and how a moment is written for it (the column type's own form)."""
    text = str(_TAKE_ONE.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    moment = O.__table__.c.due_at.type.dialect_impl(dialect).bind_processor(dialect)
    return text, moment


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
    day = send_counts.last_day(session, mailbox_ids, now)
    return {m: Usage(in_flight.get(m, 0), day[m].sends, day[m].oldest_end) for m in mailbox_ids}


def release(session: Session, ids: Sequence[int], now: datetime, *, worker_id: str) -> None:
    """Claimed rows that may no longer go out, untouched by the provider, stop counting against the
    mailbox's cap. A candidate whose sequence ended meanwhile (a reply) has the row cancelled, as
    reply handling cancels planned ones, never pending again; otherwise (a pause, a revoke) it
    waits, pending, for a resume. Only rows still claimed by `worker_id` move (transitions.release)."""
    taken = transitions.release(session, ids, worker_id=worker_id)
    send_counts.give_back(session, [(mailbox_id, attempted_at or now) for mailbox_id, attempted_at in taken])


def _count_sends(session: Session, counts: dict[int, int], now: datetime) -> None:
    """Add this claim's sends to each mailbox's hour, in one statement; forget hours long past."""
    send_counts.add(session, counts, send_counts.hour_of(now))
    send_counts.forget_old(session, now)


def _take_each(session: Session, quotas: dict[int, int], *, now: datetime, worker_id: str, lease: timedelta,
               total: int) -> dict[int, list[int]]:
    """One statement per mailbox, in the order given, each an index range scan of at most its quota,
    until `total` rows are taken (SQLite)."""
    connection = session.connection()
    sql, moment = _take_one_sql(connection.dialect)
    cursor = connection.connection.cursor()  # the transaction's (BEGIN IMMEDIATE) connection
    params = {"b_now": moment(now), "b_worker": worker_id, "b_lease_until": moment(now + lease)}
    rows: dict[int, list[int]] = {}
    try:
        for mailbox_id, quota in quotas.items():
            cursor.execute(sql, {**params, "b_mailbox": mailbox_id, "b_quota": min(quota, total)})
            taken = [row[0] for row in cursor.fetchall()]
            if taken:
                rows[mailbox_id] = sorted(taken)
                total -= len(taken)
                if total <= 0:
                    break
    finally:
        cursor.close()
    return rows


_QUOTAS: Columns = [("b_mailbox", Integer()), ("b_quota", Integer())]
_NOW = bindparam("now", type_=O.__table__.c.due_at.type)


@functools.cache
def _take_all_statement() -> Any:
    """Built once (the quotas are one bound parameter, not a VALUES list that made a new statement to
    compile on every claim)."""
    quota = rows_table("postgresql", "quota", _QUOTAS)
    picked = (select(O.id).where(O.mailbox_id == quota.c.b_mailbox, _due(_NOW), may_send())
              .order_by(O.due_at, O.id).limit(quota.c.b_quota)
              .with_for_update(of=O, skip_locked=True).lateral("picked"))
    chosen = select(picked.c.id).select_from(quota).join(picked, true()).limit(bindparam("b_total", type_=Integer))
    return transitions.claim_rows(
        chosen.scalar_subquery(), worker=bindparam("b_worker"),
        lease_until=bindparam("b_lease_until", type_=O.__table__.c.due_at.type), now=_NOW).returning(O.id, O.mailbox_id)


def _take_all(session: Session, quotas: dict[int, int], *, now: datetime, worker_id: str, lease: timedelta,
              total: int) -> dict[int, list[int]]:
    """Every mailbox's quota in one statement (PostgreSQL): a LATERAL subquery per mailbox, in the
    order given, each locking at most its quota of rows with SKIP LOCKED, `total` rows in all. One
    round trip instead of one per mailbox."""
    connection = session.connection()
    taken = connection.execute(_take_all_statement(), {
        "now": now, "b_worker": worker_id, "b_lease_until": now + lease, "b_total": total,
        **rows_params(connection.dialect, "quota", _QUOTAS, list(quotas.items()))}).all()
    rows: dict[int, list[int]] = {}
    for row_id, mailbox_id in taken:
        rows.setdefault(mailbox_id, []).append(row_id)
    return {m: sorted(ids) for m, ids in rows.items()}


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
    # Each mailbox's own quota, though they add up to more than max_rows: a mailbox may have fewer
    # rows due than its quota, and the take stops at max_rows in this order (least recently served first).
    quotas: dict[int, int] = {}
    capped: list[CapHit] = []
    for mailbox in mailboxes:
        allowed: Allowance = allowance(
            daily_cap=mailbox.daily_cap, min_spacing_seconds=mailbox.min_spacing_seconds,
            max_in_flight=mailbox.max_in_flight, usage=usage[mailbox.id], now=now, room=max_rows)
        if allowed.capped:
            capped.append(CapHit(mailbox.id, allowed.not_before))  # type: ignore[arg-type]
            session.execute(update(M).where(M.id == mailbox.id).values(not_before=allowed.not_before,
                                                                        not_before_reason="daily_cap"))
        if allowed.quota:
            quotas[mailbox.id] = allowed.quota
    take = _take_all if session.get_bind().dialect.name == "postgresql" else _take_each
    rows = take(session, quotas, now=now, worker_id=worker_id, lease=lease, total=max_rows) if quotas else {}
    spacing = {m.id: m.min_spacing_seconds for m in mailboxes if m.id in rows and m.min_spacing_seconds}
    for mailbox_id, seconds in spacing.items():  # the next send from it waits its spacing
        session.execute(update(M).where(M.id == mailbox_id).values(not_before=now + timedelta(seconds=seconds),
                                                                   not_before_reason="spacing"))
    if rows:
        _count_sends(session, {m: len(ids) for m, ids in rows.items()}, now)
    return Claim(rows, capped)
