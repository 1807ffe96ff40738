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

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, EnrollmentStatus, OutboundMessage, User
from bot.runtime import Runtime
from bot.services import access, campaign_lifecycle
from tests.scheduling.interleave import (
    assert_only_the_second_stopped,
    run_with_write_after_first_send,
    started_campaign,
)

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
    assert_only_the_second_stopped(runtime, clock, campaign_id, report, EnrollmentStatus.REMOVED)

