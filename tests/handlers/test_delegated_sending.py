"""Sending from a hiring manager's mailbox by delegation, at the dispatcher and sync level: Rita (a
recruiter) runs a campaign from Omar's (the manager's) sandbox mailbox after he approved. A revoke,
a disconnect or a lost sign-in stops every send from his mailbox for her, even a send already
claimed; reconnecting offers her the resume of her own campaigns only; replies in his mailbox reach
her (and him when he chose); the email carries his name. State is built through the services, the
dispatcher and sync are the real jobs on a FakeClock, and notices are delivered to a local Slack."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

import pytest
from slack_bolt import App
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Delegation,
    DelegationStatus,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    MailboxSendCount,
    MailboxStatus,
    Notification,
    OutboundMessage,
    OutboundStatus,
    PauseReason,
    Provider,
    User,
)
from bot.runtime import Runtime
from bot.services import connections, delegations
from bot.services.campaigns import create_campaign, enroll, resume_campaign, start_campaign, upcoming_sends
from bot.services.candidates import add_candidate
from bot.services.directory import Profile, ensure_user
from bot.services.mailboxes import sending_mailboxes
from bot.services.sequences import StepDraft, create_sequence
from handlers.ids import Action
from handlers.notices import deliver_notices
from providers.sandbox import PostOffice, recipient_of
from bot.services.send_counts import hour_of
from scheduling.claims import Claim
from scheduling.dispatcher import Dispatcher, DispatchReport
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import OMAR, RITA, client_for

MANAGER_BOX, OWN_BOX = "omar@acme.example", "rita@acme.example"
O = OutboundMessage


# -- notices through the local Slack workspace (tests/handlers/conftest.py) --------------------------

def _deliver(runtime: Runtime, workspace: LocalSlack) -> None:
    deliver_notices(runtime, client_for(workspace))


def _dm_texts(workspace: LocalSlack, slack_id: str) -> list[str]:
    return [m.text for m in workspace.messages(channel=workspace.dm_channel(slack_id))]


# -- the world: Rita, Omar, a mailbox each, and Omar's approval ------------------------------------

@dataclass(frozen=True)
class World:
    rita: int
    omar: int
    manager_box: int
    own_box: int
    delegation: int


def _world(runtime: Runtime, clock: FakeClock, *, notify_grantor: bool = False) -> World:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        omar = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(
            OMAR, name="Omar Other", email=MANAGER_BOX, tz="Europe/Paris"))
        own = factories.sandbox_mailbox(session, rita, clock, address=OWN_BOX)
        managers = factories.sandbox_mailbox(session, omar, clock, address=MANAGER_BOX)
        asked = delegations.request(session, recruiter=rita, manager=omar, campaign=None, clock=clock)
        answer = delegations.answer(session, user=omar, delegation_id=asked.id, approve=True, clock=clock,
                                    notify_grantor=notify_grantor)
        assert answer.final and asked.status == DelegationStatus.APPROVED
        return World(rita.id, omar.id, managers.id, own.id, asked.id)


def _start(runtime: Runtime, clock: FakeClock, owner_id: int, mailbox_id: int, name: str, who: str) -> int:
    """A started two-step campaign with one candidate, `who`@work.example."""
    with transaction(runtime.sessions, write=True) as session:
        owner, mailbox = session.get(User, owner_id), session.get(Mailbox, mailbox_id)
        assert owner is not None and mailbox is not None
        sequence = create_sequence(session, owner=owner, name=f"{name} sequence", clock=clock, steps=[
            StepDraft("Role at {{ company }}", "Hi {{ first_name }},\nWould you like to talk?"),
            StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=2),
        ])
        campaign = create_campaign(session, owner=owner, sequence=sequence, mailbox=mailbox, name=name, clock=clock)
        person = add_candidate(session, added_by=owner, name=f"{who.title()} Candidate", fields={"company": "Acme"},
                               addresses=[(f"{who}@work.example", AddressKind.WORK)], clock=clock)
        enroll(session, campaign=campaign, candidates=[person], clock=clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        return campaign.id


def _post(runtime: Runtime) -> PostOffice:
    return PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]


def _sent_to(runtime: Runtime, mailbox: str) -> list[str]:
    return [recipient_of(m) for m in _post(runtime).sent(mailbox)]


def _campaign(runtime: Runtime, campaign_id: int) -> tuple[CampaignStatus, PauseReason | None]:
    with transaction(runtime.sessions) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.status, campaign.pause_reason


def _rows(runtime: Runtime, campaign_id: int) -> list[tuple[int, OutboundStatus, int]]:
    """(step, status, attempts) of the campaign's outbound rows."""
    with transaction(runtime.sessions) as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(O.step_position, O.status, O.attempts).join(Enrollment, Enrollment.id == O.enrollment_id)
            .where(Enrollment.campaign_id == campaign_id).order_by(O.step_position, O.id)).all()]


