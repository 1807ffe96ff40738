"""A template that breaks a render limit (bot/template_limits.py) is refused at Start, naming the
step; one that breaks it only with a candidate's own values fails that one send at send time, while
the other emails of the batch, from another mailbox, go out."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import AddressKind, CampaignStatus, OutboundMessage, OutboundStatus, SequenceStep
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign, enroll, start_campaign
from bot.services.candidates import add_candidate
from bot.services.sequences import StepDraft, create_sequence
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import Dispatcher
from tests import factories

LOOP = "Hi {{ first_name }}{% for i in range(count|int) %}.{% endfor %}"  # renders with the sample "[count]" (0 turns)


def test_start_refuses_a_step_saved_before_the_limits_naming_it(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock)
        session.execute(update(SequenceStep).where(SequenceStep.position == 2).values(
            body="{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"))
        session.expire_all()
        with pytest.raises(UserError, match=r"'Backend Q4' cannot start: Step 2 body, range\(\) asks for 99,999"):
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        assert campaign.status == CampaignStatus.DRAFT


def test_a_render_over_a_limit_at_send_time_fails_that_send_only(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        sequence = create_sequence(session, owner=rita, name="Counted", clock=clock,
                                   steps=[StepDraft("Hello {{ first_name }}", LOOP)])
        for n, count in enumerate(("50000", "3")):  # one candidate's value breaks range()'s limit
            mailbox = factories.sandbox_mailbox(session, rita, clock, address=f"rita{n}@acme.example")
            campaign = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name=f"C{n}",
                                       clock=clock)
            person = add_candidate(session, added_by=rita, name=f"Ana{n} Lima", fields={"count": count}, clock=clock,
                                   addresses=[(f"ana{n}@work.example", AddressKind.WORK)])
            enroll(session, campaign=campaign, candidates=[person], clock=clock)
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    clock.advance(timedelta(minutes=41))
    report = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                        rng=random.Random(2), worker_id="w1").run_once()
    assert (report.claimed, report.sent, report.failed) == (2, 1, 1)  # both in one batch
    with transaction(runtime.sessions) as session:
        rows = session.execute(select(OutboundMessage.to_address, OutboundMessage.status, OutboundMessage.error)
                               .order_by(OutboundMessage.to_address)).all()
    assert [(to, status) for to, status, _ in rows] == [("ana0@work.example", OutboundStatus.FAILED),
                                                        ("ana1@work.example", OutboundStatus.SENT)]
    assert "range() asks for 50,000 numbers" in rows[0].error
    [sent] = PostOffice(runtime.providers.sandbox).all_sent()  # type: ignore[attr-defined]
    assert recipient_of(sent) == "ana1@work.example" and sent.get_content().strip() == "Hi Ana1..."
