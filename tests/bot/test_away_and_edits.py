"""An out-of-office candidate's hold survives a campaign edit: the edit's re-plan never brings their
next step before their stated return."""
from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, OutboundMessage
from bot.runtime import Runtime
from bot.services.away import hold_until_back
from bot.services.campaigns import start_campaign
from bot.services.replan import replan_campaign
from tests import factories


def test_an_edit_re_plans_around_the_candidates_return_not_before_it(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=1)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        enrollment = session.scalar(select(Enrollment))
        away_until = (clock.now() + timedelta(days=6)).astimezone(ZoneInfo(campaign.timezone)).date()
        assert hold_until_back(session, enrollment, away_until=away_until, now=clock.now(), rng=random.Random(2)) == 1
        campaign.send_days = "0123456"[:5]  # Monday to Friday: a timing change, so every pending row is re-planned
        campaign.specific_time = None
        replan_campaign(session, campaign, now=clock.now(), rng=random.Random(3))
        due = session.scalar(select(OutboundMessage.due_at)).astimezone(ZoneInfo(campaign.timezone))
    assert due.date() > away_until and due.weekday() < 5