def _notices(runtime: Runtime, user_id: int) -> list[Notification]:
    with transaction(runtime.sessions) as session:
        found = list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                     .order_by(Notification.id)))
        session.expunge_all()
        return found


def _sends_counted(session: Session, mailbox_id: int, hour: object) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(MailboxSendCount.sends), 0)).where(
        MailboxSendCount.mailbox_id == mailbox_id, MailboxSendCount.hour == hour)) or 0)


def _dispatcher(runtime: Runtime, clock: FakeClock) -> Dispatcher:
    return Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1)


def _revoke(runtime: Runtime, clock: FakeClock, world: World) -> None:
    with transaction(runtime.sessions, write=True) as session:
        omar = session.get(User, world.omar)
        assert omar is not None
        delegations.revoke(session, user=omar, delegation_id=world.delegation, clock=clock)


def _set_delegation(runtime: Runtime, world: World, **values: object) -> None:
    """Change the delegation row alone, bypassing the services (and the pause a revoke makes)."""
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Delegation).where(Delegation.id == world.delegation).values(**values))


# -- 1. revoked while a send is due ------------------------------------------------------------------

def test_revoked_while_step_one_is_due_nothing_leaves_the_managers_mailbox(
        runtime: Runtime, clock: FakeClock) -> None:
    """A revoke with step 1 due pauses Rita's campaign from Omar's mailbox (delegation revoked) and
    nothing is sent from it for days; her campaign from her own mailbox sends both steps as planned."""
    world = _world(runtime, clock)
    delegated = _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    own = _start(runtime, clock, world.rita, world.own_box, "Data Q4", "ben")
    clock.advance(timedelta(hours=1))  # step 1 of both is due
    _revoke(runtime, clock, world)
    dispatch_for(runtime, clock, timedelta(days=4))
    assert _sent_to(runtime, MANAGER_BOX) == []
    assert _campaign(runtime, delegated) == (CampaignStatus.PAUSED, PauseReason.DELEGATION_REVOKED)
    assert _rows(runtime, delegated) == [(1, OutboundStatus.PENDING, 0)]  # never even tried
    assert _sent_to(runtime, OWN_BOX) == ["ben@work.example", "ben@work.example"]  # step 1, then the follow-up
    assert _campaign(runtime, own) == (CampaignStatus.FINISHED, None)


# -- 2. revoked (or answered) after the claim ------------------------------------------------------

@pytest.mark.parametrize("withdraw", ["revoke", "delegation_row_only"])
def test_a_revoke_after_the_claim_puts_the_row_back_untouched_and_uncounted(
        runtime: Runtime, clock: FakeClock, withdraw: str) -> None:
    """A row claimed (`sending`, counted against the cap) before the manager revokes never reaches
    the provider: it is pending again with its attempts as before the claim, and the mailbox's hour
    counts no send. The same when only the delegation row changed and the campaign still runs (the
    re-check just before sending reads the delegation itself)."""
    world = _world(runtime, clock)
    campaign = _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    clock.advance(timedelta(hours=1))
    [(_, _, attempts_before)] = _rows(runtime, campaign)
    dispatcher = _dispatcher(runtime, clock)
    claim = dispatcher._claim()
    claimed_hour = hour_of(clock.now())
    assert claim.rows.keys() == {world.manager_box} and claim.count == 1
    assert _rows(runtime, campaign) == [(1, OutboundStatus.SENDING, attempts_before + 1)]
    with transaction(runtime.sessions) as session:
        assert _sends_counted(session, world.manager_box, claimed_hour) == 1
    if withdraw == "revoke":
        _revoke(runtime, clock, world)
    else:
        _set_delegation(runtime, world, status=DelegationStatus.REVOKED)
    report = DispatchReport()
    dispatcher._send(claim, report)
    assert _sent_to(runtime, MANAGER_BOX) == []
    assert (report.sent, report.failed, report.retrying) == (0, 0, 0)
    assert _rows(runtime, campaign) == [(1, OutboundStatus.PENDING, attempts_before)]
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(O))
        assert row is not None and row.claimed_by is None and row.lease_expires_at is None
        assert _sends_counted(session, world.manager_box, claimed_hour) == 0
    assert dispatcher.run_until_idle().claimed == 0  # and it is not taken again
    dispatcher.close()


