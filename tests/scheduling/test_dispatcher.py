from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
)
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from providers.sandbox import PostOffice
from scheduling.dispatcher import Dispatcher
from tests import factories


def _started(runtime: Runtime, clock: FakeClock, candidates: int = 1) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return campaign.id


def _dispatcher(runtime: Runtime, worker: str = "w1") -> Dispatcher:
    return Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                      rng=random.Random(2), worker_id=worker)


def test_nothing_leaves_in_the_first_twenty_minutes_then_step_one_goes_out(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    post = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    clock.advance(timedelta(minutes=19, seconds=59))
    assert _dispatcher(runtime).run_once().sent == 0
    assert post.all_sent() == []

    clock.advance(timedelta(minutes=21))  # the window closes 40 minutes after Start
    assert _dispatcher(runtime).run_once().sent == 1
    [email] = post.sent("rita@acme.example")
    assert email["To"] == "ana0@work.example"
    assert email["Subject"] == "Backend role at Acme"
    assert "Hi Ana," in email.get_content()


def test_follow_up_goes_in_the_same_thread_two_days_later(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    _dispatcher(runtime).run_once()
    clock.advance(timedelta(days=1))
    assert _dispatcher(runtime).run_once().sent == 0
    clock.advance(timedelta(days=1, minutes=41))
    assert _dispatcher(runtime).run_once().sent == 1
    first, second = PostOffice(runtime.providers.sandbox).sent("rita@acme.example")  # type: ignore[attr-defined]
    assert second["Subject"] == "Re: Backend role at Acme"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    with transaction(runtime.sessions) as session:
        enrollment = session.scalar(select(Enrollment))
        assert enrollment.status == EnrollmentStatus.FINISHED
        assert enrollment.campaign.status == CampaignStatus.FINISHED


def test_a_reply_recorded_after_the_claim_stops_the_send(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    [row_id] = dispatcher._claim_batch()
    with transaction(runtime.sessions, write=True) as session:  # the reply lands between claim and send
        session.scalar(select(Enrollment)).status = EnrollmentStatus.REPLIED
    assert dispatcher._send_one(row_id) == "skipped"
    assert PostOffice(runtime.providers.sandbox).all_sent() == []  # type: ignore[attr-defined]
    with transaction(runtime.sessions) as session:
        assert session.get(OutboundMessage, row_id).status == OutboundStatus.PENDING


def test_two_dispatchers_never_claim_the_same_row(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=6)
    clock.advance(timedelta(minutes=41))
    first, second = _dispatcher(runtime, "w1"), _dispatcher(runtime, "w2")
    claimed = first._claim_batch()
    assert len(claimed) == 6
    assert second.run_once().claimed == 0  # w1's lease holds them
    assert [first._send_one(row_id) for row_id in claimed] == ["sent"] * 6
    assert len(PostOffice(runtime.providers.sandbox).all_sent()) == 6  # type: ignore[attr-defined]


def test_an_expired_lease_on_an_unsent_row_lets_another_worker_send_it(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    crashed = _dispatcher(runtime, "crashed")
    [row_id] = crashed._claim_batch()  # then the process dies before sending
    clock.advance(timedelta(minutes=6))
    assert _dispatcher(runtime, "w2").run_once().sent == 1
    assert crashed._send_one(row_id) == "skipped"  # the old owner no longer holds it
    assert len(PostOffice(runtime.providers.sandbox).all_sent()) == 1  # type: ignore[attr-defined]
