"""Sequences through the local workspace: the modal that adds and removes steps in place without losing
what was typed, every submission error on its own field, the list with Edit and Delete, and the rules
that protect running campaigns."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.models import Campaign, CampaignStatus, Sequence, SequenceStep
from bot.runtime import Runtime
from bot.services.sequences import StepDraft, create_sequence
from handlers.commands import COMMAND
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import OMAR, RITA


def _modal(ws: LocalSlack, user: str = RITA) -> dict[str, Any]:
    views = ws.open_views(user)
    assert views, "no modal is open"
    return views[-1]


def _inputs(view: dict[str, Any]) -> dict[str, str | None]:
    """Each input's block_id and the text it shows."""
    return {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"}


def _buttons(view: dict[str, Any]) -> list[str]:
    found = []
    for block in view["blocks"]:
        elements = [block["accessory"]] if "accessory" in block else block.get("elements", [])
        found += [e["text"]["text"] for e in elements if e.get("type") == "button"]
    return found


def _saved(runtime: Runtime) -> list[tuple[str, list[tuple[int, str, str, int]]]]:
    with transaction(runtime.sessions) as session:
        return [(s.name, [(t.position, t.subject, t.body, t.delay_days) for t in s.steps])
                for s in session.scalars(select(Sequence).order_by(Sequence.id))]


STEP_3 = {"subject_3": "Third", "body_3": "Three", "delay_3": "5"}


def _three_steps(rita: Person) -> None:
    """Rita opens the modal and types two steps, pressing Add step after each: three steps, the last empty."""
    rita.slash(COMMAND, "sequence new")
    rita.click(Action.SEQUENCE_ADD_STEP.value, values={
        "name": "Backend engineers", "subject_1": "Role at {{ company }}", "body_1": "Hi {{ first_name }}"})
    rita.click(Action.SEQUENCE_ADD_STEP.value, values={"subject_2": "Second", "body_2": "Two", "delay_2": "2"})


def _rita_sequence(runtime: Runtime, clock: FakeClock, campaign: CampaignStatus | None = None) -> int:
    """Rita's "Backend engineers" (two steps, 2 days apart), used by "Backend Q4" in the given state."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        if campaign is None:
            return create_sequence(session, owner=rita, name="Backend engineers", clock=clock, steps=[
                StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
                StepDraft("Following up", "Any thoughts?", delay_days=2)]).id
        made = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock), clock)
        made.status = campaign
        return made.sequence_id


def test_sequence_new_opens_a_one_step_modal_that_lists_the_template_variables(
        rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "sequence new")
    view = _modal(workspace)
    assert view["title"]["text"] == "New sequence"
    assert _inputs(view) == {"name": None, "subject_1": None, "body_1": None}
    assert _buttons(view) == ["Add step"]
    shown = render_blocks(view["blocks"])
    for variable in ("{{ first_name }}", "{{ last_name }}", "{{ name }}", "{{ company }}"):
        assert variable in shown
    body = next(b for b in view["blocks"] if b.get("block_id") == "body_1")
    assert body["element"]["multiline"] is True


def test_a_new_sequence_is_saved_the_modal_closes_and_rita_sees_its_steps_where_she_asked(
        rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    rita.slash(COMMAND, "sequence new", channel="C0HIRING")
    rita.click(Action.SEQUENCE_ADD_STEP.value)
    result = rita.submit({"name": " Backend engineers ", "subject_1": "Role at {{ company }}",
                          "body_1": "Hi {{ first_name }},\nshall we talk?", "subject_2": "Following up",
                          "body_2": "Any thoughts?", "delay_2": "0"})
    assert result.ok and not result.errors
    assert workspace.open_views(RITA) == []
    assert _saved(runtime) == [("Backend engineers", [
        (1, "Role at {{ company }}", "Hi {{ first_name }},\nshall we talk?", 0), (2, "Following up", "Any thoughts?", 0)])]
    [confirmation] = [e for e in workspace.ephemerals(RITA) if e.channel == "C0HIRING"]
    assert "sequence *Backend engineers*: 2 steps" in confirmation.text
    assert "1. Role at {{ company }}" in confirmation.text and "2. Following up _(same day)_" in confirmation.text


def test_the_confirmation_goes_to_the_dm_when_the_bot_is_not_in_the_channel(
        rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    workspace.add_channel("C0QUIET", name="quiet", members=[RITA], bot_is_member=False)
    rita.slash(COMMAND, "sequence new", channel="C0QUIET")
    assert rita.submit({"name": "Quiet one", "subject_1": "Hello", "body_1": "Hi"}).ok
    assert not [e for e in workspace.ephemerals(RITA) if e.channel == "C0QUIET"]
    assert any("sequence *Quiet one*: 1 step" in m.text for m in rita.dm_messages())


def test_add_step_keeps_what_was_typed_and_offers_a_delay_and_a_remove_button(
        rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "sequence new")
    before = _modal(workspace)
    rita.click(Action.SEQUENCE_ADD_STEP.value, values={"name": "Designers", "subject_1": "Hello {{ first_name }}",
                                                       "body_1": "Line one\nLine two"})
    after = _modal(workspace)
    assert after["id"] == before["id"]  # updated in place, not a new modal
    assert _inputs(after) == {"name": "Designers", "subject_1": "Hello {{ first_name }}",
                              "body_1": "Line one\nLine two", "delay_2": "3", "subject_2": None, "body_2": None}
    assert _buttons(after) == ["Remove step 2", "Add step"]
    [update] = workspace.calls_to("views.update")
    assert update.params["view_id"] == before["id"]
    assert update.params["hash"] == before["hash"]  # Slack refuses the update if the modal changed meanwhile


def test_removing_step_two_of_three_renumbers_step_three_keeping_its_text(
        rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    _three_steps(rita)
    rita.click(Action.SEQUENCE_REMOVE_STEP.value, value="2", values={**STEP_3, "subject_3": "Third, edited"})
    view = _modal(workspace)
    shown = {block.split(".")[0]: value for block, value in _inputs(view).items()}
    assert shown == {"name": "Backend engineers", "subject_1": "Role at {{ company }}", "body_1": "Hi {{ first_name }}",
                     "delay_2": "5", "subject_2": "Third, edited", "body_2": "Three"}
    # Fresh block ids for moved steps: real Slack keeps typed text over initial_value when the id is unchanged.
    assert "subject_2" not in _inputs(view)
    assert _buttons(view) == ["Remove step 2", "Add step"]
    assert rita.submit().ok
    assert _saved(runtime) == [("Backend engineers", [(1, "Role at {{ company }}", "Hi {{ first_name }}", 0),
                                                      (2, "Third, edited", "Three", 5)])]


def test_add_step_stops_at_ten_steps(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "sequence new")
    for _ in range(9):
        rita.click(Action.SEQUENCE_ADD_STEP.value)
    view = _modal(workspace)
    assert "subject_10" in _inputs(view) and "Add step" not in _buttons(view)
    assert "at most 10 steps" in render_blocks(view["blocks"])
    assert len(view["blocks"]) <= 100


@pytest.mark.parametrize("typed, errors", [
    ({"name": "   "}, {"name": "A sequence needs a name."}),
    ({"subject_1": "   "}, {"subject_1": "Step 1 has no subject."}),
    ({"body_1": " \n \n"}, {"body_1": "Step 1 has no text: write the email."}),
    ({"delay_2": "-1"}, {"delay_2": "Step 2: the delay cannot be negative."}),
    ({"body_2": "Hi,\nthanks {{ first_name }"}, {"body_2": "Step 2 body, line 2: unexpected '}'"}),
    ({"subject_2": "Re {% if %}"},
     {"subject_2": "Step 2 subject, line 1: Expected an expression, got 'end of statement block'"}),
])
def test_each_submission_error_shows_on_its_field_and_nothing_is_saved(
        rita: Person, workspace: LocalSlack, runtime: Runtime, typed: dict[str, str], errors: dict[str, str]) -> None:
    rita.slash(COMMAND, "sequence new")
    rita.click(Action.SEQUENCE_ADD_STEP.value)
    form = {"name": "Designers", "subject_1": "Hello", "body_1": "Hi", "subject_2": "Again", "body_2": "Hi again",
            "delay_2": "2"}
    result = rita.submit({**form, **typed})
    assert result.errors == errors
    assert len(workspace.open_views(RITA)) == 1  # the modal stays open for a fix
    assert _saved(runtime) == []


def test_an_error_after_a_removal_shows_on_the_renumbered_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime) -> None:
    _three_steps(rita)
    rita.click(Action.SEQUENCE_REMOVE_STEP.value, value="2", values=STEP_3)
    [subject_2] = [b for b in _inputs(_modal(workspace)) if b.startswith("subject_2")]
    result = rita.submit({subject_2: "{{ broken"})
    assert result.errors is not None and list(result.errors) == [subject_2]
    assert result.errors[subject_2].startswith("Step 2 subject, line 1: ")


def test_sequences_lists_steps_subjects_and_campaigns_with_edit_and_delete(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    rita.slash(COMMAND, "sequences")
    assert "You have no sequences yet" in workspace.ephemerals(RITA)[-1].text + render_blocks(
        workspace.ephemerals(RITA)[-1].blocks)
    _rita_sequence(runtime, clock, CampaignStatus.ACTIVE)
    rita.slash(COMMAND, "sequences")
    listing = render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    assert "Backend engineers* · 2 steps" in listing
    assert "1. Backend role at {{ company }}" in listing and "2. Following up _(+2 days)_" in listing
    assert "Used by: Backend Q4 (active)" in listing
    assert _buttons({"blocks": workspace.ephemerals(RITA)[-1].blocks}) == ["Edit", "Delete"]


def test_a_long_list_stays_within_a_messages_50_blocks(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock)
        for n in range(30):
            create_sequence(session, owner=owner, name=f"Sequence {n}", steps=[StepDraft("Hi", "Hello")], clock=clock)
    rita.slash(COMMAND, "sequences")
    listing = workspace.ephemerals(RITA)[-1]
    assert len(listing.blocks) <= 50
    assert "… and 7 more" in render_blocks(listing.blocks)


def test_edit_opens_the_modal_prefilled_and_saves_the_changes(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_sequence(runtime, clock)
    rita.slash(COMMAND, "sequences")
    rita.click(Action.SEQUENCE_OPEN_EDIT.value, in_message=workspace.ephemerals(RITA)[-1])
    view = _modal(workspace)
    assert view["title"]["text"] == "Edit sequence"
    assert _inputs(view) == {"name": "Backend engineers", "subject_1": "Backend role at {{ company }}",
                             "body_1": "Hi {{ first_name }}", "delay_2": "2", "subject_2": "Following up",
                             "body_2": "Any thoughts?"}
    rita.click(Action.SEQUENCE_ADD_STEP.value, values={"delay_2": "4"})
    assert rita.submit({"subject_3": "Last try", "body_3": "Bye", "delay_3": "7"}).ok
    assert _saved(runtime) == [("Backend engineers", [(1, "Backend role at {{ company }}", "Hi {{ first_name }}", 0),
                                                      (2, "Following up", "Any thoughts?", 4),
                                                      (3, "Last try", "Bye", 7)])]
    assert "Saved sequence *Backend engineers*: 3 steps" in workspace.ephemerals(RITA)[-1].text


def test_under_a_running_campaign_the_wording_changes_and_rita_is_told_where_it_applies(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    sequence_id = _rita_sequence(runtime, clock, CampaignStatus.PAUSED)
    rita.slash(COMMAND, f"sequence edit {sequence_id}")
    assert rita.submit({"subject_2": "Still interested?"}).ok
    assert "The new wording applies to the emails not yet sent in 'Backend Q4'." in workspace.ephemerals(RITA)[-1].text
    assert _saved(runtime)[0][1][1][1] == "Still interested?"


def _set_status(runtime: Runtime, status: CampaignStatus) -> None:
    with transaction(runtime.sessions, write=True) as session:
        session.scalar(select(Campaign)).status = status


@pytest.mark.parametrize("status", [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED])
def test_under_a_running_campaign_the_modal_offers_only_the_wording_and_says_why(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, status: CampaignStatus) -> None:
    _rita_sequence(runtime, clock, status)
    rita.slash(COMMAND, "sequence edit backend ENGINEERS")
    view = _modal(workspace)
    before = _saved(runtime)[0][1]
    assert _inputs(view) == {"name": "Backend engineers", "subject_1": before[0][1], "body_1": before[0][2],
                             "subject_2": before[1][1], "body_2": before[1][2]}  # no delay
    assert _buttons(view) == []  # no Add step, no Remove step
    shown = render_blocks(view["blocks"])
    assert ("Steps and delays are locked while 'Backend Q4' is running: candidates are part-way through. "
            "Wording changes apply to emails not yet sent.") in shown
    assert "*Step 2* · +2 days" in shown
    assert rita.submit({"name": "Backend engineers EU", "body_1": "Hello {{ first_name }}"}).ok
    assert _saved(runtime) == [("Backend engineers EU", [(1, before[0][1], "Hello {{ first_name }}", 0),
                                                         (2, before[1][1], before[1][2], 2)])]
    assert "The new wording applies to the emails not yet sent in 'Backend Q4'." in workspace.ephemerals(RITA)[-1].text


def test_a_draft_campaign_leaves_steps_and_delays_editable(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_sequence(runtime, clock, CampaignStatus.DRAFT)
    rita.slash(COMMAND, "sequence edit Backend engineers")
    view = _modal(workspace)
    assert "delay_2" in _inputs(view) and _buttons(view) == ["Remove step 2", "Add step"]
    assert "locked" not in render_blocks(view["blocks"])


@pytest.mark.parametrize("change, field", [("add", "subject_3"), ("delay", "delay_2")])
def test_a_form_opened_before_the_campaign_started_cannot_change_steps_or_delays(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, change: str, field: str) -> None:
    _rita_sequence(runtime, clock, CampaignStatus.DRAFT)
    rita.slash(COMMAND, "sequence edit backend ENGINEERS")
    typed = {"delay_2": "9"}
    if change == "add":
        rita.click(Action.SEQUENCE_ADD_STEP.value)
        typed = {"subject_3": "More", "body_3": "More"}
    _set_status(runtime, CampaignStatus.SCHEDULED)  # started while the form was open
    result = rita.submit(typed)
    assert result.errors == {field: "'Backend Q4' is running with this sequence: steps and delays cannot change "
                                    "until it finishes; edit the wording, or make a new sequence."}
    assert [(p, d) for p, _, _, d in _saved(runtime)[0][1]] == [(1, 0), (2, 2)]


def test_a_step_removed_in_a_form_opened_before_the_campaign_started_is_refused_on_the_name(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_sequence(runtime, clock, CampaignStatus.DRAFT)
    rita.slash(COMMAND, "sequence edit Backend engineers")
    rita.click(Action.SEQUENCE_REMOVE_STEP.value, value="2")
    _set_status(runtime, CampaignStatus.ACTIVE)
    result = rita.submit()
    assert result.errors is not None and list(result.errors) == ["name"]
    assert len(_saved(runtime)[0][1]) == 2


def test_delete_is_refused_while_a_campaign_runs_and_rita_is_told_why(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_sequence(runtime, clock, CampaignStatus.ACTIVE)
    rita.slash(COMMAND, "sequences")
    listing = workspace.ephemerals(RITA)[-1]
    rita.click(Action.SEQUENCE_DELETE.value, in_message=listing)
    refusal = workspace.ephemerals(RITA)[-1]
    assert refusal.ts != listing.ts
    assert "'Backend engineers' cannot be deleted while campaigns that have not finished use it: " \
           "'Backend Q4' (active)" in refusal.text
    assert len(_saved(runtime)) == 1
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Sequence)).archived_at is None


def test_delete_archives_a_sequence_only_finished_campaigns_used(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    sequence_id = _rita_sequence(runtime, clock, CampaignStatus.FINISHED)
    rita.slash(COMMAND, "sequences")
    listing = workspace.ephemerals(RITA)[-1]
    delete = next(e for b in listing.blocks for e in b.get("elements", []) if e.get("text", {}).get("text") == "Delete")
    assert "history stays" in delete["confirm"]["text"]["text"]
    rita.click(Action.SEQUENCE_DELETE.value, in_message=listing)
    redrawn = render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    assert "Archived *Backend engineers*" in redrawn and "You have no sequences yet" in redrawn
    with transaction(runtime.sessions) as session:
        assert session.get(Sequence, sequence_id).archived_at is not None
        assert session.scalar(select(Campaign)).sequence_id == sequence_id


def test_delete_removes_an_unused_sequence_and_redraws_the_list(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_sequence(runtime, clock)
    rita.slash(COMMAND, "sequences")
    listing = workspace.ephemerals(RITA)[-1]
    rita.click(Action.SEQUENCE_DELETE.value, in_message=listing)
    assert workspace.ephemerals(RITA)[-1].ts == listing.ts  # replaced in place
    assert "Deleted *Backend engineers*" in render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    assert _saved(runtime) == []
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(SequenceStep)) is None


def test_someone_elses_sequence_cannot_be_opened_for_editing(
        omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    sequence_id = _rita_sequence(runtime, clock)
    assert omar.slash(COMMAND, f"sequence edit {sequence_id}").ok
    assert workspace.open_views(OMAR) == []
    assert "You have no sequence called" in workspace.ephemerals(OMAR)[-1].text
    omar.slash(COMMAND, "sequences")
    assert "Backend engineers" not in render_blocks(workspace.ephemerals(OMAR)[-1].blocks)
