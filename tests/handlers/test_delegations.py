"""Hiring-manager delegation through the local workspace: a recruiter asks, the manager answers in
a DM only they can answer, campaigns send from the manager's mailbox in the manager's name, replies
alert the recruiter (and the manager if they chose), and a revoke stops everything at once."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.local.slack.model import Message
from bot.models import AuditEntry, Campaign, CampaignStatus, Delegation, DelegationStatus, PauseReason, User
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.delegations import REQUEST_LIFETIME
from bot.services.mailboxes import sending_mailboxes
from handlers.delegations import expire_requests
from handlers.ids import Action
from handlers.notices import deliver_notices
from providers.sandbox import PostOffice, recipient_of
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import OMAR, RITA, client_for

MANAGER_BOX = "omar@acme.example"
OMAR_MENTION = f"<@{OMAR}|omar>"


def _client(workspace: LocalSlack) -> WebClient:
    return client_for(workspace)


def _omar_connected(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        omar = factories.recruiter(session, clock, slack_id=OMAR, tz="Europe/Paris")
        omar.name = "Omar Other"
        factories.sandbox_mailbox(session, omar, clock, address=MANAGER_BOX)


def _delegation(runtime: Runtime) -> Delegation:
    with transaction(runtime.sessions) as session:
        found = session.scalar(select(Delegation))
        assert found is not None
        session.expunge(found)
        return found


def test_request_approve_and_send_from_the_managers_mailbox_in_the_managers_name(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _omar_connected(runtime, clock)
    assert rita.slash("/outreach", f"delegate {OMAR_MENTION}").ok
    assert "Asked Omar Other" in workspace.ephemerals(RITA)[-1].text
    request = omar.dm_messages()[-1]
    assert "*Rita Recruiter* asks to send recruiting email from your mailbox" in request.text
    assert "omar@acme.example" in request.text
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=request).ok
    assert "Approved" in omar.dm_messages()[-1].text
    assert "Approve" not in render_blocks(omar.dm_messages()[-1].blocks or [])  # answered once
    assert "approved: you can send from omar@acme.example" in rita.dm_messages()[-1].text
    assert _delegation(runtime).status == DelegationStatus.APPROVED
    with transaction(runtime.sessions, write=True) as session:
        rita_row = session.scalar(select(User).where(User.slack_user_id == RITA))
        assert rita_row is not None
        boxes = sending_mailboxes(session, rita_row)
        assert [m.address for m in boxes] == [MANAGER_BOX]
        campaign = factories.campaign_with_candidates(session, rita_row, boxes[0], clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    sent = PostOffice(runtime.providers.sandbox).sent(MANAGER_BOX)  # type: ignore[attr-defined]
    assert [recipient_of(m) for m in sent] == ["ana0@work.example"]
    assert str(sent[0]["From"]).startswith("Omar Other")


def test_someone_else_clicking_approve_is_refused_and_audited(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _omar_connected(runtime, clock)
    rita.slash("/outreach", f"delegate {OMAR_MENTION}")
    request = omar.dm_messages()[-1]
    forwarded = workspace.add_message("C0HIRING", OMAR, request.text, blocks=request.blocks)  # shared in a channel
    assert rita.click(Action.DELEGATION_APPROVE.value, in_message=forwarded).ok
    assert "Only Omar Other can answer this request" in workspace.ephemerals(RITA)[-1].text
    assert _delegation(runtime).status == DelegationStatus.REQUESTED
    with transaction(runtime.sessions) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "delegation.refused_click"))
        assert entry is not None and entry.actor == RITA


def test_revoke_pauses_the_campaign_and_nothing_more_leaves(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _omar_connected(runtime, clock)
    rita.slash("/outreach", f"delegate {OMAR_MENTION}")
    omar.click(Action.DELEGATION_APPROVE.value, in_message=omar.dm_messages()[-1])
    with transaction(runtime.sessions, write=True) as session:
        rita_row = session.scalar(select(User).where(User.slack_user_id == RITA))
        campaign = factories.campaign_with_candidates(session, rita_row, sending_mailboxes(session, rita_row)[0], clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    clock.advance(timedelta(hours=1))  # step 1 is due
    assert omar.slash("/outreach", "delegations").ok
    listing = workspace.ephemerals(OMAR)[-1]
    assert "Rita Recruiter" in render_blocks(listing.blocks)
    assert omar.click(Action.DELEGATION_REVOKE.value, in_message=listing).ok
    dispatch_for(runtime, clock, timedelta(days=3))
    assert PostOffice(runtime.providers.sandbox).sent(MANAGER_BOX) == []  # type: ignore[attr-defined]
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign.status == CampaignStatus.PAUSED and campaign.pause_reason == PauseReason.DELEGATION_REVOKED
    deliver_notices(runtime, _client(workspace))
    assert "revoked your access to omar@acme.example" in rita.dm_messages()[-1].text


# ---- helpers for the tests below ---------------------------------------------------------------------
OTHER_BOX = "omar.hiring@acme.example"


def _user(session: Session, slack_id: str) -> User:
    found = session.scalar(select(User).where(User.slack_user_id == slack_id))
    assert found is not None
    return found


def _rita_with_draft(runtime: Runtime, clock: FakeClock) -> None:
    """Rita, her own mailbox, and a draft campaign "Backend Q4" from it with one candidate."""
    with transaction(runtime.sessions, write=True) as session:
        rita_row = factories.recruiter(session, clock)
        factories.campaign_with_candidates(session, rita_row, factories.sandbox_mailbox(session, rita_row, clock),
                                           clock)


def _dms_saying(person: Person, words: str) -> list[str]:
    return [m.text for m in person.dm_messages() if words in m.text]


def _button(message: Message, label: str) -> tuple[str, str]:
    """The action id and value of the button labelled `label` in a message's current blocks."""
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["text"]["text"] == label:
                return str(element["action_id"]), str(element["value"])
    raise AssertionError(f"no {label!r} button in {render_blocks(message.blocks)}")