def _step_two_claimed(runtime: Runtime, clock: FakeClock) -> tuple[World, int, Dispatcher, Claim]:
    """Step 1 sent from Omar's mailbox, step 2 due and claimed: (world, campaign, dispatcher, claim)."""
    world = _world(runtime, clock)
    campaign = _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    sync_mailboxes(runtime, clock)  # the mailbox's cursor starts from now
    dispatch_for(runtime, clock, timedelta(hours=1))
    assert _sent_to(runtime, MANAGER_BOX) == ["ana@work.example"]
    with transaction(runtime.sessions) as session:
        due = session.scalar(select(O.due_at).where(O.status == OutboundStatus.PENDING))
    assert due is not None
    clock.set(due)
    dispatcher = _dispatcher(runtime, clock)
    claim = dispatcher._claim()
    assert claim.count == 1
    assert _rows(runtime, campaign)[1] == (2, OutboundStatus.SENDING, 1)
    return world, campaign, dispatcher, claim


def test_a_reply_recorded_after_the_claim_stops_that_send(runtime: Runtime, clock: FakeClock) -> None:
    """Step 2 is claimed, then Ana's reply is read by the sync: step 2 never reaches the provider,
    the claim's attempt and cap count are undone, and Rita hears of the reply."""
    world, campaign, dispatcher, claim = _step_two_claimed(runtime, clock)
    claimed_hour = hour_of(clock.now())
    post = _post(runtime)
    post.reply(MANAGER_BOX, post.sent(MANAGER_BOX)[0], "Yes, let's talk.", clock.now())
    sync_mailboxes(runtime, clock)  # two minutes later: within the claim's five-minute lease
    report = DispatchReport()
    dispatcher._send(claim, report)
    dispatcher.close()
    assert _sent_to(runtime, MANAGER_BOX) == ["ana@work.example"]
    assert report.sent == 0
    [_, (step, status, attempts)] = _rows(runtime, campaign)
    assert step == 2 and status != OutboundStatus.SENT and attempts == 0
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.REPLIED
        assert _sends_counted(session, world.manager_box, claimed_hour) == 0
    assert [n.kind for n in _notices(runtime, world.rita)][-1] == "reply"
    dispatch_for(runtime, clock, timedelta(days=4))
    assert _sent_to(runtime, MANAGER_BOX) == ["ana@work.example"]


def test_a_step_withdrawn_because_the_candidate_replied_is_cancelled_not_left_planned(
        runtime: Runtime, clock: FakeClock) -> None:
    """After a reply lands between claim and send, the withdrawn step 2 is cancelled like every other
    planned step of a candidate who replied, so nothing shows it as still to come."""
    _, campaign, dispatcher, claim = _step_two_claimed(runtime, clock)
    post = _post(runtime)
    post.reply(MANAGER_BOX, post.sent(MANAGER_BOX)[0], "Yes, let's talk.", clock.now())
    sync_mailboxes(runtime, clock)
    dispatcher._send(claim, DispatchReport())
    dispatcher.close()
    assert _campaign(runtime, campaign) == (CampaignStatus.FINISHED, None)
    assert _rows(runtime, campaign)[1] == (2, OutboundStatus.CANCELLED, 0)
    with transaction(runtime.sessions) as session:
        row = session.get(Campaign, campaign)
        assert row is not None and upcoming_sends(session, row, viewer_id=row.owner_id) == ([], 0)


# -- 3. the claim's own check -----------------------------------------------------------------------

@pytest.mark.parametrize("change", ["revoked_row", "scoped_to_another_campaign"])
def test_an_active_campaign_without_a_live_delegation_is_never_claimed(
        runtime: Runtime, clock: FakeClock, change: str) -> None:
    """Defence in depth: with the delegation row revoked behind the services' back (no pause), or
    approved only for another of Rita's campaigns, her running campaign's next step from Omar's
    mailbox is never claimed, though the campaign stays Active."""
    world = _world(runtime, clock)
    campaign = _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    other = _start(runtime, clock, world.rita, world.own_box, "Data Q4", "ben")
    dispatch_for(runtime, clock, timedelta(hours=1))
    assert _sent_to(runtime, MANAGER_BOX) == ["ana@work.example"]
    if change == "revoked_row":
        _set_delegation(runtime, world, status=DelegationStatus.REVOKED)
    else:
        _set_delegation(runtime, world, campaign_id=other)
    dispatch_for(runtime, clock, timedelta(days=4))
    assert _sent_to(runtime, MANAGER_BOX) == ["ana@work.example"]  # step 2 never went
    assert _campaign(runtime, campaign) == (CampaignStatus.ACTIVE, None)
    assert _rows(runtime, campaign) == [(1, OutboundStatus.SENT, 1), (2, OutboundStatus.PENDING, 0)]


