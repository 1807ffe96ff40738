"""A mailbox's connection over its life, through Slack: lost (campaigns pause, one DM with a
Reconnect button), reconnected (the DM thread offers to resume them all), disconnected, and the
organisation's permission level."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks, render_view
from bot.models import (
    Campaign,
    CampaignStatus,
    Mailbox,
    MailboxStatus,
    Organisation,
    OutboundMessage,
    OutboundStatus,
    PauseReason,
    PermissionLevel,
    User,
)
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from handlers.commands import COMMAND
from handlers.ids import Action
from handlers.notices import deliver_notices
from scheduling.dispatcher import Dispatcher
from tests.factories import campaign_with_candidates
from tests.handlers.conftest import RITA, client_for

ADDRESS = "rita@acme.example"


def _connect_with_two_campaigns(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    rita.slash(COMMAND, "connect")
    assert rita.submit({"provider": "sandbox", "address": ADDRESS}).ok
    with transaction(runtime.sessions, write=True) as session:
        user = session.scalar(select(User).where(User.slack_user_id == RITA))
        mailbox = session.scalar(select(Mailbox))
        for name in ("Backend Q4", "Data Q1"):
            campaign = campaign_with_candidates(session, user, mailbox, clock, candidates=2)
            campaign.name = name
            start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)


def _dispatch(runtime: Runtime, clock: FakeClock, rounds: int = 1) -> None:
    """Every first step falls due; then a run a minute apart, as the mailbox's spacing allows."""
    clock.advance(timedelta(days=1))
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1)
    for _ in range(rounds):
        dispatcher.run_until_idle()
        clock.advance(timedelta(seconds=61))


def _lose_connection(rita: Person, runtime: Runtime, clock: FakeClock, workspace: LocalSlack) -> None:
    _connect_with_two_campaigns(rita, runtime, clock)
    runtime.providers.sandbox.inject(ADDRESS, "reconnect")  # type: ignore[attr-defined]
    _dispatch(runtime, clock)
    deliver_notices(runtime, workspace_client(runtime, workspace))


def workspace_client(runtime: Runtime, workspace: LocalSlack):  # type: ignore[no-untyped-def]
    return client_for(workspace)


def test_a_lost_connection_pauses_every_campaign_and_tells_the_owner_once(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _lose_connection(rita, runtime, clock, workspace)
    with transaction(runtime.sessions) as session:
        mailbox = session.scalar(select(Mailbox))
        assert mailbox.status == MailboxStatus.NEEDS_RECONNECT
        campaigns = session.scalars(select(Campaign)).all()
        assert {(c.status, c.pause_reason) for c in campaigns} == {(CampaignStatus.PAUSED, PauseReason.NEEDS_RECONNECT)}
        assert session.scalar(select(OutboundMessage).where(OutboundMessage.status == OutboundStatus.SENT)) is None
    _dispatch(runtime, clock)  # still lost: no second DM
    deliver_notices(runtime, workspace_client(runtime, workspace))
    lost = [m for m in rita.dm_messages() if "connection to rita@acme.example was lost" in m.text]
    assert len(lost) == 1 and "2 campaigns are paused" in lost[0].text
    assert "Reconnect" in render_blocks(lost[0].blocks)
    rita.open_home()
    assert "needs to be reconnected" in render_view(workspace.home(RITA))


def test_reconnecting_offers_resume_all_in_the_same_thread_and_one_click_resumes(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _lose_connection(rita, runtime, clock, workspace)
    lost = next(m for m in rita.dm_messages() if "was lost" in m.text)
    rita.click(Action.RECONNECT.value, in_message=lost)
    assert "Sign in again to reconnect *rita@acme.example*" in render_view(workspace.open_views(RITA)[-1])
    assert rita.submit({"provider": "sandbox", "address": ADDRESS}).ok
    replies = [m for m in workspace.messages(channel=rita.dm) if m.thread_ts == lost.ts]
    assert any("is connected" in m.text and "2 campaigns from it are still paused" in m.text for m in replies)
    offer = next(m for m in replies if "Resume 2 paused campaigns" in m.text)
    with transaction(runtime.sessions) as session:  # campaigns stay paused until resumed (seed 000)
        assert {c.status for c in session.scalars(select(Campaign))} == {CampaignStatus.PAUSED}
    rita.click(Action.RESUME_ALL.value, in_message=offer)
    with transaction(runtime.sessions) as session:
        assert {(c.status, c.pause_reason) for c in session.scalars(select(Campaign))} == {
            (CampaignStatus.SCHEDULED, None)}
        due = session.scalars(select(OutboundMessage.due_at).where(OutboundMessage.status == OutboundStatus.PENDING))
        assert all(d >= clock.now() + timedelta(minutes=20) for d in due)  # re-planned, never a burst
    assert "Resumed 2 campaigns" in workspace.messages(channel=rita.dm)[-1].text or any(
        "Resumed 2 campaigns" in m.text for m in workspace.messages(channel=rita.dm))
    _dispatch(runtime, clock, rounds=5)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox)).status == MailboxStatus.CONNECTED
        assert len(session.scalars(select(OutboundMessage).where(
            OutboundMessage.status == OutboundStatus.SENT)).all()) == 4


def test_disconnect_asks_first_then_deletes_credentials_and_pauses_campaigns(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _connect_with_two_campaigns(rita, runtime, clock)
    rita.slash(COMMAND, "disconnect")
    listing = workspace.ephemerals(RITA)[-1]
    button = next(e for b in listing.blocks if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == Action.DISCONNECT.value)
    assert button["confirm"]["title"]["text"] == "Disconnect this mailbox?"
    rita.click(Action.DISCONNECT.value, in_message=listing)
    assert "2 campaigns sending from it are paused" in workspace.ephemerals(RITA)[-1].text
    with transaction(runtime.sessions) as session:
        mailbox = session.scalar(select(Mailbox))
        assert (mailbox.status, mailbox.credentials) == (MailboxStatus.DISCONNECTED, None)
        assert {(c.status, c.pause_reason) for c in session.scalars(select(Campaign))} == {
            (CampaignStatus.PAUSED, PauseReason.MAILBOX_DISCONNECTED)}


def test_mailboxes_shows_todays_sends_against_the_cap(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _connect_with_two_campaigns(rita, runtime, clock)
    _dispatch(runtime, clock, rounds=5)
    rita.slash(COMMAND, "mailboxes")
    shown = render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    assert "4 of 1800 emails sent in the last 24 hours" in shown and "may send from it: you" in shown


def test_only_a_workspace_admin_turns_on_enhanced_permissions(
        workspace: LocalSlack, runtime: Runtime, rita: Person) -> None:
    rita.slash(COMMAND, "admin permissions enhanced")
    assert "Only a Slack workspace admin" in workspace.ephemerals(RITA)[-1].text
    rita.slash(COMMAND, "connect")
    rita.submit({"provider": "sandbox", "address": ADDRESS})
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", rita.target)
    ada.slash(COMMAND, "admin permissions enhanced")
    assert "now *enhanced*" in workspace.ephemerals("U0ADA")[-1].text
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Organisation.permission_level)) == PermissionLevel.ENHANCED
    rita.open_home()  # opted in, but this mailbox is still on basic: warn and offer Reconnect
    assert "still has basic ones" in render_view(workspace.home(RITA))
    ada.slash(COMMAND, "admin permissions sideways")
    assert "Usage: `/outreach admin permissions enhanced`" in workspace.ephemerals("U0ADA")[-1].text
