"""The app's manifest, as installed, decides what the workspace tells the app and what people can do
with it (bot/local/slack/manifest.py). Each test names its source."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App

from bot.local.slack import BoltTarget, LocalSlack, Person
from bot.slack_app import bot_client

from .conftest import FakeMonotonic, project_manifest


class Recorder:
    """A Bolt app that writes down what reaches it."""

    def __init__(self, ws: LocalSlack, clock: FakeMonotonic) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.app = App(signing_secret=ws.signing_secret, client=bot_client(ws.bot_token, ws.api_url, sleep=clock.sleep),
                       process_before_response=True)

        @self.app.command("/outreach")
        def command(ack: Any, command: dict[str, Any]) -> None:
            ack()
            self.seen.append(("command", command["text"]))

        @self.app.event("file_shared")
        def file_shared(event: dict[str, Any]) -> None:
            self.seen.append(("file_shared", event["file_id"]))

        @self.app.event("app_home_opened")
        def home(event: dict[str, Any]) -> None:
            self.seen.append(("app_home_opened", event["user"]))

        @self.app.event("message")
        def message(event: dict[str, Any]) -> None:
            self.seen.append(("message", event["text"]))


@pytest.fixture
def workspace_with(clock: FakeMonotonic) -> Iterator[Any]:
    """workspace_with(change) -> (ws, rita, recorder): a workspace installed with the project's
    manifest after `change(manifest)`."""
    started: list[LocalSlack] = []

    def make(change: Any = lambda manifest: None) -> tuple[LocalSlack, Person, Recorder]:
        manifest = project_manifest()
        change(manifest)
        ws = LocalSlack(monotonic=clock, manifest=manifest).start()
        started.append(ws)
        ws.add_user("U1", name="rita")
        ws.add_user("U2", name="sam")
        ws.add_channel("C1", name="hiring", members=["U1", "U2"])
        recorder = Recorder(ws, clock)
        return ws, Person(ws, "U1", BoltTarget(recorder.app)), recorder

    yield make
    for ws in started:
        ws.stop()


def _app_home(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["features"]["app_home"]


def _events(manifest: dict[str, Any]) -> list[str]:
    return manifest["settings"]["event_subscriptions"]["bot_events"]


def test_an_event_the_app_did_not_subscribe_to_is_not_delivered(workspace_with: Any) -> None:
    """Source: https://api.slack.com/apis/events-api#subscribing (only subscribed events are sent)."""
    ws, rita, recorder = workspace_with(lambda m: _events(m).remove("file_shared"))
    shared = rita.upload("leads.csv", b"email\nana@example.com\n")
    assert shared.result is None and recorder.seen == []
    assert ws.messages(rita.dm)[-1].files  # the person's message with the file is there all the same
    assert rita.open_home() is not None and recorder.seen == [("app_home_opened", "U1")]


def test_without_app_home_opened_the_tab_opens_but_the_app_is_not_told(workspace_with: Any) -> None:
    _, rita, recorder = workspace_with(lambda m: _events(m).remove("app_home_opened"))
    assert rita.open_home() is None and recorder.seen == []


def test_subscribing_to_an_event_without_its_scope_is_refused(clock: FakeMonotonic) -> None:
    """Source: https://api.slack.com/events/file_shared (Required scopes: files:read), as listed in
    ../shared/specs/slack_limits.json "event_scopes": Slack refuses such a manifest."""
    manifest = project_manifest()
    manifest["oauth_config"]["scopes"]["bot"].remove("files:read")
    with pytest.raises(ValueError, match="file_shared event needs the bot scope files:read"):
        LocalSlack(monotonic=clock, manifest=manifest)


@pytest.mark.parametrize(("escape", "sent"), [
    (True, "delegate <@U2|sam> in <#C1|hiring> and <@U0OTHER>"),
    (False, "delegate @sam in #hiring and @U0OTHER"),
])
def test_should_escape_decides_how_mentions_arrive_in_the_command(workspace_with: Any, escape: bool, sent: str) -> None:
    """Source: https://api.slack.com/interactivity/slash-commands ("Escape channels, users, and links
    sent to your app"): escaped, a picked person is <@U123|name> and a channel <#C123|name>;
    unescaped, the plain text the person saw."""
    def set_escape(manifest: dict[str, Any]) -> None:
        manifest["features"]["slash_commands"][0]["should_escape"] = escape
    _, rita, recorder = workspace_with(set_escape)
    rita.slash("/outreach", "delegate <@U2> in <#C1> and <@U0OTHER>")
    assert recorder.seen == [("command", sent)]


def test_a_command_the_app_does_not_have_cannot_be_typed(workspace_with: Any) -> None:
    """Source: https://api.slack.com/reference/manifests (features.slash_commands): Slack only routes
    the commands an app declares."""
    _, rita, _ = workspace_with()
    with pytest.raises(AssertionError, match="no /import command"):
        rita.slash("/import", "leads")


@pytest.mark.parametrize("setting", ["read_only", "no_messages_tab"])
def test_a_read_only_or_missing_messages_tab_has_no_box_to_post_or_share_a_file_in(
        workspace_with: Any, setting: str) -> None:
    """Source: https://api.slack.com/reference/manifests#app_home (messages_tab_enabled,
    messages_tab_read_only_enabled): in the app's DM a person can write only when the Messages tab
    is on and not read-only. Channels are not affected."""
    def close_the_tab(manifest: dict[str, Any]) -> None:
        if setting == "read_only":
            _app_home(manifest)["messages_tab_read_only_enabled"] = True
        else:
            _app_home(manifest)["messages_tab_enabled"] = False
    ws, rita, recorder = workspace_with(close_the_tab)
    with pytest.raises(AssertionError, match="cannot share a file in the app's DM"):
        rita.upload("leads.csv", b"email\nana@example.com\n")
    with pytest.raises(AssertionError, match="cannot post a message in the app's DM"):
        rita.say("hello")
    assert ws.messages(rita.dm) == [] and ws.files() == []
    assert rita.upload("leads.csv", b"email\nana@example.com\n", channel="C1").result is not None


def test_a_writable_messages_tab_takes_messages_and_tells_the_app_only_if_subscribed(workspace_with: Any) -> None:
    """Source: https://api.slack.com/events/message.im (Required scopes: im:history): the project's
    app does not subscribe, so a DM reaches nobody; subscribed, it reaches the app."""
    ws, rita, recorder = workspace_with()
    assert rita.say("hello").text == "hello" and recorder.seen == []

    def subscribe(manifest: dict[str, Any]) -> None:
        manifest["oauth_config"]["scopes"]["bot"].append("im:history")
        _events(manifest).append("message.im")
    _, sam_side, recorder = workspace_with(subscribe)
    sam_side.say("hello again")
    assert recorder.seen == [("message", "hello again")]


def test_no_home_tab_without_home_tab_enabled(workspace_with: Any) -> None:
    _, rita, _ = workspace_with(lambda m: _app_home(m).update(home_tab_enabled=False))
    with pytest.raises(AssertionError, match="no Home tab"):
        rita.open_home()