def _ask(rita: Person, omar: Person, text: str = OMAR_MENTION) -> Message:
    assert rita.slash("/outreach", f"delegate {text}").ok
    return omar.dm_messages()[-1]


# ---- forged and replayed requests ------------------------------------------------------------------
def test_a_forged_approve_click_is_refused_and_changes_nothing(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: App) -> None:
    """An Approve click signed with the wrong secret gets 401: the request still waits, the buttons
    are still there, and the recruiter hears nothing."""
    _omar_connected(runtime, clock)
    request = _ask(rita, omar)
    forger = Person(workspace, OMAR, BoltTarget(app), signing_secret="wrong")
    assert forger.click(Action.DELEGATION_APPROVE.value, in_message=request).status == 401
    assert _delegation(runtime).status == DelegationStatus.REQUESTED
    assert "Approve" in render_blocks(omar.dm_messages()[-1].blocks)
    assert rita.dm_messages() == []


def test_a_replayed_click_older_than_five_minutes_is_refused(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: App) -> None:
    """A correctly signed Approve click whose signature timestamp is 10 minutes old (a captured
    request sent again) gets 401 and changes nothing."""
    _omar_connected(runtime, clock)
    request = _ask(rita, omar)
    replayer = Person(workspace, OMAR, BoltTarget(app), timestamp=int(time.time()) - 600)
    assert replayer.click(Action.DELEGATION_APPROVE.value, in_message=request).status == 401
    assert _delegation(runtime).status == DelegationStatus.REQUESTED
    assert rita.dm_messages() == []


