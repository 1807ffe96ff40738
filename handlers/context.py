"""What every listener needs: who is asking, resolved to our User row."""
from __future__ import annotations

from slack_bolt import BoltContext
from sqlalchemy.orm import Session

from bot.errors import UserError

from bot.models import User
from bot.runtime import Runtime
from bot.services.directory import Profile, ensure_user, find_user
from handlers.slack import NotAPerson, Slack


def current_user(session: Session, runtime: Runtime, context: BoltContext, slack: Slack,
                 *, refresh: bool = False) -> User:
    """Our row for the Slack user behind this request; their profile (time zone above all) is read
    from users.info on first contact, and again when `refresh` is set (App Home opens)."""
    team_id, user_id = context.team_id or "", context.user_id or ""
    user = None if refresh else find_user(session, slack_team_id=team_id, slack_user_id=user_id)
    if user is None:
        user = ensure_user(session, slack_team_id=team_id, profile=slack.profile(user_id), clock=runtime.clock)
    return user


MENTION_PROBLEMS = {
    "unknown": "Slack knows no one in this workspace by that mention ({id}): pick {whom} from the list Slack shows "
               "as you type @.",
    "deactivated": "{name}'s Slack account is deactivated: mention {whom} who is still in the workspace.",
    "app": "{name} is an app, not a person: mention {whom}.",
}


def mentioned_person(slack: Slack, slack_user_id: str, *, whom: str) -> Profile:
    """The profile of someone a command mentions, or a UserError saying what to fix (`whom`: "your
    hiring manager", "a teammate"): Slack does not know them, their account is deactivated, or an app."""
    try:
        return slack.person(slack_user_id)
    except NotAPerson as exc:
        raise UserError(MENTION_PROBLEMS[exc.why].format(
            id=exc.user_id, name=exc.name or f"<@{exc.user_id}>", whom=whom)) from None
