"""`/outreach status` with no argument: every campaign, 20 to a page with a count, Previous / Next
redrawing the same ephemeral through its response_url, each page read again for whoever clicks."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import Ephemeral, LocalSlack, Person, render_blocks
from bot.models import Mailbox, Sequence
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign
from bot.services.sequences import StepDraft, create_sequence
from handlers.commands import COMMAND
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import OMAR, RITA

NEXT, PREVIOUS = f"{Action.CAMPAIGN_LIST_PAGE.value}.next", f"{Action.CAMPAIGN_LIST_PAGE.value}.previous"


def _campaigns(runtime: Runtime, clock: FakeClock, names: list[str], slack_id: str = RITA) -> None:
    """Campaigns created one second apart in the order given (the last is the newest)."""
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=slack_id)
        mailbox = session.scalar(select(Mailbox).where(Mailbox.owner_id == owner.id)) or factories.sandbox_mailbox(
            session, owner, clock, address=f"{slack_id.lower()}@acme.example")
        sequence = create_sequence(session, owner=owner, clock=clock,
                                   name=factories.free_name(session, Sequence, owner, "Backend engineers"),
                                   steps=[StepDraft("Role at {{ company }}", "Hi {{ first_name }}")])
        for name in names:
            clock.advance(timedelta(seconds=1))
            create_campaign(session, owner=owner, sequence=sequence, mailbox=mailbox, name=name, clock=clock)


def _listed(shown: Ephemeral) -> list[str]:
    return [b["text"]["text"].split("*")[1] for b in shown.blocks[1:] if b["type"] == "section"]


def _buttons(shown: Ephemeral) -> list[str]:
    return [e["text"]["text"] for b in shown.blocks if b["type"] == "actions" for e in b["elements"]]


def test_every_campaign_is_listed_a_page_at_a_time_in_the_same_message(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, [f"Campaign {n:02d}" for n in range(57)])
    _campaigns(runtime, clock, ["Omar's own"], slack_id=OMAR)
    assert rita.slash(COMMAND, "status").ok
    first = rita.ephemerals()[-1]
    assert "Campaigns 1–20 of 57" in render_blocks(first.blocks) and first.text == "Your campaigns 1–20 of 57"
    assert _listed(first) == [f"Campaign {n:02d}" for n in range(56, 36, -1)] and _buttons(first) == ["Next"]
    seen = _listed(first)
    for expected, buttons in (("21–40", ["Previous", "Next"]), ("41–57", ["Previous"])):
        assert rita.click(NEXT, in_message=first).ok
        (shown,) = [e for e in rita.ephemerals() if e.ts == first.ts]  # the same message, redrawn
        assert f"Campaigns {expected} of 57" in render_blocks(shown.blocks) and _buttons(shown) == buttons
        seen += _listed(shown)
    assert sorted(seen) == [f"Campaign {n:02d}" for n in range(57)]  # each once, the oldest too
    assert rita.click(PREVIOUS, in_message=first).ok
    assert _listed(rita.ephemerals()[-1])[0] == "Campaign 36"
    assert len(rita.ephemerals()) == 1


def test_a_page_is_read_again_when_clicked(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, [f"Campaign {n:02d}" for n in range(25)])
    rita.slash(COMMAND, "status")
    shown = rita.ephemerals()[-1]
    _campaigns(runtime, clock, ["Made meanwhile"])
    rita.click(NEXT, in_message=shown)
    again = rita.ephemerals()[-1]
    assert "Campaigns 21–26 of 26" in render_blocks(again.blocks)
    assert _listed(again)[0] == "Campaign 05"


def test_the_list_shows_each_campaigns_status_and_candidates_and_says_when_there_is_none(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    rita.slash(COMMAND, "status")
    assert "You have no campaigns yet" in render_blocks(rita.ephemerals()[-1].blocks)
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        factories.campaign_with_candidates(session, owner, factories.sandbox_mailbox(session, owner, clock), clock,
                                           candidates=3).name = "R&D <platform>"
    rita.slash(COMMAND, "status")
    blocks = rita.ephemerals()[-1].blocks
    assert blocks[1]["text"]["text"] == "*R&amp;D &lt;platform&gt;* · :memo: Draft\n3 candidates: Not Started: 3"
    shown = render_blocks(blocks)  # as Slack shows it: the name as typed, and the command's placeholder
    assert "R&D <platform>" in shown and "`/outreach status <campaign>` shows one in full." in shown
    assert "Campaigns 1–1 of 1" in shown and "Next" not in shown
