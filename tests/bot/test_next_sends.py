"""What a campaign says it sends next: only what will go out if nothing changes."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Campaign, Enrollment
from bot.runtime import Runtime
from bot.services.campaigns import pause_candidate, start_campaign, upcoming_sends
from tests import factories


def test_a_paused_candidate_has_no_next_send_even_after_its_time_has_passed(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=2)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        assert upcoming_sends(session, campaign, viewer_id=rita.id)[1] == 2
        pause_candidate(session, enrollment=session.scalar(select(Enrollment).order_by(Enrollment.id)), clock=clock)
    clock.advance(timedelta(days=3))
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        sends, total = upcoming_sends(session, campaign, viewer_id=campaign.owner_id)
    assert ([s.candidate for s in sends], total) == (["Ana Candidate1"], 1)
