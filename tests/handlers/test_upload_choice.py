"""A CSV shared in the bot's DM, for a recruiter with one, two, 60 or 130 open campaigns: where the rows
can go is offered in a message Slack accepts (one button, or a select of at most 100 campaigns), the
pick adds them there, and rows left waiting a day are refused plainly, then deleted."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Message, Person, render_blocks
from bot.models import Campaign, CandidateUpload, Enrollment, Mailbox
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign
from bot.services.candidate_uploads import UPLOAD_TTL
from bot.services.sequences import StepDraft, create_sequence
from handlers.ids import Action
from bot.jobs import expire_uploads
from tests import factories
from tests.handlers.conftest import RITA

CSV = b"name,email,company\nDee Eve,dee@acme.example,Acme\n"


def _campaigns(runtime: Runtime, clock: FakeClock, names: list[str]) -> dict[str, int]:
    """Rita's draft campaigns, created one second apart in the order given (the last is the newest)."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = session.scalar(select(Mailbox)) or factories.sandbox_mailbox(session, rita, clock)
        sequence = create_sequence(session, owner=rita, name="Backend engineers", clock=clock,
                                   steps=[StepDraft("Role at {{ company }}", "Hi {{ first_name }}")])
        ids = {}
        for name in names:
            clock.advance(timedelta(seconds=1))
            ids[name] = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name=name,
                                        clock=clock).id
        return ids


def _share(rita: Person, workspace: LocalSlack) -> Message:
    rita.upload("team.csv", CSV)
    assert [c.error for c in workspace.calls if c.error] == []  # Slack took the bot's answer
    return rita.dm_messages()[-1]


def _select(message: Message) -> dict[str, Any]:
    (select_,) = [e for b in message.blocks for e in b.get("elements", []) if e.get("type") == "static_select"]
    return select_


def _now_shows(rita: Person, message: Message) -> Message:
    return next(m for m in rita.dm_messages() if m.ts == message.ts)


def _enrolled(runtime: Runtime) -> dict[str, int]:
    with transaction(runtime.sessions) as session:
        return dict(session.execute(select(Campaign.name, func.count(Enrollment.id)).join(Enrollment)
                                    .group_by(Campaign.name)).all())


def test_one_open_campaign_gets_one_button(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, ["Backend Q4"])
    answer = _share(rita, workspace)
    shown = render_blocks(answer.blocks)
    assert "[ Add 1 to Backend Q4 ]" in shown and "Rows not added within a day are deleted." in shown
    assert not [e for b in answer.blocks for e in b.get("elements", []) if e.get("type") == "static_select"]


def test_two_open_campaigns_are_offered_in_a_select_and_the_pick_adds_the_rows_there(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    ids = _campaigns(runtime, clock, ["Backend Q4", "Frontend Q4"])
    answer = _share(rita, workspace)
    choices = _select(answer)
    assert [o["text"]["text"] for o in choices["options"]] == ["Frontend Q4", "Backend Q4"]  # the newest first
    assert choices["placeholder"]["text"] == "Add 1 to…"
    assert (choices["confirm"]["title"]["text"], choices["confirm"]["confirm"]["text"]) == (
        "Add 1 candidate?", "Add 1")
    backend = next(o["value"] for o in choices["options"] if o["text"]["text"] == "Backend Q4")
    assert backend.endswith(f":{ids['Backend Q4']}")
    assert rita.click(Action.UPLOAD_CHOOSE.value, in_message=answer, selected_option_value=backend).ok
    replaced = _now_shows(rita, answer)
    assert replaced.text == ":white_check_mark: Added 1 candidate to *Backend Q4*." and replaced.blocks == []
    assert _enrolled(runtime) == {"Backend Q4": 1}


def test_sixty_open_campaigns_all_fit_the_select(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, [f"Campaign {n:03d}" for n in range(60)])
    answer = _share(rita, workspace)
    assert len(_select(answer)["options"]) == 60
    assert "newest open campaigns are listed" not in render_blocks(answer.blocks)


def test_past_100_open_campaigns_the_newest_100_are_offered_and_the_message_says_how_to_reach_the_rest(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, [f"Campaign {n:03d}" for n in range(130)])
    answer = _share(rita, workspace)
    labels = [o["text"]["text"] for o in _select(answer)["options"]]
    assert labels == [f"Campaign {n:03d}" for n in range(129, 29, -1)]
    assert ("Your 100 newest open campaigns are listed, of 130. For an older one, press *Add candidates* on its "
            "campaign message") in render_blocks(answer.blocks)


def test_a_pick_after_a_day_says_the_upload_expired_and_adds_nothing(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, ["Backend Q4"])
    answer = _share(rita, workspace)
    clock.advance(UPLOAD_TTL)
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=answer).ok
    replaced = _now_shows(rita, answer)
    assert replaced.text == (":hourglass: This upload expired: rows that are not added within a day are deleted, "
                             "and none of these was added. Share the file again (or paste the rows again) to add "
                             "them.")
    assert replaced.blocks == []  # no button left to press again
    assert _enrolled(runtime) == {}


def test_a_pick_after_the_rows_were_deleted_says_the_same_and_discard_still_answers(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, ["Backend Q4", "Frontend Q4"])
    first, second = _share(rita, workspace), _share(rita, workspace)
    clock.advance(UPLOAD_TTL + timedelta(hours=1))
    assert expire_uploads(runtime) == 2
    value = _select(first)["options"][0]["value"]
    assert rita.click(Action.UPLOAD_CHOOSE.value, in_message=first, selected_option_value=value).ok
    assert _now_shows(rita, first).text.startswith(":hourglass: This upload expired")
    assert rita.click(Action.UPLOAD_DISCARD.value, in_message=second).ok
    assert _now_shows(rita, second).text == "Discarded: no candidate was added."
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CandidateUpload)) == 0
    assert _enrolled(runtime) == {}
