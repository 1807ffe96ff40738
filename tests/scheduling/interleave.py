"""The scaffold of the send races: a started campaign whose step 1 is due, and a dispatcher run with
a write committed between its first send and the next, for the races at the last look: a removal, a
do-not-contact entry. (test_reply_race.py tells the pattern in full.)"""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Campaign, CampaignStatus, Enrollment, EnrollmentStatus, OutboundMessage, OutboundStatus
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.sequences import StepDraft
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import DispatchReport, Dispatcher
from scheduling.last_look import FRESH_SECONDS
from tests import factories


def started_campaign(runtime: Runtime, clock: FakeClock, *, candidates: int,
                     steps: list[StepDraft] | None = None) -> int:
    """Rita's campaign of `candidates` (with `steps`, else the factory's), started, every step 1 due
    (no spacing between sends); its id."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mailbox.min_spacing_seconds = 0
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates, steps=steps)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        campaign_id = campaign.id
    clock.advance(timedelta(minutes=41))
    return campaign_id


def run_with_write_after_first_send(runtime: Runtime, clock: FakeClock, write: Callable[[], None]) -> DispatchReport:
    """One run of the real send loop, one send at a time; after the first send (every row claimed by
    then, the second candidate's still sending) `write` commits, and more than FRESH_SECONDS pass so
    the next send's last look reads again."""
    ticks = [0.0]
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), worker_id="w1", concurrency=1, monotonic=lambda: ticks[0])
    real_run_sends, sent = dispatcher._run_sends, []

    def run_sends(jobs):  # type: ignore[no-untyped-def]
        for outcome in real_run_sends(jobs):
            sent.append(outcome.row_id)
            if len(sent) == 1:
                with transaction(runtime.sessions) as session:
                    second = session.scalar(select(Enrollment.id).order_by(Enrollment.id).offset(1))
                    assert session.scalar(select(OutboundMessage.status).where(
                        OutboundMessage.enrollment_id == second)) == OutboundStatus.SENDING
                write()
                ticks[0] += FRESH_SECONDS + 0.001  # the batch's earlier read is stale: the next send reads again
            yield outcome

    dispatcher._run_sends = run_sends  # type: ignore[method-assign]
    return dispatcher.run_once()


def assert_only_the_second_stopped(runtime: Runtime, clock: FakeClock, campaign_id: int, report: DispatchReport,
                                   ended: EnrollmentStatus) -> None:
    """The outcome of such a race over three candidates: all three claimed, the first and third sent,
    the second never (its row cancelled, the candidate `ended`), the campaign still running, and
    nothing sent to the second later either."""
    assert (report.claimed, report.sent) == (3, 2)
    recipients = sorted(recipient_of(m) for m in PostOffice(runtime.providers.sandbox).all_sent())  # type: ignore[attr-defined]
    assert recipients == ["ana0@work.example", "ana2@work.example"]
    with transaction(runtime.sessions) as session:
        second = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(1))
        assert second.status == ended
        assert session.scalars(select(OutboundMessage.status).where(
            OutboundMessage.enrollment_id == second.id)).all() == [OutboundStatus.CANCELLED]
        assert session.get(Campaign, campaign_id).status == CampaignStatus.ACTIVE  # type: ignore[union-attr]
    clock.advance(timedelta(days=5))  # and nothing is planned for them later
    Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, rng=random.Random(3),
               worker_id="w2").run_until_idle()
    assert "ana1@work.example" not in {recipient_of(m) for m in PostOffice(runtime.providers.sandbox).all_sent()}  # type: ignore[attr-defined]
