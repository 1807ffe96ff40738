"""What every listener needs: who is asking, resolved to our User row."""
from __future__ import annotations

from slack_bolt import BoltContext
from sqlalchemy.orm import Session

from bot.models import User
from bot.runtime import Runtime
from bot.services.directory import ensure_user, find_user
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
