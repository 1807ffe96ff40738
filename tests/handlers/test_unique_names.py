"""One live name per owner for sequences and campaigns, whatever the case (issue 17 §2), through the
local workspace: a duplicate is refused on the modal's name field, a rename onto a taken name too,
lookups by name ignore case, and two saves of one name at once (PostgreSQL) end in the same refusal."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.local.slack import LocalSlack, Person, render_view
from bot.models import Campaign, Mailbox, Sequence, User
from bot.runtime import Runtime
from bot.services import campaigns as campaign_service
from bot.services import sequences as sequence_service
from bot.services.sequences import StepDraft, create_sequence
from handlers.commands import COMMAND
from tests import factories
from tests.handlers.conftest import RITA

SRE_STEPS = [StepDraft("SRE role at {{ company }}", "Hi {{ first_name }}, on-call at {{ company }}?")]
BACKEND_STEPS = [StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}, APIs at {{ company }}?")]
TAKEN = "You already have a sequence called '{}': pick another name."


def _rita_with(runtime: Runtime, clock: FakeClock, *names: str, mailbox: bool = False) -> dict[str, int]:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        if mailbox:
            factories.sandbox_mailbox(session, rita, clock)
        return {name: create_sequence(session, owner=rita, name=name, clock=clock,
                                      steps=SRE_STEPS if name.lower() == "sre" else BACKEND_STEPS).id
                for name in names}


def _names(runtime: Runtime) -> list[str]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(Sequence.name).order_by(Sequence.id)))


def _options(view: dict[str, Any], block_id: str) -> list[str]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return [o["text"]["text"] for o in block["element"]["options"]]


@pytest.mark.parametrize("second", ["SRE", "sre", "  Sre "])
def test_a_second_sre_in_any_case_is_refused_on_the_name_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, second: str) -> None:
    _rita_with(runtime, clock, "SRE")
    rita.slash(COMMAND, "sequence new")
    result = rita.submit({"name": second, "subject_1": "Hello", "body_1": "Hi"})
    assert result.errors == {"name": TAKEN.format(second.strip())}
    assert len(workspace.open_views(RITA)) == 1  # open for a fix
    assert _names(runtime) == ["SRE"]


def test_a_rename_onto_a_taken_name_is_refused_and_a_change_of_case_is_not(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_with(runtime, clock, "SRE", "Backend")
    rita.slash(COMMAND, "sequence edit backend")
    assert rita.submit({"name": "sre"}).errors == {"name": TAKEN.format("sre")}
    assert rita.submit({"name": "BACKEND"}).ok  # its own name, recased
    assert _names(runtime) == ["SRE", "BACKEND"]


def test_preview_sre_finds_sre_and_the_number_finds_it_too(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    ids = _rita_with(runtime, clock, "SRE", "Backend", mailbox=True)
    for asked in ("sre", str(ids["SRE"])):
        rita.slash(COMMAND, f"preview {asked}")
        shown = render_view(workspace.open_views(RITA)[-1])
        assert "of *SRE*" in shown and "Backend" not in shown, asked
        rita.close_view()


def test_a_sequence_named_like_a_number_is_found_by_its_name(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    ids = _rita_with(runtime, clock, "SRE")
    _rita_with(runtime, clock, str(ids["SRE"]))  # "1": the name wins over sequence number 1
    rita.slash(COMMAND, f"sequence edit {ids['SRE']}")
    assert render_view(workspace.open_views(RITA)[-1]).count("Backend role at") == 1


def test_the_campaign_modal_lists_each_sequence_once_and_refuses_a_taken_campaign_name(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_with(runtime, clock, "SRE", mailbox=True)
    rita.slash(COMMAND, "sequence new")
    assert rita.submit({"name": "sre", "subject_1": "Hello", "body_1": "Hi"}).errors
    rita.slash(COMMAND, "sequence new")
    assert rita.submit({"name": "Backend", "subject_1": "Hello", "body_1": "Hi"}).ok
    rita.slash(COMMAND, "campaign new")
    assert sorted(_options(workspace.open_views(RITA)[-1], "sequence")) == ["Backend", "SRE"]
    assert rita.submit({"name": "Q4"}).ok
    rita.slash(COMMAND, "campaign new")
    assert rita.submit({"name": "q4"}).errors == {
        "name": "You already have a campaign called 'q4': pick another name."}
    with transaction(runtime.sessions) as session:
        assert list(session.scalars(select(Campaign.name))) == ["Q4"]


@pytest.mark.parametrize("kind", ["sequence", "campaign"])
def test_two_saves_of_one_name_at_once_end_in_the_same_refusal(
        runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """PostgreSQL: the second save checked the name before the first committed, so only the unique
    index sees the clash; it is refused as the check would have refused it, not a 500. (On SQLite
    writers queue on BEGIN IMMEDIATE: the second save's check sees the first's row.)"""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the race cannot happen there")
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        box_id, rita_id = factories.sandbox_mailbox(session, rita, clock).id, rita.id
        sequence_id = create_sequence(session, owner=rita, name="Base", steps=SRE_STEPS, clock=clock).id
    first = runtime.sessions()
    first.begin()
    module = sequence_service if kind == "sequence" else campaign_service
    real_check = module.ensure_free

    def first_commits_after_the_check(*args: Any, **kwargs: Any) -> None:
        real_check(*args, **kwargs)  # passes: the first save's row is not committed yet
        first.commit()

    def save(session: Any, name: str) -> None:
        owner = session.get(User, rita_id)
        if kind == "sequence":
            create_sequence(session, owner=owner, name=name, steps=SRE_STEPS, clock=clock)
        else:
            campaign_service.create_campaign(session, owner=owner, sequence=session.get(Sequence, sequence_id),
                                             mailbox=session.get(Mailbox, box_id), name=name, clock=clock)

    try:
        save(first, "SRE")
        monkeypatch.setattr(module, "ensure_free", first_commits_after_the_check)
        with pytest.raises(UserError) as refused:
            with transaction(runtime.sessions, write=True) as second:
                save(second, "sre")
    finally:
        first.close()
    assert (refused.value.field, refused.value.message) == (
        "name", f"You already have a {kind} called 'sre': pick another name.")
