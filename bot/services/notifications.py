"""Notices for people, kept in an outbox table and delivered to Slack by the serving process."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import ChannelAlert, Notification, User


def notify(session: Session, *, user: User, kind: str, text: str, dedupe_key: str, clock: Clock,
           action: str | None = None, action_value: str | None = None, thread_of: str | None = None) -> bool:
    """Queue a notice unless one with the same key exists ("tell once"). Returns whether queued.
    `action` names the button the notice carries (handlers.notices draws it); `thread_of` the
    dedupe key of an earlier notice whose DM thread this one answers in.
    Runs inside the caller's transaction, so the notice exists exactly when what caused it does."""
    if session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)) is not None:
        return False
    try:
        with session.begin_nested():  # another worker may queue the same notice at the same moment
            session.add(Notification(organisation_id=user.organisation_id, user_id=user.id, kind=kind,
                                     text=text, dedupe_key=dedupe_key, created_at=clock.now(), action=action,
                                     action_value=action_value, thread_of=thread_of))
    except IntegrityError:
        return False
    return True


# ---- delivery: claim in one short write, Slack outside any transaction, record in another -------
LEASE = timedelta(minutes=10)  # longer than a batch takes, 429s waited out included
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ClaimedNotice:
    """A notice claimed for delivery, with what posting it needs (read in the claim)."""

    id: int
    slack_user_id: str
    text: str
    action: str | None
    action_value: str | None
    dedupe_key: str
    thread_of: str | None
    parent: tuple[str, str] | None  # (channel, ts) of the notice it answers, when already delivered


def _first_of_each(rows: list[tuple[int, int]], earliest: dict[int, list[int]]) -> set[int]:
    """Of the rows locked here (id, owner), those that lead their owner's queue: each owner's
    undelivered rows in id order up to the first one not locked here (another run holds it), so an
    owner's rows are delivered in order even when two runs claim at once."""
    mine, kept = {row_id for row_id, _ in rows}, set()
    for ids in earliest.values():
        for row_id in ids:
            if row_id not in mine:
                break
            kept.add(row_id)
    return kept


def claim_notices(session: Session, *, clock: Clock, claimant: str, limit: int = 20,
                  lease: timedelta = LEASE) -> list[ClaimedNotice]:
    """Claim up to `limit` undelivered notices nobody holds (or whose holder's lease expired), in
    order per person. FOR UPDATE SKIP LOCKED on PostgreSQL keeps two claims apart; on SQLite the
    claim's write transaction does."""
    now = clock.now()
    free = or_(Notification.lease_expires_at.is_(None), Notification.lease_expires_at <= now)
    rows = [(n.id, n.user_id) for n in session.scalars(
        select(Notification).where(Notification.delivered_at.is_(None), free).order_by(Notification.id)
        .limit(limit).with_for_update(skip_locked=True))]
    if not rows:
        return []
    earliest: dict[int, list[int]] = {}
    for row_id, user_id in session.execute(
            select(Notification.id, Notification.user_id).where(
                Notification.delivered_at.is_(None), Notification.user_id.in_({u for _, u in rows}),
                Notification.id <= max(i for i, _ in rows)).order_by(Notification.id)):
        earliest.setdefault(user_id, []).append(row_id)
    kept = sorted(_first_of_each(rows, earliest))
    session.execute(update(Notification).where(Notification.id.in_(kept)).values(
        claimed_by=claimant, lease_expires_at=now + lease))
    notices = session.execute(select(Notification, User.slack_user_id).join(User, User.id == Notification.user_id)
                              .where(Notification.id.in_(kept)).order_by(Notification.id)).all()
    parents = {n.dedupe_key: (n.channel, n.ts) for n in session.scalars(select(Notification).where(
        Notification.dedupe_key.in_({n.thread_of for n, _ in notices if n.thread_of}),
        Notification.ts.is_not(None)))}
    return [ClaimedNotice(n.id, slack_id, n.text, n.action, n.action_value, n.dedupe_key, n.thread_of,
                          parents.get(n.thread_of) if n.thread_of else None)  # type: ignore[arg-type]
            for n, slack_id in notices]


