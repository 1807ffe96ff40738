"""What every listener needs: who is asking, resolved to our User row."""
from __future__ import annotations

from slack_bolt import BoltContext
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.errors import UserError

from bot.models import User
from bot.runtime import Runtime
from bot.services.directory import Profile, ensure_user, find_user
from handlers.slack import Slack


def current_user(session: Session, runtime: Runtime, context: BoltContext, slack: Slack,
                 *, refresh: bool = False) -> User:
    """Our row for the Slack user behind this request; their profile (time zone above all) is read
    from users.info on first contact, and again when `refresh` is set (App Home opens)."""
    team_id, user_id = context.team_id or "", context.user_id or ""
    user = None if refresh else find_user(session, slack_team_id=team_id, slack_user_id=user_id)
    if user is None:
        user = ensure_user(session, slack_team_id=team_id, profile=slack.profile(user_id), clock=runtime.clock)
    return user


def mentioned_person(slack: Slack, slack_user_id: str) -> Profile:
    """The profile of someone mentioned in a command, or a UserError that says what to fix: Slack
    answers user_not_found for an id it does not know; a bot or a deactivated account is no teammate."""
    try:
        profile = slack.profile(slack_user_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("user_not_found", "users_not_found"):
            raise UserError("Slack does not know that person: pick them from the list Slack shows as you "
                            "type @.") from None
        raise
    if not profile.is_person:
        raise UserError("That is an app or a deactivated account: mention a person of this workspace.")
    return profile
