"""One-off emails and previews (queued by bot.services.direct_send as outbound rows with no
enrollment): claimed, composed from their stored subject and body, and (by the dispatcher) sent
once and recorded, as campaign steps are.

The claim takes rows that are pending and due (`transitions.claimable`) and may go out
(`claims.one_off_may_send`: mailbox connected, the sender may still use it, the preview step before
it sent), from mailboxes not held past their spacing (a provider's Retry-After). There is no
spacing or cap quota here: the rows were counted against the cap when they were written.

| the row | when | what then |
|---|---|---|
| pending, its mailbox held | longer than HOLD_LIMIT after it was queued | cancelled, its count given back, the sender told |
| sending, its worker gone | the lease ends | dispatcher.reconcile looks it up by Message-ID, whatever its kind |
| pending, its worker gone | the next tick | run_once's one-off claim takes it |
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bot.clock import Clock
from bot.models import Mailbox, OutboundKind, OutboundMessage, OutboundStatus, User
from bot.services import send_counts, transitions
from bot.services.direct_send import settled_text
from bot.services.notifications import notify
from providers.base import OutgoingEmail
from scheduling.claims import one_off_may_send

O, M = OutboundMessage, Mailbox
ONE_OFF_KINDS = [OutboundKind.ONE_OFF, OutboundKind.PREVIEW]
HOLD_LIMIT = timedelta(minutes=10)  # a one-off is sent now or not at all: after this it is cancelled


def claim(session: Session, *, now: datetime, worker_id: str, lease: timedelta, ids: Collection[int] | None = None,
          limit: int = 100) -> dict[int, list[int]]:
    """pending → sending for one-off and preview rows that may go out now (only `ids`, when given:
    a command's own rows, for which it waits for the mailbox's lock; run_once, whose transaction
    already holds the campaign claim's mailbox locks, skips a mailbox another worker holds).
    Returns mailbox id → the row ids claimed, in order."""
    due = select(O.id, O.mailbox_id).where(O.kind.in_(ONE_OFF_KINDS), O.status == OutboundStatus.PENDING,
                                           O.due_at <= now)
    if ids is not None:
        due = due.where(O.id.in_(list(ids)))
    found = session.execute(due.order_by(O.id).limit(limit)).all()
    if not found:
        return {}
    mailboxes = session.execute(
        select(M.id, M.not_before, M.min_spacing_seconds).where(M.id.in_({m for _, m in found})).order_by(M.id)
        .with_for_update(of=M, skip_locked=ids is None)).all()  # as the campaign claim locks them (PostgreSQL)
    open_ = {m for m, not_before, spacing in mailboxes
             if not_before is None or not_before <= now + timedelta(seconds=spacing)}
    chosen = [row_id for row_id, mailbox_id in found if mailbox_id in open_]
    if not chosen:
        return {}
    picked = (select(O.id).where(O.id.in_(chosen), transitions.claimable(now), one_off_may_send())
              .with_for_update(of=O, skip_locked=True).correlate(None).scalar_subquery())
    taken = session.execute(transitions.claim_rows(picked, worker=worker_id, lease_until=now + lease, now=now)
                            .returning(O.id, O.mailbox_id)).all()
    rows: dict[int, list[int]] = {}
    for row_id, mailbox_id in sorted(taken):
        rows.setdefault(mailbox_id, []).append(row_id)
    return rows


def expire(session: Session, *, now: datetime, clock: Clock) -> int:
    """One-offs still pending HOLD_LIMIT after they were queued (their mailbox held all that while)
    are cancelled, their count given back, and their senders told."""
    gone = transitions.expire_one_offs(session, created_before=now - HOLD_LIMIT)
    if not gone:
        return 0
    send_counts.give_back(session, [(mailbox_id, created_at) for _, mailbox_id, created_at, *_ in gone])
    for row_id, mailbox_id, *_ in gone:
        row, mailbox = session.get(O, row_id), session.get(M, mailbox_id)
        sender = session.get(User, row.sender_id) if row is not None else None
        if row is None or mailbox is None or sender is None or row.follows_id is not None:
            continue  # a preview is told about once, at its first step
        notify(session, user=sender, kind="one_off_settled", clock=clock, dedupe_key=f"one_off:{row.id}",
               text=settled_text(row, mailbox))
    return len(gone)


def load(session: Session, ids: Collection[int], now: datetime) -> list[tuple[int, int, OutgoingEmail]]:
    """(row id, mailbox id, email) for each claimed row, from its stored subject and body; a
    follow-up goes in the provider thread its previous step was sent in."""
    previous = aliased(OutboundMessage)
    rows = session.execute(
        select(O.id, O.mailbox_id, O.to_address, O.subject, O.body, O.message_id, O.in_reply_to, O.references,
               previous.provider_thread_id, M.address, User.name)
        .join(M, M.id == O.mailbox_id).join(User, User.id == M.owner_id)  # a manager's mailbox, in their name
        .outerjoin(previous, previous.id == O.follows_id)
        .where(O.id.in_(list(ids))).order_by(O.id)).all()
    return [(row_id, mailbox_id, OutgoingEmail(
        from_address=address, from_name=name or None, to_address=to_address, subject=subject or "", body=body or "",
        message_id=message_id, in_reply_to=in_reply_to, references=tuple((references or "").split()),
        thread_id=thread_id if in_reply_to else None, date=now))
        for (row_id, mailbox_id, to_address, subject, body, message_id, in_reply_to, references, thread_id,
             address, name) in rows]


def kinds(session: Session, ids: Collection[int]) -> set[int]:
    """Which of these rows are one-offs or preview steps."""
    return set(session.scalars(select(O.id).where(O.id.in_(list(ids)), O.kind.in_(ONE_OFF_KINDS))))
