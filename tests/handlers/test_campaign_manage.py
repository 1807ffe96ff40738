"""Managing campaigns through the local workspace (issue 17 §1): `/outreach campaigns [status]` with its
filter select, archive a finished campaign and delete a draft (sub-commands and buttons), remove a
candidate from the candidate menu (confirmed in a modal) or by name."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import Ephemeral, LocalSlack, Person, Result, render_blocks, render_view
from bot.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
)
from bot.runtime import Runtime
from handlers.commands import COMMAND
from handlers.ids import Action
from tests.handlers.conftest import RITA
from tests.handlers.test_campaigns import _add_pasted, _create, _dispatch, _sent, _sequence_and_mailbox
from tests.handlers.test_status_list import _campaigns, _listed

FILTER, NEXT = Action.CAMPAIGN_LIST_FILTER.value, f"{Action.CAMPAIGN_LIST_PAGE.value}.next"
O = OutboundMessage


def _message(ws: LocalSlack) -> dict:  # type: ignore[type-arg]
    """Rita's campaign message as Slack holds it now."""
    return [m for m in ws.messages() if any(b.get("type") == "header" for b in m.blocks)][-1]  # type: ignore[return-value]


def _buttons(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _set_status(runtime: Runtime, status: CampaignStatus) -> None:
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Campaign).values(status=status, message_version=Campaign.message_version + 1))


def _started_with_three(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    """Rita's campaign with Ana and Cy (Bo's row is refused), started, step 1 sent to both."""
    _sequence_and_mailbox(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Mailbox).values(min_spacing_seconds=0))
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(Action.CAMPAIGN_START.value)
    clock.advance(timedelta(minutes=41))
    _dispatch(runtime, clock)
    assert sorted(_sent(runtime)) == ["ana@acme.example", "cy@globex.example"]


def _enrollment(runtime: Runtime, name: str) -> Enrollment:
    with transaction(runtime.sessions) as session:
        found = session.scalar(select(Enrollment).join(Candidate).where(Candidate.name == name))
        assert found is not None
        session.expunge(found)
        return found


def _choose_remove(rita: Person, workspace: LocalSlack, enrollment_id: int) -> Result:
    """Rita picks "Remove" in the candidate's menu on the campaign message (a confirm opens)."""
    message = _message(workspace)
    block = next(b for b in message.blocks if b.get("accessory", {}).get("type") == "overflow"
                 and any(o["value"] == f"remove:{enrollment_id}" for o in b["accessory"]["options"]))
    return rita.click(Action.CANDIDATE_MENU.value, in_message=message, block_id=block["block_id"],
                      selected_option_value=f"remove:{enrollment_id}")


def _shown(rita: Person, first: Ephemeral) -> Ephemeral:
    (shown,) = [e for e in rita.ephemerals() if e.ts == first.ts]  # the same message, redrawn
    return shown


# ---- the list --------------------------------------------------------------------------------------
def test_campaigns_lists_by_status_and_the_filter_redraws_the_same_message_keeping_it_across_pages(
        rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, [f"Campaign {n:02d}" for n in range(27)])
    with transaction(runtime.sessions, write=True) as session:  # the five oldest finished, the oldest archived too
        ids = session.scalars(select(Campaign.id).order_by(Campaign.id)).all()
        session.execute(update(Campaign).where(Campaign.id.in_(ids[:5])).values(status=CampaignStatus.FINISHED))
        session.execute(update(Campaign).where(Campaign.id == ids[0]).values(archived_at=clock.now()))
    assert rita.slash(COMMAND, "campaigns").ok
    first = rita.ephemerals()[-1]
    assert first.text == "Your campaigns 1–20 of 26"  # the archived one is left out
    assert rita.click(FILTER, in_message=first, selected_option_value="draft").ok
    drafts = _shown(rita, first)
    assert drafts.text == "Your draft campaigns 1–20 of 22" and "Campaign 04" not in _listed(drafts)
    assert rita.click(FILTER, in_message=first, selected_option_value="archived").ok
    archived = _shown(rita, first)
    assert _listed(archived) == ["Campaign 00"] and "Archived" in render_blocks(archived.blocks)
    assert f"#{ids[0]}" in render_blocks(archived.blocks)  # `/outreach status <number>` reaches it
    assert rita.slash(COMMAND, f"status {ids[0]}").ok and "Campaign 00" in rita.ephemerals()[-1].text

    assert rita.slash(COMMAND, "campaigns DRAFT").ok
    second = rita.ephemerals()[-1]
    assert rita.click(NEXT, in_message=second).ok
    assert _listed(_shown(rita, second)) == ["Campaign 06", "Campaign 05"]  # the filter stays on page 2
    assert rita.slash(COMMAND, "campaigns finished").ok
    assert rita.ephemerals()[-1].text == "Your finished campaigns 1–4 of 4"


def test_an_unknown_status_is_named_with_the_ones_to_use(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, ["Only one"])
    assert rita.slash(COMMAND, "campaigns closed").ok
    assert "'closed' is not a campaign status: use one of draft, scheduled, active, paused, finished, archived" in \
        rita.ephemerals()[-1].text


