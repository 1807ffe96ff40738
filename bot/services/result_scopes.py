"""Whose results a person may see (`/outreach stats`): their own campaigns; a campaign they may see
(bot.services.access, Need.SEE: one they may not see is answered exactly as one that does not
exist); a teammate's campaigns or the whole team's, for workspace admins only (Slack's flag, read
fresh for the command). Results show counts and times, never a candidate or an address."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from bot.errors import NotFound, UserError
from bot.models import User
from bot.services import access
from bot.services.directory import find_user
from bot.services.result_periods import Period, parse_period, split_period
from bot.services.results import Results, StepResult, campaign_results, owner_results, recruiter_summaries, \
    team_results

ADMINS_ONLY = ("Only workspace admins and owners see a teammate's or the team's results. `/outreach stats` shows "
               "yours, `/outreach stats <campaign>` one you can see.")


def zone_of(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def own(session: Session, *, viewer: User, period: Period) -> Results:
    results = owner_results(session, viewer.id, since=period.since, until=period.until)
    return replace(results, scope="your campaigns")


def of_recruiter(session: Session, *, viewer: User, slack_team_id: str, slack_user_id: str,
                 period: Period) -> Results:
    """A recruiter's campaigns: the viewer's own, or, for an admin, anyone's in their workspace."""
    if slack_user_id == viewer.slack_user_id:
        return own(session, viewer=viewer, period=period)
    if not viewer.is_admin:
        raise UserError(ADMINS_ONLY)
    them = find_user(session, slack_team_id=slack_team_id, slack_user_id=slack_user_id)
    if them is None or them.organisation_id != viewer.organisation_id:  # never used the bot: nothing sent
        return Results(scope=f"<@{slack_user_id}>'s campaigns", since=period.since, until=period.until, steps=(),
                       total=StepResult(0, 0, 0, 0, 0))
    return owner_results(session, them.id, since=period.since, until=period.until)


def of_team(session: Session, *, viewer: User, period: Period) -> tuple[Results, list[tuple[str, StepResult]]]:
    """The organisation's results and each recruiter's total: admins only."""
    if not viewer.is_admin:
        raise UserError(ADMINS_ONLY)
    return (team_results(session, viewer.organisation_id, since=period.since, until=period.until),
            recruiter_summaries(session, viewer.organisation_id, since=period.since, until=period.until))


def of_campaign(session: Session, *, viewer: User, text: str, now: datetime) -> tuple[Results, Period]:
    """A campaign the viewer may see, named (or numbered) with an optional period after it. The whole
    text is tried as a name first, so "Hiring 2026-11" finds a campaign of that name."""
    name, words = split_period(text)
    seen = None
    if words:
        try:
            seen, words = access.find(session, user=viewer, name=text), ""
        except NotFound:
            pass
    period = parse_period(words, now=now, zone=zone_of(viewer))  # an unreadable period says so first
    if seen is None:
        seen = access.find(session, user=viewer, name=name)
    return campaign_results(session, seen.campaign.id, since=period.since, until=period.until), period
