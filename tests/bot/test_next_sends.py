"""What a campaign says it sends next: only what will go out if nothing changes."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import Campaign, Enrollment, OutboundMessage
from bot.runtime import Runtime
from bot.services.campaigns import pause_candidate, resume_candidate, start_campaign, upcoming_sends
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


def test_a_candidate_paused_in_the_draft_gets_no_step_at_start_and_one_on_resume(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=2)
        first = session.scalar(select(Enrollment).order_by(Enrollment.id))
        pause_candidate(session, enrollment=first, clock=clock)
        assert start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1)) == 1
        assert session.scalar(select(func.count()).where(OutboundMessage.enrollment_id == first.id)) == 0
        resume_candidate(session, enrollment=first, clock=clock, rng=random.Random(2))
        assert session.scalar(select(func.count()).where(OutboundMessage.enrollment_id == first.id)) == 1


def test_a_draft_whose_every_candidate_is_paused_is_refused_at_start(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=1)
        pause_candidate(session, enrollment=session.scalar(select(Enrollment)), clock=clock)
        with pytest.raises(UserError, match="every candidate in it is paused"):
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))


def test_every_enrollment_status_has_a_label_the_campaign_message_can_show() -> None:
    """A status without a label broke the whole campaign message (a KeyError while drawing it)."""
    from bot.models import EnrollmentStatus
    from bot.services.campaign_status import STATUS_LABELS
    assert set(STATUS_LABELS) == set(EnrollmentStatus)
