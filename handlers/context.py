"""What every listener needs: who is asking, resolved to our User row."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import BoltContext
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.errors import UserError

from bot.models import User
from bot.runtime import Runtime
from bot.services.directory import Profile, ensure_user, find_user
from handlers.commands import CommandRouter
from handlers.slack import NotAPerson, Slack


RUNTIME = "runtime"  # the Bolt context key: the Runtime, put there by runtime_middleware
ACTING_USER = "acting_user_id"  # the Bolt context key: our User row's id for who is asking
_ACTING_USER_ERROR = "acting_user_error"  # what users.info answered when it failed, raised where the user is needed

# When acting() reads the asker's profile from Slack again, not only on first contact: where
# what we keep of it must be fresh. App Home opens (the Home tab shows their name and mailboxes);
# `/outreach campaign new` (their Slack time zone now); `preview` (their email as Slack has it now);
# `admin …`, `dnc remove` and `stats` (whether they are an admin now). These are the listeners that said `refresh=True`.
REFRESH_COMMANDS = frozenset({"campaign new", "preview", "admin", "admin campaigns", "admin holidays",
                              "admin protection", "admin tracking", "dnc remove", "stats"})
REFRESH_EVENTS = frozenset({"app_home_opened"})
# Sub-commands that never need to know who asks (so a first `/outreach help` creates nobody).
ANONYMOUS_COMMANDS = frozenset({"help", "campaign"})  # "campaign" alone lists the campaign commands
# Requests whose user is the person acting (events are chosen one by one in _wants).
ACTING_TYPES = frozenset({"block_actions", "block_suggestion", "view_submission", "view_closed", "shortcut",
                          "message_action"})


def runtime_middleware(runtime: Runtime) -> Callable[..., None]:
    """A Bolt global middleware: the runtime reaches every listener as context["runtime"], so
    listeners are module-level functions (runtime_of(context)) rather than closures over it."""
    def middleware(context: BoltContext, next: Callable[[], None]) -> None:
        context[RUNTIME] = runtime
        next()
    return middleware


def runtime_of(context: BoltContext) -> Runtime:
    """The runtime runtime_middleware put into this request's context."""
    runtime: Runtime = context[RUNTIME]
    return runtime


def _wants(body: dict[str, Any], context: BoltContext, router: CommandRouter) -> str | None:
    """"refresh", "find" (Slack only on first contact), or None (this request needs nobody)."""
    if not context.user_id:
        return None
    if body.get("command"):
        sub, _, _ = router.resolve(str(body.get("text") or ""))
        if sub is None or sub.name in ANONYMOUS_COMMANDS:
            return None
        return "refresh" if sub.name in REFRESH_COMMANDS else "find"
    if body.get("type") in ACTING_TYPES:
        return "find"
    event = body.get("event") or {}
    if event.get("type") in REFRESH_EVENTS:
        return "refresh" if event.get("tab") == "home" else None
    if event.get("type") == "file_shared":  # a CSV in the person's own DM with the bot
        return "find" if str(event.get("channel_id", "")).startswith("D") and event.get("user_id") == context.user_id \
            else None
    return None


def resolve_acting_user(runtime: Runtime, *, slack: Slack, team_id: str, slack_user_id: str, refresh: bool) -> int:
    """Our User row's id for a Slack user: read in a short read transaction; on first contact (or
    when a refresh is wanted) their profile comes from users.info outside any transaction and is
    kept in a short write. No Slack call is ever made inside a write."""
    if not refresh:
        with transaction(runtime.sessions) as session:
            user = find_user(session, slack_team_id=team_id, slack_user_id=slack_user_id)
            if user is not None:
                return user.id
    profile = slack.profile(slack_user_id)
    with transaction(runtime.sessions, write=True) as session:
        return ensure_user(session, slack_team_id=team_id, profile=profile, clock=runtime.clock).id


_WANTED = "acting_user_wanted"  # the Bolt context key: what acting() must resolve ("find" / "refresh")


def acting_user_middleware(runtime: Runtime, router: CommandRouter) -> Callable[..., None]:
    """A Bolt global middleware: it only notes whether this request needs the person acting, and
    how fresh (_wants). Middleware runs before Bolt acknowledges, so it reads no database and calls
    no Slack: acting() resolves the person (resolve_acting_user) when the listener first needs them,
    after its ack and outside any transaction, so listeners' transactions only read the row."""
    def middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
        wants = _wants(body, context, router)
        if wants is not None:
            context[_WANTED] = wants
        next()
    return middleware


def resolve_wanted(context: BoltContext) -> None:
    """Resolve the acting user the middleware noted, once per request: context["acting_user_id"],
    or the users.info failure, kept and raised where the user is needed (current_user)."""
    wants = context.get(_WANTED)
    if wants is None or context.get(ACTING_USER) is not None or context.get(_ACTING_USER_ERROR) is not None:
        return
    try:
        context[ACTING_USER] = resolve_acting_user(
            runtime_of(context), slack=Slack(context.client), team_id=context.team_id or "",
            slack_user_id=context.user_id or "", refresh=wants == "refresh")
    except SlackApiError as error:
        context[_ACTING_USER_ERROR] = error


def current_user(session: Session, runtime: Runtime, context: BoltContext, slack: Slack,
                 *, refresh: bool = False) -> User:
    """Our row for the Slack user behind this request, as the middleware resolved it (its profile,
    time zone above all, read from users.info on first contact and, for the requests in
    REFRESH_COMMANDS / REFRESH_EVENTS, again). `refresh=True` at a call site documents that the
    request is one of those; the middleware's tables decide. No Slack call here: the caller may
    hold a write transaction. Without the middleware (a request it does not resolve for), the row
    is looked up, and only then, on first contact, is Slack asked."""
    error = context.get(_ACTING_USER_ERROR)
    if error is not None:
        raise error
    acting = context.get(ACTING_USER)
    user = session.get(User, acting) if acting is not None else None
    if user is not None:
        return user
    team_id, user_id = context.team_id or "", context.user_id or ""
    user = find_user(session, slack_team_id=team_id, slack_user_id=user_id)
    if user is None:
        user = ensure_user(session, slack_team_id=team_id, profile=slack.profile(user_id), clock=runtime.clock)
    return user


@contextmanager
def acting(context: BoltContext, *, write: bool = False, refresh: bool = False) -> Iterator[tuple[Session, User]]:
    """The listener's prologue: a transaction (a write one when `write`) and the acting user in it
    (current_user; `refresh` as there). Make no Slack call inside a write: leave the block first."""
    runtime = runtime_of(context)
    resolve_wanted(context)  # Slack, if it must be asked, before the transaction opens
    with transaction(runtime.sessions, write=write) as session:
        yield session, current_user(session, runtime, context, Slack(context.client), refresh=refresh)


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
