"""Notices for people, kept in an outbox table and delivered to Slack by the serving process."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import Notification, User


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


def undelivered(session: Session, limit: int = 20) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.delivered_at.is_(None)).order_by(Notification.id).limit(limit)
        .with_for_update(skip_locked=True)))
