"""A campaign against what Slack enforces: an alert channel the bot cannot post in is refused on its
field; a campaign message someone's retention policy (or an admin) removed is posted again, not
failed on; the message is drawn in a read transaction, shown with no database write open, and
recorded in a short guarded write; a rate-limited refresh waits and still happens.

Slack's clock here is frozen (it moves only when the bot waits out a 429), so every window and
wait below is exact."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

import handlers.campaign_message
from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import Activity, LocalSlack, Person, SkipClock, render_blocks
from bot.local.slack.model import Message
from bot.local.slack.ratelimits import PER_MINUTE, TIERS
from bot.models import Campaign
from bot.runtime import Runtime
from bot.services.sequences import StepDraft, create_sequence
from handlers.campaign_message import refresh_campaign_messages
from handlers.commands import COMMAND
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import RITA, client_for
from tests.handlers.test_campaigns import _campaign

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


def _campaign_messages(ws: LocalSlack) -> list[Message]:
    return [m for m in ws.messages(ws.dm_channel(RITA)) if any(b.get("type") == "header" for b in m.blocks)]


def _rename(runtime: Runtime, name: str) -> None:
    """A change a worker might record: the message now shows something else (and, as every such
    write does, the campaign is marked stale: bot.services.campaign_marks)."""
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Campaign).values(name=name, message_version=Campaign.message_version + 1))


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


# ---- a campaign message that is gone ----------------------------------------------------------------
def test_a_click_after_the_campaign_message_was_removed_posts_it_again(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """chat.update answers message_not_found; the bot posts the message anew and keeps its new ts,
    instead of "Something went wrong" on every click from then on."""
    _create_campaign(rita, runtime, clock)
    (first,) = _campaign_messages(workspace)
    workspace.delete_message(first.channel, first.ts)
    rita.upload("team.csv", CSV)  # the DM asks which campaign; its button refreshes the campaign message
    rita.click(Action.UPLOAD_CONFIRM.value)
    assert workspace.calls_to("chat.update")[-1].error == "message_not_found"
    (again,) = _campaign_messages(workspace)
    assert again.ts != first.ts and "Dee Eve" in render_blocks(again.blocks)
    assert (_campaign(runtime).status_channel, _campaign(runtime).status_ts) == (again.channel, again.ts)
    assert not any("Something went wrong" in m.text for m in rita.dm_messages())
    _rename(runtime, "Backend Q4 (EU)")
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 1
    assert _campaign_messages(workspace)[-1].ts == again.ts  # updated in place from then on


def test_the_periodic_refresh_posts_a_removed_message_again(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _create_campaign(rita, runtime, clock)
    (first,) = _campaign_messages(workspace)
    workspace.delete_message(first.channel, first.ts)
    _rename(runtime, "Backend Q4 (EU)")
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 1
    (again,) = _campaign_messages(workspace)
    assert "Backend Q4 (EU)" in render_blocks(again.blocks) and _campaign(runtime).status_ts == again.ts
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 0  # nothing changed since


# ---- transactions around Slack calls --------------------------------------------------------------
def test_no_campaign_message_reaches_slack_while_a_database_write_is_open(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read in one transaction, call Slack outside any, record in a second short one: checked at the
    moment each post or update of the campaign message reaches the workspace."""
    open_writes = [0]
    real = handlers.campaign_message.transaction

    @contextmanager
    def counted(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
        with real(factory, write=write) as session:
            open_writes[0] += write
            try:
                yield session
            finally:
                open_writes[0] -= write

    monkeypatch.setattr(handlers.campaign_message, "transaction", counted)
    seen: list[tuple[str, int]] = []

    def on_activity(activity: Activity) -> None:
        message = activity.data.get("message") or {}
        if activity.kind in ("message", "message_updated") and any(b.get("type") == "header" for b in message.get("blocks", [])):
            seen.append((activity.kind, open_writes[0]))

    unsubscribe = workspace.subscribe(on_activity)
    _create_campaign(rita, runtime, clock)  # posts it
    rita.upload("team.csv", CSV)
    rita.click(Action.UPLOAD_CONFIRM.value)  # updates it
    _rename(runtime, "Backend Q4 (EU)")
    refresh_campaign_messages(runtime, client_for(workspace))  # the periodic job updates it
    unsubscribe()
    assert seen == [("message", 0), ("message_updated", 0), ("message_updated", 0)]


def test_a_refresh_that_lost_the_race_keeps_the_newer_message_and_removes_its_own(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """Two refreshes find the message gone and both post it again. The one that records second
    must not overwrite the first one's ts (its message would be orphaned, never updated again): it
    leaves the recorded ts alone and deletes the message it posted."""
    _create_campaign(rita, runtime, clock)
    (first,) = _campaign_messages(workspace)
    workspace.delete_message(first.channel, first.ts)
    _rename(runtime, "Backend Q4 (EU)")
    winner = "1000.000001"

    def other_refresh_records_first(activity: Activity) -> None:
        blocks = (activity.data.get("message") or {}).get("blocks", [])
        if activity.kind == "message" and any(b.get("type") == "header" for b in blocks):
            with transaction(runtime.sessions, write=True) as session:  # no write is open in the refresh
                session.execute(update(Campaign).values(status_ts=winner))

    unsubscribe = workspace.subscribe(other_refresh_records_first)
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 0
    unsubscribe()
    assert _campaign(runtime).status_ts == winner
    assert _campaign_messages(workspace) == []  # the loser's post was deleted
    assert workspace.calls_to("chat.delete")[-1].ok


# ---- rate limits ---------------------------------------------------------------------------------
def test_a_rate_limited_refresh_waits_and_still_updates_the_message(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, slack_time: SkipClock) -> None:
    """chat.update is Tier 3 (50 a minute). With the minute used up, the refresh gets a 429, waits
    the Retry-After on Slack's clock, and updates the message: delayed, not lost."""
    _create_campaign(rita, runtime, clock)
    (message,) = _campaign_messages(workspace)
    client = client_for(workspace)
    used = sum(1 for c in workspace.calls_to("chat.update"))
    for _ in range(PER_MINUTE[TIERS["chat.update"]] - used):
        client.chat_update(channel=message.channel, ts=message.ts, text="Campaign Backend Q4", blocks=message.blocks)
    _rename(runtime, "Backend Q4 (EU)")
    assert refresh_campaign_messages(runtime, client) == 1
    assert [c.error for c in workspace.calls_to("chat.update")[-2:]] == ["ratelimited", None]
    assert len(slack_time.waits) == 1 and 20 <= slack_time.waits[0] < 21  # 1000 s: 20 s left in the minute
    assert "Backend Q4 (EU)" in render_blocks(_campaign_messages(workspace)[-1].blocks)
