"""The App Home tab."""
from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.models import Enrollment, OutboundMessage, OutboundStatus, User
from bot.runtime import Runtime
from bot.services.campaigns import campaigns_of
from bot.services.mailboxes import mailboxes_of
from handlers.context import current_user
from handlers.slack import Slack
from handlers.views.home import home_view
from handlers.views.summaries import CampaignSummary, MailboxSummary


def mailbox_summaries(session: Session, user: User) -> list[MailboxSummary]:
    return [MailboxSummary(m.address, m.provider.value, m.status.value, m.permission_level.value)
            for m in mailboxes_of(session, user)]


def campaign_summaries(session: Session, user: User) -> list[CampaignSummary]:
    campaigns = campaigns_of(session, user)
    ids = [c.id for c in campaigns]
    enrolled = dict(session.execute(select(Enrollment.campaign_id, func.count())
                                    .where(Enrollment.campaign_id.in_(ids)).group_by(Enrollment.campaign_id)).all())
    sent = dict(session.execute(
        select(Enrollment.campaign_id, func.count()).select_from(OutboundMessage).join(Enrollment)
        .where(Enrollment.campaign_id.in_(ids), OutboundMessage.status == OutboundStatus.SENT)
        .group_by(Enrollment.campaign_id)).all())
    return [CampaignSummary(c.name, c.status.value, enrolled.get(c.id, 0), sent.get(c.id, 0)) for c in campaigns]


def publish_home(runtime: Runtime, slack: Slack, session: Session, user: User) -> None:
    slack.publish_home(user.slack_user_id, home_view(mailbox_summaries(session, user),
                                                     campaign_summaries(session, user)))


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        slack = Slack(client)
        with transaction(runtime.sessions) as session:
            user = current_user(session, runtime, context, slack, refresh=True)
            publish_home(runtime, slack, session, user)
