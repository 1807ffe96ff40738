"""The App Home tab."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block, ImageBlock
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.models import User
from bot.runtime import Runtime
from bot.services import access, complaints
from bot.services.campaign_list import counts_of
from bot.services.connections import organisation_enhanced
from bot.services.mailboxes import approved_senders, mailboxes_of
from bot.services.result_charts import HOME_PERIOD, ChartPlan, home_key, home_plan, shown, team_key, team_plan
from bot.services.results import recruiter_summaries
from bot.services.send_counts import sends_last_day
from handlers.context import acting, runtime_of
from handlers.result_charts import chart_file, image_block
from handlers.slack import Slack
from handlers.views.home import home_view
from handlers.views.results import team_home_blocks
from handlers.views.summaries import CampaignSummary, MailboxSummary


def mailbox_summaries(session: Session, user: User, now: datetime) -> list[MailboxSummary]:
    mailboxes = mailboxes_of(session, user)
    ids = [m.id for m in mailboxes]
    sent, senders = sends_last_day(session, ids, now), approved_senders(session, ids)
    rates = complaints.rates(session, ids, now)
    return [MailboxSummary(m.address, m.provider.value, m.status.value, m.permission_level.value, id=m.id,
                           sends_today=sent.get(m.id, 0), daily_cap=m.daily_cap,
                           senders=tuple(["you", *senders.get(m.id, [])]), reason=m.status_reason,
                           complaints=m.complaints, recent_complaints=rates[m.id].complaints,
                           recent_sends=rates[m.id].sends, complaint_warning=rates[m.id].warn)
            for m in mailboxes]


WHOSE = {access.Role.EDITOR: "shared with you to edit", access.Role.VIEWER: "shared with you to view",
         access.Role.MAILBOX_OWNER: "sends from your mailbox"}


def campaign_summaries(session: Session, user: User) -> list[CampaignSummary]:
    """The user's campaigns, then those shared with them or sent from their mailbox (access.py)."""
    campaigns = access.visible_campaigns(session, user)
    counts = counts_of(session, [c.id for c in campaigns])
    summaries = []
    for c in campaigns:
        role = access.role_in(session, user=user, campaign=c)
        whose = f"{c.owner.name}'s, {WHOSE[role]}" if role in WHOSE else ""
        summaries.append(CampaignSummary(c.name, c.status.value, counts[c.id].candidates, counts[c.id].sent, whose))
    return summaries


def publish_home(runtime: Runtime, slack: Slack, session: Session, user: User, *,
                 charts: tuple[ChartPlan, ChartPlan | None] | None = None) -> None:
    """The Home tab, with its results charts: `charts` as show_home just drew them (the person's own,
    and an admin's team chart), else the ones last uploaded, read here."""
    now = runtime.clock.now()
    mine, team = charts if charts is not None else _last_uploaded(session, user, now)
    recruiters = _per_recruiter(session, user, now) if user.is_admin else None
    slack.publish_home(user.slack_user_id, home_view(
        mailbox_summaries(session, user, now), campaign_summaries(session, user),
        organisation_enhanced=organisation_enhanced(session, user), chart=_image(mine), team=recruiters,
        team_chart=_image(team)))


def _home_plans(session: Session, user: User, now: datetime) -> tuple[ChartPlan, ChartPlan | None]:
    """The Home's charts as their numbers stand: the person's own, and for an admin (as Slack last
    said) the team's."""
    return home_plan(session, user, now), team_plan(session, user.organisation_id, now) if user.is_admin else None


def _last_uploaded(session: Session, user: User, now: datetime) -> tuple[ChartPlan | None, ChartPlan | None]:
    """For a publish that draws nothing (after a mailbox change): the charts already uploaded, their
    numbers read only where there is one."""
    mine = home_plan(session, user, now) if shown(session, home_key(user.id)) else None
    team = team_plan(session, user.organisation_id, now) \
        if user.is_admin and shown(session, team_key(user.organisation_id)) else None
    return mine, team


def _image(plan: ChartPlan | None) -> ImageBlock | None:
    return image_block(plan.file_id, plan.results) if plan is not None and plan.file_id else None


def _per_recruiter(session: Session, user: User, now: datetime) -> list[Block]:
    """For an admin: each recruiter's total, last 30 days."""
    recruiters = recruiter_summaries(session, user.organisation_id, until=now, since=now - HOME_PERIOD)
    return team_home_blocks(recruiters, any(total.opened is not None for _, total in recruiters))


def deliver_and_refresh(runtime: Runtime, slack: Slack, user_id: int) -> None:
    """After a change to someone's mailboxes: queued notices go out now, in order, and their App
    Home is redrawn."""
    from handlers.notices import deliver_notices

    deliver_notices(runtime, slack.client)
    with transaction(runtime.sessions) as session:
        user = session.get(User, user_id)
        if user is not None:
            publish_home(runtime, slack, session, user)


def home_refresher(runtime: Runtime, client: WebClient) -> Callable[[int], None]:
    """For the OAuth pages: refresh a person's App Home after their mailbox connects."""
    def refresh(user_id: int) -> None:
        with transaction(runtime.sessions) as session:
            user = session.get(User, user_id)
            if user is not None:
                publish_home(runtime, Slack(client), session, user)
    return refresh


def show_home(event: dict[str, Any], context: BoltContext) -> None:
    """The Home tab, drawn afresh each time it opens (the asker's profile read again: REFRESH_EVENTS)."""
    if event.get("tab") != "home":
        return
    runtime, slack = runtime_of(context), Slack(context.client)
    with acting(context, refresh=True) as (session, user):  # the admin flag as Slack says it now
        mine, team = _home_plans(session, user, runtime.clock.now())
    # Drawn and uploaded outside any transaction, when due; then shown with the numbers just read.
    mine = replace(mine, file_id=chart_file(runtime, slack, mine))
    team = replace(team, file_id=chart_file(runtime, slack, team)) if team is not None else None
    with acting(context) as (session, user):
        publish_home(runtime, slack, session, user, charts=(mine, team))


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)