def record_delivered(session: Session, *, notice_id: int, channel: str, ts: str, clock: Clock) -> None:
    session.execute(update(Notification).where(Notification.id == notice_id, Notification.delivered_at.is_(None))
                    .values(delivered_at=clock.now(), channel=channel, ts=ts, claimed_by=None, lease_expires_at=None))


def record_refused(session: Session, *, notice_id: int, claimant: str, clock: Clock) -> None:
    """Slack refused it: tried again on a later run, a few times, then given up (the log keeps why)."""
    session.execute(update(Notification).where(Notification.id == notice_id, Notification.claimed_by == claimant)
                    .values(attempts=Notification.attempts + 1, claimed_by=None, lease_expires_at=None))
    session.execute(update(Notification).where(Notification.id == notice_id, Notification.delivered_at.is_(None),
                                               Notification.attempts >= MAX_ATTEMPTS)
                    .values(delivered_at=clock.now()))


ALERTS_PER_MESSAGE = 20


@dataclass(frozen=True)
class ClaimedAlerts:
    channel: str
    ids: list[int]
    texts: list[str]


def claim_channel_alerts(session: Session, *, clock: Clock, claimant: str, lease: timedelta = LEASE,
                         per_message: int = ALERTS_PER_MESSAGE) -> list[ClaimedAlerts]:
    """Each channel's oldest waiting alerts (up to one message's worth), claimed like notices:
    in order per channel, never by two runs."""
    now = clock.now()
    free = or_(ChannelAlert.lease_expires_at.is_(None), ChannelAlert.lease_expires_at <= now)
    rows = [(a.id, a.channel_id) for a in session.scalars(
        select(ChannelAlert).where(ChannelAlert.delivered_at.is_(None), free).order_by(ChannelAlert.id)
        .limit(500).with_for_update(skip_locked=True))]
    if not rows:
        return []
    earliest: dict[str, list[int]] = {}
    for row_id, channel in session.execute(
            select(ChannelAlert.id, ChannelAlert.channel_id).where(
                ChannelAlert.delivered_at.is_(None), ChannelAlert.channel_id.in_({c for _, c in rows}),
                ChannelAlert.id <= max(i for i, _ in rows)).order_by(ChannelAlert.id)):
        earliest.setdefault(channel, []).append(row_id)  # type: ignore[arg-type]
    kept = _first_of_each(rows, earliest)  # type: ignore[arg-type]
    batches: dict[str, list[int]] = {}
    for row_id, channel in rows:
        if row_id in kept and len(batches.setdefault(channel, [])) < per_message:
            batches[channel].append(row_id)
    ids = [i for batch in batches.values() for i in batch]
    session.execute(update(ChannelAlert).where(ChannelAlert.id.in_(ids)).values(
        claimed_by=claimant, lease_expires_at=now + lease))
    texts = dict(session.execute(select(ChannelAlert.id, ChannelAlert.text).where(ChannelAlert.id.in_(ids))).all())
    return [ClaimedAlerts(channel, batch, [texts[i] for i in batch]) for channel, batch in batches.items() if batch]


def record_alerts(session: Session, *, ids: list[int], posted: bool, claimant: str, clock: Clock) -> None:
    """Posted: delivered. Refused: released to be tried again, a few times (the bot left the channel, say)."""
    if posted:
        session.execute(update(ChannelAlert).where(ChannelAlert.id.in_(ids), ChannelAlert.delivered_at.is_(None))
                        .values(delivered_at=clock.now(), claimed_by=None, lease_expires_at=None))
        return
    session.execute(update(ChannelAlert).where(ChannelAlert.id.in_(ids), ChannelAlert.claimed_by == claimant)
                    .values(attempts=ChannelAlert.attempts + 1, claimed_by=None, lease_expires_at=None))
    session.execute(update(ChannelAlert).where(ChannelAlert.id.in_(ids), ChannelAlert.delivered_at.is_(None),
                                               ChannelAlert.attempts >= MAX_ATTEMPTS).values(delivered_at=clock.now()))


def posted_notices(session: Session, *, dedupe_keys: list[str]) -> list[tuple[str | None, str | None, str]]:
    """(channel, ts, text) of the notices with these keys that were posted (a ts recorded): the DMs
    a later change edits in place."""
    return [(n.channel, n.ts, n.text) for n in session.scalars(
        select(Notification).where(Notification.dedupe_key.in_(dedupe_keys), Notification.ts.is_not(None)))]
