"""OAuth sign-ins in progress: single-use, expiring after 10 minutes, bound to the Slack team and
user who asked and, once started, to the browser that started it (a cookie). A forged, expired,
reused or stolen state is refused; only hashes of the state and the browser secret are stored."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.crypto import CredentialCipher
from bot.errors import UserError
from bot.models import OAuthState, Provider, User

STATE_TTL = timedelta(minutes=10)
TRY_AGAIN = "Start again from Slack with `/outreach connect`."


class StateRefused(UserError):
    """The sign-in link or callback cannot be used; the message says why and what to do."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_browser_secret() -> str:
    return secrets.token_urlsafe(32)


def new_state(session: Session, *, user: User, provider: Provider, enhanced: bool, clock: Clock) -> str:
    """A state for a sign-in link shown to `user`; forgets states that ended a day ago."""
    now = clock.now()
    session.execute(delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1)))
    token = secrets.token_urlsafe(32)
    session.add(OAuthState(state_hash=_hash(token), provider=provider, organisation_id=user.organisation_id,
                           user_id=user.id, enhanced=enhanced, created_at=now, expires_at=now + STATE_TTL))
    session.flush()
    return token


def _find(session: Session, token: str, provider: Provider) -> OAuthState:
    row = session.scalar(select(OAuthState).where(OAuthState.state_hash == _hash(token or "")))
    if row is None or row.provider != provider:
        raise StateRefused(f"This sign-in link is not valid. {TRY_AGAIN}")
    return row


def peek(session: Session, *, token: str, provider: Provider, clock: Clock) -> OAuthState:
    """The state a link names, if it may still be started (read before asking the provider what to
    request, so a stale or reopened link is refused without a call to the provider)."""
    row = _find(session, token, provider)
    if row.expires_at <= clock.now():
        raise StateRefused(f"This sign-in link expired (links last 10 minutes). {TRY_AGAIN}")
    if row.started_at is not None:
        raise StateRefused(f"This sign-in link was already opened. {TRY_AGAIN}")
    return row


def start(session: Session, *, token: str, provider: Provider, browser_secret: str, flow: dict[str, Any],
          cipher: CredentialCipher, clock: Clock) -> None:
    """The browser opened the link: bind the state to it and keep the flow (PKCE verifier) encrypted.
    A link opens once: a second opening (another browser, a forwarded link) is refused, also when two
    openings race past `peek`."""
    row = peek(session, token=token, provider=provider, clock=clock)
    taken = session.execute(
        update(OAuthState).where(OAuthState.id == row.id, OAuthState.started_at.is_(None))
        .values(started_at=clock.now(), browser_hash=_hash(browser_secret),
                flow=cipher.encrypt(json.dumps(flow).encode()))
        .returning(OAuthState.id)).first()
    if taken is None:
        raise StateRefused(f"This sign-in link was already opened. {TRY_AGAIN}")


@dataclass(frozen=True)
class Finished:
    user_id: int
    organisation_id: int
    enhanced: bool
    flow: dict[str, Any]


def finish(session: Session, *, token: str, provider: Provider, browser_secret: str | None,
           cipher: CredentialCipher, clock: Clock) -> Finished:
    """The provider sent the browser back: use the state once, only from the browser that started it."""
    row = _find(session, token, provider)
    now = clock.now()
    if row.used_at is not None:
        raise StateRefused(f"This sign-in was already completed or refused. {TRY_AGAIN}")
    if row.expires_at <= now:
        raise StateRefused(f"This sign-in took longer than 10 minutes. {TRY_AGAIN}")
    if row.started_at is None or row.flow is None or not browser_secret or row.browser_hash != _hash(browser_secret):
        raise StateRefused("This sign-in was started in another browser or by another person, so it cannot be "
                           f"finished here. {TRY_AGAIN}")
    used = session.execute(update(OAuthState).where(OAuthState.id == row.id, OAuthState.used_at.is_(None))
                           .values(used_at=now).returning(OAuthState.id)).first()
    if used is None:  # a concurrent callback with the same state won
        raise StateRefused(f"This sign-in was already completed. {TRY_AGAIN}")
    return Finished(row.user_id, row.organisation_id, row.enhanced, json.loads(cipher.decrypt(row.flow)))