def test_a_second_approve_on_an_answered_request_changes_nothing(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """After the manager approved from the DM, Approve pressed again (in a `/outreach delegations`
    listing opened earlier, or the "and tell me about replies" one in a copy of the request) says it
    was already answered, keeps the first answer as it was, and the recruiter got one approval DM."""
    _omar_connected(runtime, clock)
    request = _ask(rita, omar)
    assert omar.slash("/outreach", "delegations").ok
    stale_listing = workspace.ephemerals(OMAR)[-1]
    copy = workspace.add_message("C0HIRING", OMAR, request.text, blocks=request.blocks)
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=request).ok
    first = _delegation(runtime)
    clock.advance(timedelta(hours=1))
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=stale_listing).ok
    assert "already answered: approved" in workspace.ephemerals(OMAR)[-1].text
    assert omar.click(Action.DELEGATION_APPROVE_NOTIFY.value, in_message=copy).ok
    answered_copy = workspace.messages(channel="C0HIRING")[-1]
    assert "already answered" in answered_copy.text and "Approve" not in render_blocks(answered_copy.blocks)
    again = _delegation(runtime)
    assert (again.status, again.decided_at, again.notify_grantor) == (DelegationStatus.APPROVED, first.decided_at,
                                                                      False)
    assert len(_dms_saying(rita, "approved: you can send from")) == 1
    with transaction(runtime.sessions) as session:
        approvals = session.scalars(select(AuditEntry).where(AuditEntry.action == "delegation.approved")).all()
        assert len(approvals) == 1


# ---- expiry ------------------------------------------------------------------------------------------
def test_approve_after_seven_days_says_the_request_expired(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """Approve pressed after the 7 days tells the manager it expired, grants nothing, and the
    recruiter is told it expired."""
    _omar_connected(runtime, clock)
    request = _ask(rita, omar)
    clock.advance(REQUEST_LIFETIME + timedelta(minutes=1))
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=request).ok
    answered = omar.dm_messages()[-1]
    assert "This request expired on" in answered.text and "Approve" not in render_blocks(answered.blocks)
    assert _delegation(runtime).status == DelegationStatus.EXPIRED
    assert _dms_saying(rita, "so it expired") and not _dms_saying(rita, "approved")
    with transaction(runtime.sessions) as session:
        assert sending_mailboxes(session, _user(session, RITA)) == []


