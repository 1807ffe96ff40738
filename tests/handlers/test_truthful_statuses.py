"""Statuses that tell the truth (issue 17 §5): after a bounce the bounced address shows as bounced
and the one in use as current; "Replied (ended)" shows the address that replied; `/outreach when`
names what holds a send (the spacing, the daily cap, a provider's rate limit, days off, a pause).
Driven through the local Slack, the real sync and the real dispatcher."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.models import AddressKind, Campaign, CandidateAddress, Enrollment, EnrollmentStatus, InboundEvent, InboundKind
from bot.runtime import Runtime
from bot.services.campaign_status import campaign_status
from bot.services.campaigns import pause_campaign, start_campaign
from handlers.ids import Action
from handlers.payloads import CandidateChoice
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import RITA

MAILBOX = "rita@acme.example"


def _started(runtime: Runtime, clock: FakeClock, *, candidates: int = 1, spacing: int = 0, cap: int = 2000,
             send_days: str = "0123456") -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        mailbox.min_spacing_seconds, mailbox.daily_cap = spacing, cap
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates)
        campaign.send_days = send_days
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))


def _post(runtime: Runtime) -> PostOffice:
    return PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]


def _shown(ws: LocalSlack) -> str:
    return render_blocks(ws.ephemerals(RITA)[-1].blocks)


def _bounced_to_home(runtime: Runtime, clock: FakeClock) -> PostOffice:
    """Step 1 went to Ana's work address, bounced, and went again to her personal one."""
    _started(runtime, clock)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    post = _post(runtime)
    post.bounce(MAILBOX, post.sent(MAILBOX)[0], clock.now())
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    assert [recipient_of(m) for m in post.sent(MAILBOX)] == ["ana0@work.example", "ana0@home.example"]
    return post


def test_after_a_bounce_the_status_marks_the_bounced_address_and_the_current_one(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _bounced_to_home(runtime, clock)
    rita.slash("/outreach", "status Backend Q4")
    shown = _shown(workspace)
    assert "ana0@home.example, current; ~ana0@work.example~ bounced" in shown
    rita.slash("/outreach", "when Backend Q4")  # step 2 is planned to the personal address
    assert "step 2 · Ana Candidate0 (ana0@home.example, current; ~ana0@work.example~ bounced)" in _shown(workspace)


def test_the_candidate_modal_marks_the_bounced_address_and_the_current_one(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _bounced_to_home(runtime, clock)
    rita.slash("/outreach", "status Backend Q4")  # the campaign message, in Rita's DM
    with transaction(runtime.sessions) as session:
        option = CandidateChoice(action="edit", enrollment=session.scalars(select(Enrollment.id)).one()).dump()
    message = [m for m in workspace.messages() if any(b.get("type") == "header" for b in m.blocks)][-1]
    assert "ana0@home.example, current; ~ana0@work.example~ bounced" in render_blocks(message.blocks)
    block = next(b for b in message.blocks if b.get("accessory", {}).get("type") == "overflow")
    assert rita.click(Action.CANDIDATE_MENU.value, in_message=message, block_id=block["block_id"],
                      selected_option_value=option).ok
    modal = render_blocks(workspace.open_views(RITA)[-1]["blocks"])
    assert "ana0@work.example (work, bounced)" in modal and "ana0@home.example (personal, current)" in modal


def test_replied_shows_the_address_that_replied_not_the_one_that_bounced(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _bounced_to_home(runtime, clock)
    post.reply(MAILBOX, post.sent(MAILBOX)[1], "Yes, let's talk.", clock.now())
    sync_mailboxes(runtime, clock)
    rita.slash("/outreach", "status Backend Q4")
    shown = _shown(workspace)
    assert "Replied (ended) · replied from ana0@home.example · ~ana0@work.example~ bounced" in shown


def test_when_names_the_spacing_not_the_daily_cap(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                  clock: FakeClock) -> None:
    _started(runtime, clock, candidates=3, spacing=3600)
    dispatch_for(runtime, clock, timedelta(minutes=45))  # one send, then an hour's spacing
    rita.slash("/outreach", "when Backend Q4")
    shown = _shown(workspace)
    assert "waits 3600 seconds between emails (its spacing)" in shown
    assert "daily cap" not in shown and "provider" not in shown


def test_when_names_the_daily_cap(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                            clock: FakeClock) -> None:
    _started(runtime, clock, candidates=2, cap=1)
    dispatch_for(runtime, clock, timedelta(hours=1))  # one step 1 out; the cap holds the other
    rita.slash("/outreach", "when Backend Q4")
    shown = _shown(workspace)
    assert "reached its daily cap of 1 email in 24 hours: sending resumes at" in shown
    assert "spacing" not in shown


def test_when_names_a_providers_rate_limit(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                          clock: FakeClock) -> None:
    _started(runtime, clock, candidates=2)
    runtime.providers.sandbox.inject(MAILBOX, "rate_limited:600")  # type: ignore[attr-defined]
    clock.advance(timedelta(minutes=40))  # both step-1 sends due; the first is refused: wait 600 s
    Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1).run_once()
    rita.slash("/outreach", "when Backend Q4")
    shown = _shown(workspace)
    assert "asked us to slow down (its rate limit)" in shown and "daily cap" not in shown


def test_when_names_the_days_off_and_a_pause(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                            clock: FakeClock) -> None:
    clock.advance(timedelta(days=5))  # Saturday 08:30: started on weekdays, step 1 waits for Monday
    _started(runtime, clock, send_days="01234")
    rita.slash("/outreach", "when Backend Q4")
    assert "Mon 30 Nov 08:" in _shown(workspace)
    assert "No emails go out on Sat 28 Nov, Sun 29 Nov (the campaign's send days and holidays)" in _shown(workspace)
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.scalars(select(Campaign)).one()
        pause_campaign(session, campaign=campaign, clock=clock)
    rita.slash("/outreach", "when Backend Q4")
    shown = _shown(workspace)
    assert "The campaign is paused (paused by you): nothing is sent until it is resumed." in shown
    assert "No emails go out" not in shown


def test_an_address_someone_else_added_by_hand_stays_hidden_as_bounced_or_as_the_one_that_replied(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        tess = factories.recruiter(session, clock, slack_id="U0TESS")
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=1)
        enrollment = session.scalars(select(Enrollment)).one()
        session.add(CandidateAddress(candidate_id=enrollment.candidate_id, address="ana0@tess-only.example",
                                     kind=AddressKind.OTHER, position=9, added_by_id=tess.id))
        enrollment.status = EnrollmentStatus.REPLIED
        enrollment.tried_addresses = ["ana0@work.example", "ana0@tess-only.example"]
        session.add(InboundEvent(mailbox_id=mailbox.id, enrollment_id=enrollment.id, kind=InboundKind.REPLY,
                                 provider_message_id="m1", from_address="ana0@tess-only.example", subject="Re: hi",
                                 received_at=clock.now(), created_at=clock.now()))
        session.flush()
        line, = campaign_status(session, campaign).candidates  # as Rita sees it
    assert line.address is None and line.bounced == ("ana0@work.example",)
