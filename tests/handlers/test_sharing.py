"""Who sees what, as a team uses it: a campaign is Rita's alone until she shares it (view or edit),
an address she added by hand stays hers on every surface, the hiring manager whose mailbox a campaign
sends from sees it and may pause it, and workspace admins list names, owners and counts only."""
from __future__ import annotations

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks, render_view
from bot.models import AddressKind, Campaign, CampaignStatus, Enrollment, User
from bot.runtime import Runtime
from bot.services import delegations
from bot.services.campaigns import edit_candidate_in_campaign, start_campaign
from bot.services.directory import Profile, ensure_user
from handlers.commands import COMMAND
from handlers.ids import Action
from handlers.notices import deliver_notices
from tests import factories
from tests.handlers.conftest import OMAR, RITA

BY_HAND = "ana0.private@home.example"  # the address Rita added by hand: hers alone


def _ritas_campaign(runtime: Runtime, clock: FakeClock, *, mailbox_owner: str | None = None) -> int:
    """Rita's started campaign with one candidate, to whom she added an address by hand. With
    `mailbox_owner`, it sends from that person's mailbox, which they let Rita use."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        if mailbox_owner:
            manager = ensure_user(session, slack_team_id="T0LOCAL", clock=clock,
                                  profile=Profile(mailbox_owner, name="Omar Other"))
            mailbox = factories.sandbox_mailbox(session, manager, clock, address="omar@acme.example")
            asked = delegations.request(session, recruiter=rita, manager=manager, campaign=None, clock=clock)
            delegations.answer(session, user=manager, delegation_id=asked.id, approve=True, clock=clock)
        else:
            mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        enrollment = session.scalar(select(Enrollment).where(Enrollment.campaign_id == campaign.id))
        edit_candidate_in_campaign(session, user=rita, enrollment=enrollment, send_to=BY_HAND, new_address=BY_HAND,
                                   new_kind=AddressKind.PERSONAL, use_first=False, fields={}, clock=clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        return campaign.id


def _last(person: Person) -> str:
    shown = person.ephemerals()[-1]
    return render_blocks(shown.blocks) if shown.blocks else shown.text


def _status(runtime: Runtime, campaign_id: int) -> tuple[CampaignStatus, int | None]:
    with transaction(runtime.sessions) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.status, campaign.paused_by_id


def test_nobody_sees_a_campaign_until_it_is_shared_and_then_not_the_address_added_by_hand(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: object) -> None:
    campaign_id = _ritas_campaign(runtime, clock)
    omar.slash(COMMAND, "status Backend Q4")
    assert "No campaign called 'Backend Q4'" in _last(omar)
    omar.slash(COMMAND, "when Backend Q4")
    assert "No campaign called 'Backend Q4'" in _last(omar)
    omar.open_home()
    assert "Backend Q4" not in render_view(workspace.home(OMAR) or {})

    rita.slash(COMMAND, f"share Backend Q4 <@{OMAR}|omar> view")
    assert "shared with Omar Other to view" in _last(rita)
    assert any("Rita Recruiter shared the campaign *Backend Q4* with you" in m.text for m in omar.dm_messages())
    assert "Backend Q4" in render_view(workspace.home(OMAR) or {})  # his Home is redrawn at once

    omar.slash(COMMAND, "status Backend Q4")
    shown, message = _last(omar), omar.ephemerals()[-1]
    assert "Ana Candidate0" in shown and "shared with you to view" in shown
    assert BY_HAND not in shown and "@" not in shown.split("Ana Candidate0")[1].split("\n")[0]
    assert not [e for b in message.blocks for e in b.get("elements", []) if e.get("type") == "button"]
    assert all("accessory" not in b for b in message.blocks if b.get("type") == "section")  # no candidate menu
    omar.slash(COMMAND, "when Backend Q4")
    assert "Ana Candidate0" in _last(omar) and BY_HAND not in _last(omar)
    rita.slash(COMMAND, "when Backend Q4")
    assert BY_HAND in _last(rita)  # hers, so she sees it

    omar.forge_action(Action.CAMPAIGN_PAUSE.value, value=str(campaign_id))
    assert "shared 'Backend Q4' with you to view, not to change" in _last(omar)
    assert _status(runtime, campaign_id)[0] == CampaignStatus.SCHEDULED


def test_an_editor_pauses_and_the_owner_is_told_who(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: object) -> None:
    campaign_id = _ritas_campaign(runtime, clock)
    rita.slash(COMMAND, f"share Backend Q4 <@{OMAR}|omar> edit")
    omar.slash(COMMAND, "status Backend Q4")
    omar.click(Action.CAMPAIGN_PAUSE.value, in_message=omar.ephemerals()[-1])
    status, paused_by = _status(runtime, campaign_id)
    assert status == CampaignStatus.PAUSED and paused_by is not None
    deliver_notices(runtime, app.client)  # type: ignore[attr-defined]
    assert any("Omar Other paused your campaign *Backend Q4*" in m.text for m in rita.dm_messages())
    rita.slash(COMMAND, "status Backend Q4")
    assert "paused by Omar Other" in _last(rita)
    omar.slash(COMMAND, "status Backend Q4")
    assert "paused by you" in _last(omar)
    omar.slash(COMMAND, "resume")  # an editor resumes too: the list offers it
    assert "Backend Q4" in render_view(workspace.open_views(OMAR)[-1])
    omar.close_view()
    omar.slash(COMMAND, f"share Backend Q4 <@{RITA}|rita> view")  # an editor does not share
    assert "Only Rita Recruiter, who owns 'Backend Q4', can share it" in _last(omar)


def test_the_owner_removes_a_share_from_the_campaign_message_or_with_unshare(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    workspace.add_user("U0TESS", name="tess", real_name="Tess Teammate")
    _ritas_campaign(runtime, clock)
    rita.slash(COMMAND, f"share Backend Q4 <@{OMAR}|omar> view")
    rita.slash(COMMAND, "share Backend Q4 <@U0TESS|tess> edit")
    rita.slash(COMMAND, "status Backend Q4")  # redraws her campaign message, which lists the shares
    message = next(m for m in reversed(rita.dm_messages()) if m.blocks and m.blocks[0]["type"] == "header")
    listed = render_blocks(message.blocks)
    assert "Shared with 2 teammates" in listed and "can view" in listed and "can edit" in listed
    rita.click(Action.SHARE_REVOKE.value, in_message=message, value=next(
        b["accessory"]["value"] for b in message.blocks
        if b.get("accessory", {}).get("action_id") == Action.SHARE_REVOKE.value and OMAR in str(b)))
    assert "no longer shared with Omar Other" in _last(rita)
    redrawn = render_blocks(next(m for m in rita.dm_messages() if m.ts == message.ts).blocks)
    assert "Shared with 1 teammate" in redrawn and "can view" not in redrawn  # the message is redrawn at once
    omar.slash(COMMAND, "status Backend Q4")
    assert "No campaign called 'Backend Q4'" in _last(omar)
    rita.slash(COMMAND, "unshare Backend Q4 <@U0TESS|tess>")
    assert "no longer shared with Tess Teammate" in _last(rita)
    rita.slash(COMMAND, "unshare Backend Q4 <@U0TESS|tess>")
    assert "is not shared with" in _last(rita)


def test_share_says_what_to_fix(rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    workspace.add_user("U0BOTTY", name="botty", real_name="Some Bot", is_bot=True)
    _ritas_campaign(runtime, clock)
    for args, said in [("share Backend Q4", "mention the teammate"),
                       ("share Backend Q4 @omar", "Pick the teammate from the list"),
                       (f"share Backend Q4 <@{OMAR}|omar> admin", "Share to `view` or to `edit`"),
                       (f"share Nope <@{OMAR}|omar>", "No campaign called 'Nope'"),
                       (f"share Backend Q4 <@{RITA}|rita>", "is yours already"),
                       ("share Backend Q4 <@U0BOTTY|botty>", "Some Bot is an app, not a person: mention a teammate"),
                       ("share Backend Q4 <@U0GHOST|ghost>", "Slack knows no one in this workspace by that mention (U0GHOST)")]:
        rita.slash(COMMAND, args)
        assert said in _last(rita), (args, _last(rita))
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(User).where(User.slack_user_id == "U0BOTTY")) is None


def test_the_hiring_manager_sees_and_may_pause_what_sends_from_their_mailbox(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _ritas_campaign(runtime, clock, mailbox_owner=OMAR)
    omar.slash(COMMAND, "status Backend Q4")
    shown = _last(omar)
    assert "Ana Candidate0" in shown and "sends from your mailbox" in shown and BY_HAND not in shown
    buttons = [e["action_id"] for b in omar.ephemerals()[-1].blocks for e in b.get("elements", [])
               if e.get("type") == "button"]
    assert buttons == [Action.CAMPAIGN_PAUSE.value]  # pause, and nothing else
    omar.forge_action(Action.CAMPAIGN_ADD_CANDIDATES.value, value=str(campaign_id))
    assert "sends from your mailbox, so you can see it and pause it" in _last(omar)
    omar.click(Action.CAMPAIGN_PAUSE.value, in_message=omar.ephemerals()[-2])
    assert _status(runtime, campaign_id)[0] == CampaignStatus.PAUSED
    omar.forge_action(Action.CAMPAIGN_RESUME.value, value=str(campaign_id))
    assert _status(runtime, campaign_id)[0] == CampaignStatus.PAUSED  # resuming is Rita's
    omar.open_home()
    assert "Rita Recruiter's, sends from your mailbox" in render_view(workspace.home(OMAR) or {})


def test_admins_list_every_campaign_by_name_owner_and_counts_never_an_address(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: object) -> None:
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", BoltTarget(app))  # type: ignore[arg-type]
    _ritas_campaign(runtime, clock)
    ada.slash(COMMAND, "admin campaigns")
    listed = _last(ada)
    assert "Backend Q4" in listed and "Rita Recruiter" in listed and "1 candidate ·" in listed
    assert "@" not in listed and "Ana Candidate0" not in listed
    omar.slash(COMMAND, "admin campaigns")
    assert "Only workspace admins and owners can list everyone's campaigns" in _last(omar)