# -- 4. the manager disconnects the mailbox -------------------------------------------------------

def test_the_manager_disconnecting_ends_the_delegation_for_good(
        runtime: Runtime, clock: FakeClock, workspace: LocalSlack) -> None:
    """Omar disconnects his mailbox: Rita's campaign pauses (mailbox disconnected), the delegation is
    revoked, the mailbox leaves her choices, she is told; her resume is refused naming Omar; and
    Omar reconnecting the same address does not bring her access back."""
    world = _world(runtime, clock)
    campaign = _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    _deliver(runtime, workspace)  # the request and answer DMs
    with transaction(runtime.sessions, write=True) as session:
        omar = session.get(User, world.omar)
        assert omar is not None
        connections.disconnect(session, user=omar, mailbox_id=world.manager_box, clock=clock)
    assert _campaign(runtime, campaign) == (CampaignStatus.PAUSED, PauseReason.MAILBOX_DISCONNECTED)
    with transaction(runtime.sessions) as session:
        rita = session.get(User, world.rita)
        assert rita is not None
        assert session.get(Delegation, world.delegation).status == DelegationStatus.REVOKED  # type: ignore[union-attr]
        assert [m.address for m in sending_mailboxes(session, rita)] == [OWN_BOX]
    _deliver(runtime, workspace)
    told = _dm_texts(workspace, RITA)[-2:]
    assert "Omar Other's mailbox omar@acme.example was disconnected by its owner, so *Backend Q4* is paused" in told[0]
    assert "Omar Other disconnected omar@acme.example from Outreach, so your access to it ended" in told[1]

    def refusal() -> str:
        with pytest.raises(UserError) as refused, transaction(runtime.sessions, write=True) as session:
            resume_campaign(session, campaign=session.get(Campaign, campaign), clock=clock, rng=runtime.rng)  # type: ignore[arg-type]
        return str(refused.value)

    assert "omar@acme.example is disconnected: Omar Other, its owner, must connect it again" in refusal()
    with transaction(runtime.sessions, write=True) as session:
        omar = session.get(User, world.omar)
        assert omar is not None
        again = connections.complete_connect(session, owner=omar, provider=Provider.SANDBOX, address=MANAGER_BOX,
                                             credentials=None, enhanced=False, clock=clock)
        assert again.id == world.manager_box and again.status == MailboxStatus.CONNECTED
    with transaction(runtime.sessions) as session:
        rita = session.get(User, world.rita)
        assert rita is not None
        assert session.get(Delegation, world.delegation).status == DelegationStatus.REVOKED  # type: ignore[union-attr]
        assert [m.address for m in sending_mailboxes(session, rita)] == [OWN_BOX]
    assert "Omar Other no longer lets you send from omar@acme.example" in refusal()
    assert "resume_offer" not in [n.kind for n in _notices(runtime, world.rita)]
    dispatch_for(runtime, clock, timedelta(days=3))
    assert _sent_to(runtime, MANAGER_BOX) == []
    assert _campaign(runtime, campaign) == (CampaignStatus.PAUSED, PauseReason.MAILBOX_DISCONNECTED)


# -- 5. the manager's mailbox loses its sign-in ------------------------------------------------------

