"""Editing a campaign through the local workspace: `/outreach campaign edit` and the Edit button open
the campaign modal filled with its settings; Save re-plans the unsent emails and redraws the
message; who may edit (owner, edit share) and who has no button (view share, the mailbox's owner);
`/outreach campaign` alone lists the campaign commands; `/outreach admin holidays`."""
from __future__ import annotations

import random

from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.models import Campaign, CampaignShare, Organisation, OutboundMessage, OutboundStatus, ShareLevel
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.directory import Profile, ensure_user
from handlers.commands import COMMAND
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import OMAR, RITA

NY = ZoneInfo("America/New_York")
F = Action.CAMPAIGN_FIELD.value


def _running(runtime: Runtime, clock: FakeClock, *, share: ShareLevel | None = None, start: bool = True) -> int:
    """Rita's campaign of three candidates (started Monday 08:30 in New York unless `start` is False)."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=3)
        if share is not None:
            omar = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(OMAR, name="Omar"))
            session.add(CampaignShare(campaign_id=campaign.id, user_id=omar.id, level=share, shared_by_id=rita.id,
                                      created_at=clock.now()))
        if start:
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return campaign.id


def _modal(ws: LocalSlack, user: str) -> dict[str, Any]:
    return ws.open_views(user)[-1]


def _element(view: dict[str, Any], block: str) -> dict[str, Any]:
    return next(b["element"] for b in view["blocks"] if b.get("block_id") == block)


def _pending_days(runtime: Runtime) -> set[int]:
    with transaction(runtime.sessions) as session:
        return {d.astimezone(NY).weekday() for d in session.scalars(
            select(OutboundMessage.due_at).where(OutboundMessage.status == OutboundStatus.PENDING))}


def test_campaign_edit_opens_the_modal_filled_and_save_replans_and_redraws(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _running(runtime, clock)  # Monday 08:30: the first emails are planned for Monday 08:50-09:10
    rita.slash(COMMAND, "campaign edit backend q4")
    view = _modal(workspace, RITA)
    assert view["callback_id"] == "campaign.edit" and view["submit"]["text"] == "Save"
    assert _element(view, "name")["initial_value"] == "Backend Q4"
    assert _element(view, "timezone")["initial_value"] == "America/New_York"
    assert [o["value"] for o in _element(view, "send_days")["initial_options"]] == list("0123456")
    assert "sequence" not in {b.get("block_id") for b in view["blocks"]}  # started: fixed, and the modal says why
    assert "stay as they are once a campaign has started" in str(view["blocks"])

    result = rita.submit({"send_days": ["1", "2", "3", "4"], "holidays": "2026-12-24, 2026-12-25"})
    assert result.ok and not result.errors, result.errors
    assert _pending_days(runtime) == {1}  # Monday is no longer a send day: Tuesday, at the same time
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        assert (campaign.send_days, campaign.holidays) == ("1234", ["2026-12-24", "2026-12-25"])
    assert any("3 planned emails moved to the new days and times" in m.text for m in rita.dm_messages())
    message = [m for m in rita.dm_messages() if m.blocks and m.blocks[0].get("type") == "header"][-1]
    assert "Tue" in render_blocks(message.blocks)


def test_the_edit_button_opens_the_same_modal_and_bad_input_is_refused_on_its_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _running(runtime, clock, start=False)
    with transaction(runtime.sessions, write=True) as session:
        rita_row = session.scalar(select(Campaign)).owner
        factories.campaign_with_candidates(session, rita_row, session.scalar(select(Campaign)).mailbox, clock)
    rita.slash(COMMAND, "status Backend Q4")
    rita.click(Action.CAMPAIGN_EDIT.value, in_message=rita.ephemerals()[-1])
    view = _modal(workspace, RITA)
    assert view["callback_id"] == "campaign.edit"
    assert {"sequence", "mailbox"} <= {b.get("block_id") for b in view["blocks"]}  # a draft, its owner: offered
    assert rita.submit({"holidays": "2026-12-24, 24/12"}).errors == {
        "holidays": "'24/12' is not a date: write each as YYYY-MM-DD, separated by commas, e.g. 2026-12-24, 2026-12-25."}
    refused = rita.submit({"name": "BACKEND Q4 (2)"}).errors or {}
    assert "already have a campaign called" in refused.get("name", "")
    workspace.add_channel("C0QUIET", name="quiet", members=[RITA], bot_is_member=False)
    assert "Invite @Outreach" in (rita.submit({"alert_channel": "C0QUIET"}).errors or {}).get("alert_channel", "")
    sequences = {o["text"]["text"]: o["value"] for o in _element(view, "sequence")["options"]}
    assert not rita.submit({"name": "Backend Q4 (EU)", "preference": "specific", "specific_time": "09:30",
                            "sequence": sequences["Backend engineers (2)"]}).errors
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign).order_by(Campaign.id))
        assert (campaign.name, campaign.send_preference.value, f"{campaign.specific_time:%H:%M}",
                campaign.sequence.name) == ("Backend Q4 (EU)", "specific", "09:30", "Backend engineers (2)")


def test_an_edit_share_may_edit_a_view_share_has_no_button(
        omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: App) -> None:
    campaign_id = _running(runtime, clock, share=ShareLevel.EDIT)
    omar.slash(COMMAND, f"status {campaign_id}")
    omar.click(Action.CAMPAIGN_EDIT.value, in_message=omar.ephemerals()[-1])
    assert "Only the campaign's owner picks" not in str(_modal(workspace, OMAR))  # started: the started note
    assert not omar.submit({"send_days": ["0", "1", "2", "3", "4"]}).errors
    with transaction(runtime.sessions, write=True) as session:
        session.scalar(select(CampaignShare)).level = ShareLevel.VIEW
    omar.slash(COMMAND, f"status {campaign_id}")
    assert Action.CAMPAIGN_EDIT.value not in str(omar.ephemerals()[-1].blocks)
    omar.slash(COMMAND, f"campaign edit {campaign_id}")
    assert "shared 'Backend Q4' with you to view, not to change" in omar.ephemerals()[-1].text


def test_campaign_alone_or_with_an_unknown_word_lists_the_campaign_commands(rita: Person) -> None:
    rita.slash(COMMAND, "campaign")
    listed = rita.ephemerals()[-1]
    assert "Campaign commands" in str(listed.blocks) and "/outreach campaign edit" in str(listed.blocks)
    assert "/outreach connect" not in str(listed.blocks)
    rita.slash(COMMAND, "campaign frobnicate")
    assert "I don't know `/outreach campaign frobnicate`" in str(rita.ephemerals()[-1].blocks)
    rita.slash(COMMAND, "campaign edit")
    assert "Name the campaign to edit" in rita.ephemerals()[-1].text


def test_admin_holidays_for_admins_only_and_they_move_planned_sends(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: App) -> None:
    _running(runtime, clock)
    rita.slash(COMMAND, "admin holidays add 2026-11-23")
    assert "Only workspace admins and owners" in rita.ephemerals()[-1].text
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", BoltTarget(app))
    ada.slash(COMMAND, "admin holidays add 2026-11-23 2026-12-25")
    said = ada.ephemerals()[-1].text
    assert "2 holidays added" in said and "3 planned sends of 1 running campaign re-planned" in said, said
    assert _pending_days(runtime) == {1}  # Monday the 23rd is a holiday now: Tuesday
    ada.slash(COMMAND, "admin holidays")
    assert "2026-11-23, 2026-12-25" in ada.ephemerals()[-1].text
    ada.slash(COMMAND, "admin holidays add 23/11")
    assert "'23/11' is not a date" in ada.ephemerals()[-1].text
    ada.slash(COMMAND, "admin holidays remove 2026-12-25")
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Organisation.holidays).where(Organisation.slack_team_id == "T0LOCAL")) == [
            "2026-11-23"]
