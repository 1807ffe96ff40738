"""Replies, bounces and auto-replies arriving in a sandbox mailbox, read by the real sync job, and
what follows: the sequence stops on a reply, moves to the next address on a bounce, goes on after an
auto-reply; the owner is told in a DM with buttons, the alert channel in batches."""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    OutboundMessage,
    OutboundStatus,
)
from bot.runtime import Runtime
from bot.services.campaign_status import campaign_status
from bot.services.campaigns import start_campaign
from handlers.ids import Action
from handlers.notices import deliver_channel_alerts, deliver_notices
from providers.base import InboundKind
from providers.sandbox import PostOffice, recipient_of
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import RITA, client_for

MAILBOX = "rita@acme.example"


def _started(runtime: Runtime, clock: FakeClock, candidates: int = 1, channel: str | None = "C0HIRING") -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates)
        campaign.alert_channel_id = channel
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)


def _post_office(runtime: Runtime) -> PostOffice:
    return PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]


def _sent_to(runtime: Runtime) -> list[str]:
    return [recipient_of(m) for m in _post_office(runtime).sent(MAILBOX)]


def _client(workspace: LocalSlack) -> WebClient:
    return client_for(workspace)


def _status(runtime: Runtime) -> EnrollmentStatus:
    with transaction(runtime.sessions) as session:
        return session.scalars(select(Enrollment.status)).all()[0]


def _first_steps_sent(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    sync_mailboxes(runtime, clock)  # the mailbox's cursor starts from now
    dispatch_for(runtime, clock, timedelta(hours=1))
    assert _sent_to(runtime) == ["ana0@work.example"]


def test_a_reply_stops_the_sequence_before_its_next_step_and_tells_owner_and_channel(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Sounds good, let's talk Tuesday.", clock.now())
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.REPLIED
    dispatch_for(runtime, clock, timedelta(hours=24 * 4))
    assert _sent_to(runtime) == ["ana0@work.example"]  # step 2 never went
    deliver_notices(runtime, _client(workspace))
    dm = rita.dm_messages()[-1]
    assert "*Ana Candidate0* replied to *Backend Q4*" in dm.text and "Re: Backend role at Acme" in dm.text
    assert "Mark handled" in render_blocks(dm.blocks) and "This was an auto-reply: continue" in render_blocks(dm.blocks)
    assert deliver_channel_alerts(runtime, _client(workspace)) == 1
    assert "Ana Candidate0 replied to Backend Q4" in workspace.messages(channel="C0HIRING")[-1].text
    with transaction(runtime.sessions) as session:
        event = session.scalar(select(InboundEvent))
        assert event is not None and event.kind == InboundKind.REPLY and event.subject == "Re: Backend role at Acme"
        assert session.scalar(select(Campaign.status)) == CampaignStatus.FINISHED


def test_a_reply_to_the_last_step_ten_days_after_it_went_is_seen_and_counted(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(days=4))  # both steps: Ana is Finished, and so is the campaign
    post = _post_office(runtime)
    assert _sent_to(runtime) == ["ana0@work.example"] * 2 and _status(runtime) == EnrollmentStatus.FINISHED
    clock.advance(timedelta(days=10))  # the mailbox has nobody left in a sequence: only the reply watch reads it
    post.reply(MAILBOX, post.sent(MAILBOX)[-1], "Sorry for the slow answer: yes, let's talk.", clock.now())
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.REPLIED
    deliver_notices(runtime, _client(workspace))
    assert "*Ana Candidate0* replied to *Backend Q4*" in rita.dm_messages()[-1].text
    assert deliver_channel_alerts(runtime, _client(workspace)) == 1
    assert "Ana Candidate0 replied to Backend Q4" in workspace.messages(channel="C0HIRING")[-1].text
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None and campaign.status == CampaignStatus.FINISHED
        assert campaign_status(session, campaign).counts == {EnrollmentStatus.REPLIED: 1}
        assert session.scalar(select(Enrollment.ended_at)) == clock.now()  # ended by the reply, when it was read


def test_a_bounce_of_the_last_step_after_the_campaign_finished_sends_it_to_the_next_address(
        workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(days=4))
    post = _post_office(runtime)
    clock.advance(timedelta(days=1))
    post.bounce(MAILBOX, post.sent(MAILBOX)[-1], clock.now())
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.IN_PROGRESS  # back in the sequence, from the step that bounced
    dispatch_for(runtime, clock, timedelta(hours=1))
    assert _sent_to(runtime) == ["ana0@work.example", "ana0@work.example", "ana0@home.example"]
    assert _status(runtime) == EnrollmentStatus.FINISHED
    assert deliver_channel_alerts(runtime, _client(workspace)) == 1
    alert = workspace.messages(channel="C0HIRING")[-1].text  # the channel hears no address (SPEC "Who sees what")
    assert "step 2 goes to another of their addresses instead" in alert and "@" not in alert
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign.status)) == CampaignStatus.FINISHED


