"""A campaign against what Slack enforces: an alert channel the bot cannot post in is refused on its
field.

Slack's clock here is frozen (it moves only when the bot waits out a 429), so every window and
wait below is exact."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.localslack import LocalSlack, Person, SkipClock
from bot.localslack.model import Message
from bot.models import Campaign
from bot.runtime import Runtime
from bot.services.sequences import StepDraft, create_sequence
from handlers.commands import COMMAND
from tests import factories
from tests.handlers.conftest import RITA

CSV = b"name,email,company\nDee Eve,dee@acme.example,Acme\n"


@pytest.fixture
def slack_time() -> SkipClock:
    return SkipClock(base=lambda: 1000.0)


def _create_campaign(rita: Person, runtime: Runtime, clock: FakeClock, **values: object) -> Any:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        factories.sandbox_mailbox(session, owner, clock)
        create_sequence(session, owner=owner, name="Backend engineers", clock=clock, steps=[
            StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}, would you like to talk?")])
    rita.slash(COMMAND, "campaign new")
    return rita.submit({"name": "Backend Q4", **values})


def _campaign(runtime: Runtime) -> Campaign:
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None
        session.expunge(campaign)
        return campaign


def _campaign_messages(ws: LocalSlack) -> list[Message]:
    return [m for m in ws.messages(ws.dm_channel(RITA)) if any(b.get("type") == "header" for b in m.blocks)]


def _rename(runtime: Runtime, name: str) -> None:
    """A change a worker might record: the message now shows something else."""
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Campaign).values(name=name))


# ---- the alert channel ----------------------------------------------------------------------------
@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_an_alert_channel_the_bot_is_not_in_is_refused_on_its_field(
        private: bool, rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """A public channel without the bot answers is_member false; a private one answers
    channel_not_found (the bot cannot see it). Both mean the same to Rita: invite the bot first."""
    workspace.add_channel("C0QUIET", name="quiet", members=[RITA], bot_is_member=False, is_private=private)
    result = _create_campaign(rita, runtime, clock, alert_channel="C0QUIET")
    assert result.errors and result.errors["alert_channel"].startswith("Invite @Outreach to that channel first")
    assert workspace.calls_to("conversations.info")[-1].error == ("channel_not_found" if private else None)
    assert not any("Something went wrong" in m.text for m in rita.dm_messages())
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign)) is None


def test_a_private_alert_channel_the_bot_is_in_is_taken(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    workspace.add_channel("C0SECRET", name="secret", members=[RITA], is_private=True)
    assert _create_campaign(rita, runtime, clock, alert_channel="C0SECRET").errors is None
    assert _campaign(runtime).alert_channel_id == "C0SECRET"
