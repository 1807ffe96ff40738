"""A candidate removed while their send is claimed: the dispatcher's last look withdraws it.

Issue 17 §1: removing a candidate cancels their planned sends, but a row a worker has already claimed
(status sending) is not the removal's to touch. The last look before the provider call
(scheduling.last_look) reads whether the row's enrollment still sends; a removed one does not, so the
row is given back as cancelled and nothing leaves. Three candidates are due; the real send loop runs
one send at a time, and between the first send and the second the second candidate's removal commits
(through bot.services.campaign_lifecycle, as the Slack confirm does), then more than FRESH_SECONDS
pass so the next send reads again. Same shape as test_reply_race.py.
"""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Campaign, CampaignStatus, Enrollment, EnrollmentStatus, OutboundMessage, OutboundStatus, User
from bot.runtime import Runtime
from bot.services import access, campaign_lifecycle
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import Dispatcher
from tests.scheduling.interleave import run_with_write_after_first_send, started_campaign

O = OutboundMessage


def _remove_second(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        enrollment = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(1))
        rita = session.scalars(select(User)).one()
        seen = access.campaign(session, user=rita, campaign_id=enrollment.campaign_id, need=access.Need.CHANGE)
        campaign_lifecycle.remove_candidate(session, access=seen, enrollment=enrollment, clock=clock)


def test_a_removal_committed_after_the_claim_stops_the_send_at_the_last_look(
        runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = started_campaign(runtime, clock, candidates=3)
    report = run_with_write_after_first_send(runtime, clock, lambda: _remove_second(runtime, clock))
    assert (report.claimed, report.sent) == (3, 2)
    recipients = sorted(recipient_of(m) for m in PostOffice(runtime.providers.sandbox).all_sent())  # type: ignore[attr-defined]
    assert recipients == ["ana0@work.example", "ana2@work.example"]
    with transaction(runtime.sessions) as session:
        second = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(1))
        assert second.status == EnrollmentStatus.REMOVED
        assert session.scalars(select(O.status).where(O.enrollment_id == second.id)).all() == [OutboundStatus.CANCELLED]
        assert session.get(Campaign, campaign_id).status == CampaignStatus.ACTIVE  # type: ignore[union-attr]
    clock.advance(timedelta(days=5))  # and nothing is planned for them later
    Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, rng=random.Random(3),
               worker_id="w2").run_until_idle()
    assert "ana1@work.example" not in {recipient_of(m) for m in PostOffice(runtime.providers.sandbox).all_sent()}  # type: ignore[attr-defined]

