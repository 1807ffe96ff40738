"""Campaign commands (this issue: when a campaign sends)."""
from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from bot.db import transaction
from bot.models import CampaignStatus
from bot.runtime import Runtime
from bot.services.campaigns import find_campaign, preview_plan, upcoming_sends
from handlers.commands import CommandCall, CommandRouter
from handlers.context import current_user
from handlers.slack import Slack
from handlers.views.campaigns import when_blocks


def register(runtime: Runtime, router: CommandRouter) -> None:
    @router.add("when", "the next planned sends of a campaign: `/outreach when <campaign>`")
    def _when(call: CommandCall) -> None:
        with transaction(runtime.sessions) as session:
            user = current_user(session, runtime, call.context, Slack(call.client))
            campaign = find_campaign(session, user=user, name=call.args)
            zone = ZoneInfo(campaign.timezone)
            now = runtime.clock.now()
            if campaign.status == CampaignStatus.DRAFT:
                blocks = when_blocks(name=campaign.name, status=campaign.status.value, zone=zone, sends=[], total=0,
                                     preview=preview_plan(session, campaign, now=now, rng=random.Random(campaign.id)))
            else:
                sends, total = upcoming_sends(session, campaign)
                held = campaign.mailbox.not_before
                blocks = when_blocks(name=campaign.name, status=campaign.status.value, zone=zone, sends=sends,
                                     total=total, held_until=held if held and held > now else None)
        call.ack(text=f"When {campaign.name} sends", blocks=blocks)
