"""Resuming a candidate whose follow-up failed, days later: the step is planned again from the resume
time by the first-send rules, never for a moment already past (which would send it at once)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, EnrollmentStatus, OutboundMessage, OutboundStatus
from bot.runtime import Runtime
from bot.services.campaigns import resume_candidate, start_campaign
from scheduling.dispatcher import Dispatcher
from tests import factories


def _run(runtime: Runtime, clock: FakeClock) -> None:
    Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
               concurrency=1).run_until_idle()


def test_a_failed_follow_up_resumed_days_later_waits_for_the_grace(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    clock.advance(timedelta(hours=1))
    _run(runtime, clock)  # step 1 sent
    runtime.providers.sandbox.inject("rita@acme.example", "permanent")  # type: ignore[attr-defined]
    clock.advance(timedelta(days=3))
    _run(runtime, clock)  # step 2 refused for good: the candidate pauses
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.PAUSED
    clock.advance(timedelta(days=5))  # long after step 2 was due
    resumed_at = clock.now()
    with transaction(runtime.sessions, write=True) as session:
        enrollment = session.scalar(select(Enrollment))
        assert enrollment is not None
        resume_candidate(session, enrollment=enrollment, clock=clock, rng=runtime.rng)
    with transaction(runtime.sessions) as session:
        [due] = session.scalars(select(OutboundMessage.due_at).where(OutboundMessage.status == OutboundStatus.PENDING))
    assert resumed_at + timedelta(minutes=20) <= due <= resumed_at + timedelta(minutes=40)
    _run(runtime, clock)
    with transaction(runtime.sessions) as session:  # nothing went out at the moment of the resume
        assert session.scalar(select(OutboundMessage.id).where(OutboundMessage.step_position == 2,
                                                               OutboundMessage.status == OutboundStatus.SENT)) is None