def test_a_lost_sign_in_tells_the_recruiter_and_she_resumes_only_her_own_campaigns(
        runtime: Runtime, clock: FakeClock, workspace: LocalSlack, app: App) -> None:
    """Omar's mailbox needs reconnecting: Rita is told, naming her campaign only. Once Omar signs in
    again, Rita (not only Omar) gets a resume offer; her click resumes her campaign, while Omar's
    own campaign from the same mailbox stays paused until he resumes it."""
    world = _world(runtime, clock)
    ritas = _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    omars = _start(runtime, clock, world.omar, world.manager_box, "Design Q4", "cid")
    with transaction(runtime.sessions, write=True) as session:
        mailbox = session.get(Mailbox, world.manager_box)
        assert mailbox is not None
        assert connections.mark_needs_reconnect(session, mailbox=mailbox, reason="invalid_grant", clock=clock)
    assert _campaign(runtime, ritas) == _campaign(runtime, omars) == (CampaignStatus.PAUSED, PauseReason.NEEDS_RECONNECT)
    [lost] = [n for n in _notices(runtime, world.rita) if n.kind == "needs_reconnect"]
    assert "omar@acme.example lost its connection and needs Omar Other to sign in again" in lost.text
    assert "*Backend Q4* is paused" in lost.text and "Design Q4" not in lost.text
    dispatch_for(runtime, clock, timedelta(hours=2))
    assert _sent_to(runtime, MANAGER_BOX) == []
    with transaction(runtime.sessions, write=True) as session:
        omar = session.get(User, world.omar)
        assert omar is not None
        connections.complete_connect(session, owner=omar, provider=Provider.SANDBOX, address=MANAGER_BOX,
                                     credentials=None, enhanced=False, clock=clock)
    [offer] = [n for n in _notices(runtime, world.rita) if n.kind == "resume_offer"]
    assert (offer.action, offer.action_value) == ("resume_all", str(world.manager_box))
    assert "*Backend Q4*" in offer.text and "Design Q4" not in offer.text
    [his_offer] = [n for n in _notices(runtime, world.omar) if n.kind == "resume_offer"]
    assert "*Design Q4*" in his_offer.text and "Backend Q4" not in his_offer.text
    _deliver(runtime, workspace)
    rita = Person(workspace, RITA, BoltTarget(app))
    dm = rita.dm_messages()[-1]
    assert "Omar Other connected omar@acme.example again" in dm.text and "Resume all" in render_blocks(dm.blocks)
    assert rita.click(Action.RESUME_ALL.value, in_message=dm).ok  # connections.resume_all(user=rita)
    assert _campaign(runtime, ritas)[0] == CampaignStatus.SCHEDULED
    assert _campaign(runtime, omars) == (CampaignStatus.PAUSED, PauseReason.NEEDS_RECONNECT)
    dispatch_for(runtime, clock, timedelta(hours=2))
    assert _sent_to(runtime, MANAGER_BOX) == ["ana@work.example"]  # Rita's; Omar's waits for him
    with transaction(runtime.sessions, write=True) as session:
        omar = session.get(User, world.omar)
        assert omar is not None
        assert connections.resume_all(session, user=omar, mailbox_id=world.manager_box, clock=clock,
                                      rng=runtime.rng) == 1
    dispatch_for(runtime, clock, timedelta(hours=2))
    assert sorted(_sent_to(runtime, MANAGER_BOX)) == ["ana@work.example", "cid@work.example"]


# -- 6. a reply in the manager's mailbox -------------------------------------------------------------

@pytest.mark.parametrize("notify_grantor", [True, False])
def test_a_reply_in_the_managers_mailbox_tells_the_recruiter_and_the_manager_if_he_chose(
        runtime: Runtime, clock: FakeClock, workspace: LocalSlack, notify_grantor: bool) -> None:
    """A candidate's reply read from Omar's mailbox reaches Rita as the reply notice; Omar gets a copy
    only when he chose to hear of replies on approving."""
    world = _world(runtime, clock, notify_grantor=notify_grantor)
    _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    post = _post(runtime)
    post.reply(MANAGER_BOX, post.sent(MANAGER_BOX)[0], "Happy to talk.", clock.now())
    sync_mailboxes(runtime, clock)
    [reply] = [n for n in _notices(runtime, world.rita) if n.kind.startswith("reply")]
    assert reply.kind == "reply" and reply.action == "reply"
    copies = [n for n in _notices(runtime, world.omar) if n.kind.startswith("reply")]
    assert [n.kind for n in copies] == (["reply_copy"] if notify_grantor else [])
    _deliver(runtime, workspace)
    assert "*Ana Candidate* replied to *Backend Q4*" in _dm_texts(workspace, RITA)[-1]
    his = [t for t in _dm_texts(workspace, OMAR) if "replied in your mailbox omar@acme.example" in t]
    assert len(his) == (1 if notify_grantor else 0)
    if notify_grantor:
        assert "to *Backend Q4*, which Rita Recruiter runs" in his[0]


# -- 7. the manager's name in From --------------------------------------------------------------------

def test_email_from_the_managers_mailbox_carries_the_managers_name(runtime: Runtime, clock: FakeClock) -> None:
    """Rita's email from Omar's mailbox is From "Omar Other"; from her own mailbox, From "Rita Recruiter"."""
    world = _world(runtime, clock)
    _start(runtime, clock, world.rita, world.manager_box, "Backend Q4", "ana")
    _start(runtime, clock, world.rita, world.own_box, "Data Q4", "ben")
    dispatch_for(runtime, clock, timedelta(hours=1))
    [managers] = _post(runtime).sent(MANAGER_BOX)
    [own] = _post(runtime).sent(OWN_BOX)
    assert parseaddr(str(managers["From"])) == ("Omar Other", MANAGER_BOX)
    assert parseaddr(str(own["From"])) == ("Rita Recruiter", OWN_BOX)