def test_the_sweep_expires_unanswered_requests_and_tells_the_recruiter_once(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """The serving process's sweep leaves a request alone before 7 days, expires it after them,
    takes the buttons off the manager's DM and tells the recruiter once even when run twice; Rita
    may ask again."""
    _omar_connected(runtime, clock)
    request = _ask(rita, omar)
    clock.advance(REQUEST_LIFETIME - timedelta(minutes=1))
    assert expire_requests(runtime, _client(workspace)) == 0
    clock.advance(timedelta(minutes=2))
    for expected in (1, 0):
        assert expire_requests(runtime, _client(workspace)) == expected
        deliver_notices(runtime, _client(workspace))
    assert _delegation(runtime).status == DelegationStatus.EXPIRED
    assert len(_dms_saying(rita, "did not answer your request")) == 1
    dm = next(m for m in omar.dm_messages() if m.ts == request.ts)
    assert "expired unanswered" in dm.text and "Approve" not in render_blocks(dm.blocks)
    assert rita.slash("/outreach", f"delegate {OMAR_MENTION}").ok
    assert "Asked Omar Other" in workspace.ephemerals(RITA)[-1].text


# ---- answers -----------------------------------------------------------------------------------------
def test_deny_tells_the_recruiter_and_grants_no_mailbox(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """Deny: the request's buttons go, the recruiter is told it was declined, and only her own
    mailbox is hers to send from."""
    _rita_with_draft(runtime, clock)
    _omar_connected(runtime, clock)
    request = _ask(rita, omar)
    assert omar.click(Action.DELEGATION_DENY.value, in_message=request).ok
    answered = omar.dm_messages()[-1]
    assert "You declined Rita Recruiter's request" in answered.text and "Approve" not in render_blocks(answered.blocks)
    assert _dms_saying(rita, "Omar Other declined your request")
    assert _delegation(runtime).status == DelegationStatus.DENIED
    with transaction(runtime.sessions) as session:
        assert [m.address for m in sending_mailboxes(session, _user(session, RITA))] == ["rita@acme.example"]


def test_a_manager_without_a_mailbox_connects_one_then_approves(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """A manager who has never used Outreach is told how to connect; Approve before connecting
    only says "connect first" (the request keeps waiting); once connected, Approve grants it."""
    request = _ask(rita, omar)
    assert "no mailbox connected" in request.text and "`/outreach connect`" in request.text
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=request).ok
    assert "Connect your mailbox first" in workspace.ephemerals(OMAR)[-1].text
    assert _delegation(runtime).status == DelegationStatus.REQUESTED
    assert rita.dm_messages() == []
    with transaction(runtime.sessions, write=True) as session:
        factories.sandbox_mailbox(session, _user(session, OMAR), clock, address=MANAGER_BOX)
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=request).ok
    assert "Approved" in omar.dm_messages()[-1].text
    assert _dms_saying(rita, f"approved: you can send from {MANAGER_BOX}")
    with transaction(runtime.sessions) as session:
        assert [m.address for m in sending_mailboxes(session, _user(session, RITA))] == [MANAGER_BOX]


@pytest.mark.parametrize("action", [Action.DELEGATION_APPROVE, Action.DELEGATION_APPROVE_NOTIFY])
def test_a_manager_with_two_mailboxes_picks_the_one_to_lend(
        action: Action, rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime,
        clock: FakeClock) -> None:
    """With two mailboxes connected, Approve asks which one (a button per address, and Deny);
    the picked one is lent, and the "tell me about replies" choice is kept through the pick."""
    _omar_connected(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        factories.sandbox_mailbox(session, _user(session, OMAR), clock, address=OTHER_BOX)
    request = _ask(rita, omar)
    assert "you pick which of" in request.text
    assert omar.click(action.value, in_message=request).ok
    choice = omar.dm_messages()[-1]
    assert choice.ts == request.ts  # the request itself now asks
    shown = render_blocks(choice.blocks)
    assert f"Approve {MANAGER_BOX}" in shown and f"Approve {OTHER_BOX}" in shown and "Deny" in shown
    assert _delegation(runtime).status == DelegationStatus.REQUESTED
    action_id, value = _button(choice, f"Approve {OTHER_BOX}")
    assert omar.click(action_id, in_message=choice, value=value).ok
    assert "Approved" in omar.dm_messages()[-1].text and OTHER_BOX in omar.dm_messages()[-1].text
    assert "asks to send recruiting email" in omar.dm_messages()[-1].text  # the request stays readable
    assert _dms_saying(rita, f"approved: you can send from {OTHER_BOX}")
    with transaction(runtime.sessions) as session:
        granted = session.scalar(select(Delegation))
        assert granted is not None and granted.mailbox is not None
        assert (granted.status, granted.mailbox.address) == (DelegationStatus.APPROVED, OTHER_BOX)
        assert granted.notify_grantor is (action == Action.DELEGATION_APPROVE_NOTIFY)
        assert [m.address for m in sending_mailboxes(session, _user(session, RITA))] == [OTHER_BOX]


# ---- one campaign, and refused requests --------------------------------------------------------------
def test_a_request_for_one_draft_campaign_moves_it_to_the_managers_mailbox(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """Asked for one draft campaign: once approved, that campaign (only) sends from the manager's
    mailbox, and it does send from there when started."""
    _rita_with_draft(runtime, clock)
    _omar_connected(runtime, clock)
    request = _ask(rita, omar, f"{OMAR_MENTION} backend q4")
    assert "send *Backend Q4*" in workspace.ephemerals(RITA)[-1].text
    assert "for the campaign *Backend Q4*" in request.text
    assert omar.click(Action.DELEGATION_APPROVE.value, in_message=request).ok
    assert _dms_saying(rita, f"*Backend Q4* now sends from {MANAGER_BOX}")
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None and campaign.mailbox.address == MANAGER_BOX
        rita_row = _user(session, RITA)
        assert [m.address for m in sending_mailboxes(session, rita_row)] == ["rita@acme.example"]  # one campaign only
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    post = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    assert [recipient_of(m) for m in post.sent(MANAGER_BOX)] == ["ana0@work.example"]
    assert post.sent("rita@acme.example") == []


def test_a_request_for_a_started_campaign_is_refused(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """A campaign already started keeps its mailbox: asking for it is refused with why and what
    to do instead, and nothing is asked of the manager."""
    _rita_with_draft(runtime, clock)
    _omar_connected(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    assert rita.slash("/outreach", f"delegate {OMAR_MENTION} Backend Q4").ok
    said = workspace.ephemerals(RITA)[-1].text
    assert "has already been started from rita@acme.example" in said and "Create a new campaign" in said
    assert omar.dm_messages() == []
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Delegation)) is None


@pytest.mark.parametrize(("args", "words"), [
    ("", "Mention the hiring manager"),
    ("@omar", "Pick the person from the list"),
    (f"<@{RITA}|rita>", "That is you"),
    (f"{OMAR_MENTION} No such campaign", "No campaign called 'No such campaign'"),
])
def test_a_request_without_a_manager_to_ask_is_refused_with_why(
        args: str, words: str, rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    """No mention, a typed "@omar" that is not a mention, oneself, or an unknown campaign: a clear
    ephemeral message, and no request is made."""
    assert rita.slash("/outreach", f"delegate {args}".strip()).ok
    assert words in workspace.ephemerals(RITA)[-1].text
    assert omar.dm_messages() == []
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Delegation)) is None


def test_asking_twice_while_the_first_request_waits_is_refused(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """A second request while one waits says when she asked and until when it waits; the manager
    gets one DM, and one request exists."""
    _omar_connected(runtime, clock)
    _ask(rita, omar)
    clock.advance(timedelta(days=1))
    assert rita.slash("/outreach", f"delegate {OMAR_MENTION}").ok
    said = workspace.ephemerals(RITA)[-1].text
    assert "You asked Omar Other on" in said and "waits for their answer until" in said
    assert len(omar.dm_messages()) == 1
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(Delegation)).all()) == 1


# ---- the listing's reply-alert switch ----------------------------------------------------------------
def test_the_reply_alert_switch_flips_notify_grantor(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """In `/outreach delegations` the manager turns reply alerts on, then off again; the listing
    shows the current state; the recruiter, pressing the switch in a copy, changes nothing."""
    _omar_connected(runtime, clock)
    omar.click(Action.DELEGATION_APPROVE.value, in_message=_ask(rita, omar))
    assert omar.slash("/outreach", "delegations").ok
    listing = workspace.ephemerals(OMAR)[-1]
    assert "replies go to them only" in render_blocks(listing.blocks)
    assert omar.click(Action.DELEGATION_REPLIES.value, in_message=listing).ok
    assert "You will hear of replies" in workspace.ephemerals(OMAR)[-1].text
    assert _delegation(runtime).notify_grantor is True
    assert omar.slash("/outreach", "delegations").ok
    listing = workspace.ephemerals(OMAR)[-1]
    assert "you hear of replies" in render_blocks(listing.blocks)
    copy = workspace.add_message("C0HIRING", OMAR, listing.text, blocks=listing.blocks)
    rita.click(Action.DELEGATION_REPLIES.value, in_message=copy)
    assert "not one you granted" in workspace.ephemerals(RITA)[-1].text
    assert _delegation(runtime).notify_grantor is True
    assert omar.click(Action.DELEGATION_REPLIES.value, in_message=listing).ok
    assert "go to Rita Recruiter only" in workspace.ephemerals(OMAR)[-1].text
    assert _delegation(runtime).notify_grantor is False


@pytest.mark.parametrize(("who", "words"), [
    ("U0GHOST", "Slack knows no one in this workspace by that mention (U0GHOST)"),
    ("U0GONE", "Gina Gone's Slack account is deactivated: mention your hiring manager who is still in the workspace"),
    ("U0BOT", "outreach is an app, not a person: mention your hiring manager"),
])
def test_asking_someone_who_is_not_a_person_says_plainly_who_it_is(
        who: str, words: str, rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    """users.info answers user_not_found for someone Slack does not know (a person of another
    organisation, say), "deleted": true for a deactivated account and "is_bot" for an app: each gets
    its own plain answer, never "Something went wrong", and no request is made."""
    workspace.add_user("U0GONE", name="gina", real_name="Gina Gone", deactivated=True)
    assert rita.slash("/outreach", f"delegate <@{who}>").ok
    said = workspace.ephemerals(RITA)[-1].text
    assert words in said and "Something went wrong" not in said
    assert [m for m in workspace.messages() if m.channel != rita.dm] == []
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Delegation)) is None