# ---- archive and delete ----------------------------------------------------------------------------
def test_archive_is_refused_until_the_campaign_finishes_then_its_message_says_archived_without_buttons(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started_with_three(rita, runtime, clock)
    assert "Archive" not in _buttons(_message(workspace).blocks)
    assert rita.slash(COMMAND, "campaign archive backend q4").ok
    assert "still running: archive it when it finishes" in rita.ephemerals()[-1].text
    _set_status(runtime, CampaignStatus.FINISHED)
    rita.slash(COMMAND, "status Backend Q4")  # the owner's message is redrawn
    assert "Archive" in _buttons(_message(workspace).blocks)
    assert rita.click(Action.CAMPAIGN_ARCHIVE.value, in_message=_message(workspace)).ok
    message = _message(workspace)
    assert "Archived" in render_blocks(message.blocks) and _buttons(message.blocks) == []
    assert not any(b.get("accessory", {}).get("type") == "overflow" for b in message.blocks)
    assert rita.slash(COMMAND, "status Backend Q4").ok
    assert "No campaign called 'Backend Q4'" in rita.ephemerals()[-1].text
    rita.open_home()
    assert "Backend Q4" not in render_view(workspace.home(RITA))


def test_delete_draft_after_the_confirm_removes_the_campaign_and_its_message(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    message = _message(workspace)
    delete = next(e for b in message.blocks if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == Action.CAMPAIGN_DELETE.value)
    assert delete["confirm"]["title"]["text"] == "Delete this draft?" and "2 candidates" in delete["confirm"]["text"]["text"]
    assert rita.click(Action.CAMPAIGN_DELETE.value, in_message=message).ok
    assert "Deleted the draft *Backend Q4* and its list of 2 candidates" in rita.ephemerals()[-1].text
    assert not [m for m in workspace.messages() if any(b.get("type") == "header" for b in m.blocks)]
    assert any(c.method == "chat.delete" for c in workspace.calls)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign)) is None and len(session.scalars(select(Candidate)).all()) == 2
        assert session.scalars(select(AuditEntry.action)).all() == ["campaign.deleted"]


def test_delete_by_name_refuses_a_started_campaign(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    _started_with_three(rita, runtime, clock)
    assert rita.slash(COMMAND, "campaign delete Backend Q4").ok
    assert "has started" in rita.ephemerals()[-1].text and "archive it when it finishes" in rita.ephemerals()[-1].text
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign)) is not None


# ---- remove a candidate ----------------------------------------------------------------------------
def test_remove_from_the_candidate_menu_asks_first_then_cancels_planned_sends_and_keeps_the_history(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started_with_three(rita, runtime, clock)
    ana = _enrollment(runtime, "Ana Lima")
    assert _choose_remove(rita, workspace, ana.id).ok
    confirm = render_view(workspace.open_views(RITA)[-1])
    assert "Remove *Ana Lima* from *Backend Q4*? Their 1 planned send is cancelled." in confirm
    assert _enrollment(runtime, "Ana Lima").status == EnrollmentStatus.IN_PROGRESS  # nothing before the confirm
    assert rita.submit().ok
    assert _enrollment(runtime, "Ana Lima").status == EnrollmentStatus.REMOVED
    shown = render_blocks(_message(workspace).blocks)
    assert "*Ana Lima* · Removed" in shown and "Removed: 1" in shown
    with transaction(runtime.sessions) as session:
        assert dict(session.execute(select(O.step_position, O.status).where(O.enrollment_id == ana.id)).all()) == {
            1: OutboundStatus.SENT, 2: OutboundStatus.CANCELLED}
    clock.advance(timedelta(days=5))
    _dispatch(runtime, clock)
    assert sorted(_sent(runtime)) == ["ana@acme.example", "cy@globex.example", "cy@globex.example"]


def test_remove_by_name_and_the_last_one_finishes_the_campaign(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started_with_three(rita, runtime, clock)
    assert rita.slash(COMMAND, "campaign remove Backend Q4 ana lima").ok
    assert rita.ephemerals()[-1].text.startswith("Removed *Ana Lima* from *Backend Q4*: 1 planned send cancelled")
    assert rita.slash(COMMAND, "campaign remove Backend Q4 Cy Diaz").ok
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign.status)) == CampaignStatus.FINISHED
    assert "Archive" in _buttons(_message(workspace).blocks)
    assert rita.slash(COMMAND, "campaign remove Backend Q4 Cy Diaz").ok
    assert "their sequence has ended already" in rita.ephemerals()[-1].text


def test_removing_from_a_draft_says_they_just_leave_its_list(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    ana = _enrollment(runtime, "Ana Lima")
    _choose_remove(rita, workspace, ana.id)
    assert "It has not started, so they just leave its list" in render_view(workspace.open_views(RITA)[-1])
    assert rita.submit().ok
    shown = render_blocks(_message(workspace).blocks)
    assert "Ana Lima" not in shown and "1 candidate" in shown


def test_a_refused_removal_replaces_the_confirm_with_why(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _started_with_three(rita, runtime, clock)
    ana = _enrollment(runtime, "Ana Lima")
    _choose_remove(rita, workspace, ana.id)
    assert rita.slash(COMMAND, "campaign remove Backend Q4 Ana Lima").ok  # removed meanwhile, by name
    assert rita.submit().ok
    assert "their sequence has ended already" in render_view(workspace.open_views(RITA)[-1])
