"""Organisations (Slack teams) and their users."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import Organisation, User
from bot.services.addresses import control_problem


@dataclass(frozen=True)
class Profile:
    """What we keep of a Slack user: read from users.info by the Slack layer."""

    slack_user_id: str
    name: str = ""
    email: str | None = None
    tz: str = "UTC"
    is_admin: bool = False
    is_person: bool = True  # not a bot, an app or a deactivated account


def ensure_organisation(session: Session, *, slack_team_id: str, name: str = "", clock: Clock) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slack_team_id == slack_team_id))
    if org is None:
        org = Organisation(slack_team_id=slack_team_id, name=name, created_at=clock.now())
        session.add(org)
        session.flush()
    return org


def find_user(session: Session, *, slack_team_id: str, slack_user_id: str) -> User | None:
    return session.scalar(
        select(User)
        .join(Organisation)
        .where(Organisation.slack_team_id == slack_team_id, User.slack_user_id == slack_user_id)
    )


def ensure_user(session: Session, *, slack_team_id: str, profile: Profile, clock: Clock) -> User:
    """The user for a Slack id, created on first contact and kept in step with their profile."""
    org = ensure_organisation(session, slack_team_id=slack_team_id, clock=clock)
    user = session.scalar(
        select(User).where(User.organisation_id == org.id, User.slack_user_id == profile.slack_user_id)
    )
    if user is None:
        user = User(organisation_id=org.id, slack_user_id=profile.slack_user_id, created_at=clock.now())
        session.add(user)
    # The name is the From name of every email sent from the user's mailbox: Slack's own, so not refused,
    # but a line break or control character in it is dropped (it would break the From header). The email
    # is kept as Slack has it and checked where it is used (the preview address).
    name = "".join(c for c in " ".join(profile.name.split()) if not control_problem(c))
    user.name, user.email, user.tz, user.is_admin = name, profile.email, profile.tz, profile.is_admin
    session.flush()
    return user