def test_a_reply_from_another_address_in_a_new_thread_still_stops_the_sequence(
        runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    message = EmailMessage()
    message["From"] = "Ana <ana0@home.example>"  # her personal address, a new subject, no In-Reply-To
    message["To"] = MAILBOX
    message["Subject"] = "About your email"
    message["Message-ID"] = "<new-thread@home.example>"
    message.set_content("Hi Rita, yes I'm interested.")
    runtime.providers.sandbox.append(MAILBOX, "INBOX", message)  # type: ignore[attr-defined]
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.REPLIED


def test_the_recruiters_own_follow_up_from_another_client_is_not_a_reply(runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Just checking you saw this.", clock.now(), from_address=MAILBOX)
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.NOT_STARTED or _status(runtime) == EnrollmentStatus.IN_PROGRESS
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(InboundEvent)) is None  # not ours to keep


def test_a_bounce_moves_to_the_next_address_from_the_step_that_bounced(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.bounce(MAILBOX, post.sent(MAILBOX)[0], clock.now())
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    sent = post.sent(MAILBOX)
    assert [recipient_of(m) for m in sent] == ["ana0@work.example", "ana0@home.example"]
    assert sent[1]["Subject"] == sent[0]["Subject"] and not sent[1]["In-Reply-To"]  # step 1 again, a new thread
    assert deliver_channel_alerts(runtime, _client(workspace)) == 1
    alert = workspace.messages(channel="C0HIRING")[-1].text  # the channel hears no address
    assert "goes to another of their addresses instead" in alert and "@" not in alert
    post.bounce(MAILBOX, sent[1], clock.now())  # the personal address bounces too: none left
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.BOUNCED
    dispatch_for(runtime, clock, timedelta(hours=24 * 4))
    assert len(post.sent(MAILBOX)) == 2


def test_an_auto_reply_does_not_stop_the_sequence(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.auto_reply(MAILBOX, post.sent(MAILBOX)[0], "I am out of the office until Monday.", clock.now())
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.OUT_OF_OFFICE
    deliver_notices(runtime, _client(workspace))
    assert "sent an automatic reply" in rita.dm_messages()[-1].text
    dispatch_for(runtime, clock, timedelta(hours=24 * 3))
    assert len(post.sent(MAILBOX)) == 2  # step 2 went out as planned


def test_this_was_a_real_reply_stops_the_sequence(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.auto_reply(MAILBOX, post.sent(MAILBOX)[0], "Automatic reply", clock.now())
    sync_mailboxes(runtime, clock)
    deliver_notices(runtime, _client(workspace))
    rita.click(Action.AUTO_WAS_REPLY.value, in_message=rita.dm_messages()[-1])
    assert _status(runtime) == EnrollmentStatus.REPLIED
    assert "Treated as a real reply" in rita.dm_messages()[-1].text
    dispatch_for(runtime, clock, timedelta(hours=24 * 3))
    assert len(post.sent(MAILBOX)) == 1


def test_this_was_an_auto_reply_puts_the_candidate_back_in_the_sequence(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Thanks for reaching out.", clock.now())
    sync_mailboxes(runtime, clock)
    deliver_notices(runtime, _client(workspace))
    clock.advance(timedelta(days=5))  # step 2 would have been due meanwhile
    clicked_at = clock.now()
    rita.click(Action.REPLY_WAS_AUTO.value, in_message=rita.dm_messages()[-1])
    assert _status(runtime) == EnrollmentStatus.OUT_OF_OFFICE
    with transaction(runtime.sessions) as session:
        due = session.scalar(select(OutboundMessage.due_at).where(OutboundMessage.status == OutboundStatus.PENDING))
    assert due is not None and due >= clicked_at + timedelta(minutes=20)  # overdue: re-planned, never at once
    dispatch_for(runtime, clock, timedelta(hours=1))
    assert len(post.sent(MAILBOX)) == 2


def test_a_message_seen_again_after_a_resync_changes_nothing(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    post = _post_office(runtime)
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Yes!", clock.now())
    sync_mailboxes(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        from bot.models import Mailbox

        session.scalar(select(Mailbox)).sync_cursor = "0"  # type: ignore[union-attr]
    sync_mailboxes(runtime, clock)
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(InboundEvent)).all()) == 1
    assert deliver_notices(runtime, _client(workspace)) == 1


def test_alerts_to_a_busy_channel_are_batched_into_one_message(
        workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=5)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=2))
    post = _post_office(runtime)
    for original in post.sent(MAILBOX):
        post.reply(MAILBOX, original, "Interested!", clock.now())
    sync_mailboxes(runtime, clock)
    before = len(workspace.messages(channel="C0HIRING"))
    assert deliver_channel_alerts(runtime, _client(workspace)) == 5
    posted = workspace.messages(channel="C0HIRING")[before:]
    assert len(posted) == 1 and posted[0].text.startswith("5 updates:")


def test_a_lost_sign_in_found_while_reading_pauses_the_campaigns_and_tells_the_owner(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    runtime.providers.sandbox.inject(MAILBOX, "sync_reconnect")  # type: ignore[attr-defined]
    sync_mailboxes(runtime, clock)
    with transaction(runtime.sessions) as session:
        from bot.models import Mailbox, MailboxStatus

        assert session.scalar(select(Mailbox.status)) == MailboxStatus.NEEDS_RECONNECT
        assert session.scalar(select(Campaign.status)) == CampaignStatus.PAUSED
    deliver_notices(runtime, _client(workspace))
    assert "was lost" in rita.dm_messages()[-1].text


def test_a_provider_asking_to_slow_down_holds_only_that_mailboxs_reading(runtime: Runtime, clock: FakeClock) -> None:
    _first_steps_sent(runtime, clock)
    runtime.providers.sandbox.inject(MAILBOX, "sync_rate_limited:600")  # type: ignore[attr-defined]
    post = _post_office(runtime)
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Yes!", clock.now())
    sync = sync_mailboxes(runtime, clock)
    assert _status(runtime) != EnrollmentStatus.REPLIED
    with transaction(runtime.sessions) as session:
        assert sync.due(session) == []  # held for the Retry-After
    clock.advance(timedelta(minutes=10))
    sync.run()
    assert _status(runtime) == EnrollmentStatus.REPLIED
