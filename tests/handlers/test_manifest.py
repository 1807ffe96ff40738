"""manifest.yml stays in step with what the code registers, calls and promises. The local workspace
installs the app from this same file (bot/local/slack/manifest.py), so what it lacks fails there too:
a missing scope answers missing_scope, an unsubscribed event never arrives, a read-only Messages tab
has no box to share a file in."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from slack_bolt import App

from bot.local.slack import LocalSlack, Manifest, Person, spec
from bot.local.slack.manifest import EVENT_SCOPES
from handlers.commands import COMMAND
from handlers.ids import Action

ROOT = Path(__file__).parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
INSTALLED = Manifest.load(ROOT / "manifest.yml")
SOURCES = sorted((ROOT / "handlers").rglob("*.py")) + sorted(p for p in (ROOT / "bot").glob("*.py"))
# slack_sdk's WebClient methods are the Web API's names with "_" for "." (client.chat_postMessage)
WEB_API_CALL = re.compile(r"\.((?:auth|chat|conversations|files|users|views)_[A-Za-z]+)\(")
EVENT_LISTENER = re.compile(r"""app\.event\(\s*["']([a-z_.]+)["']""")


def _called_methods() -> set[str]:
    return {m.replace("_", ".", 1) for path in SOURCES for m in WEB_API_CALL.findall(path.read_text())}


def _listened_events() -> set[str]:
    return {e for path in SOURCES for e in EVENT_LISTENER.findall(path.read_text())}


def test_the_slash_command_events_and_modes_match_the_code(app: App) -> None:
    features, settings = MANIFEST["features"], MANIFEST["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [COMMAND]
    # `/outreach delegate @manager` reads the mention Slack escapes to <@U123|name>: only with escaping on
    assert features["slash_commands"][0]["should_escape"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened", "file_shared"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert features["app_home"]["home_tab_enabled"] is True
    assert "commands" in MANIFEST["oauth_config"]["scopes"]["bot"]


def test_every_event_the_code_listens_to_is_subscribed_with_its_scopes() -> None:
    """Source: https://api.slack.com/apis/events-api#subscribing; each event's scopes from its page
    (bot/local/slack/manifest.py EVENT_SCOPES, as in ../shared/specs/slack_limits.json)."""
    listened = _listened_events()
    assert listened == {"app_home_opened", "file_shared"}
    assert listened <= INSTALLED.bot_events
    for event in listened:
        assert set(EVENT_SCOPES[event]) <= INSTALLED.bot_scopes, event


def test_sharing_a_csv_in_the_dm_needs_files_read_file_shared_and_a_writable_messages_tab() -> None:
    """README: "a CSV shared in the DM with the bot works too". The file_shared listener hears it only
    with the event subscribed (and its scope, files:read, which files.info needs too), and a person
    can share a file in the bot's DM only when its Messages tab is on and not read-only
    (https://api.slack.com/reference/manifests#app_home)."""
    assert "file_shared" in _listened_events() and "files.info" in _called_methods()
    assert "files:read" in INSTALLED.bot_scopes and "file_shared" in INSTALLED.bot_events
    assert INSTALLED.messages_tab and not INSTALLED.messages_tab_read_only and INSTALLED.dm_writable
    assert "a CSV shared in the DM with the bot works too" in (ROOT / "README.md").read_text()


def test_every_web_api_method_the_code_calls_has_its_scope_in_the_manifest() -> None:
    """Source: each method's "Requires scope" in Slack's OpenAPI description (bot/local/slack/spec.py).
    conversations.info reads the alert channel, public or private (channels:read, groups:read);
    conversations.open opens a DM (im:write)."""
    called = _called_methods()
    assert {"chat.postMessage", "chat.update", "chat.delete", "conversations.open", "conversations.info",
            "users.info", "files.info", "views.open", "views.publish", "auth.test"} <= called
    assert called <= set(spec.methods()), f"LocalSlack does not serve {called - set(spec.methods())}"
    kinds = {"conversations.info": ["public", "private"], "conversations.open": ["im"]}
    needed = {spec.needed_scope(m, kind) for m in called for kind in kinds.get(m, ["public"])} - {None}
    assert needed <= INSTALLED.bot_scopes, f"add {sorted(needed - INSTALLED.bot_scopes)} to manifest.yml"
    assert "users:read.email" in INSTALLED.bot_scopes  # the preview goes to the address in Rita's profile


def test_every_web_api_method_the_bot_called_in_a_session_was_allowed(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "help")
    rita.open_home()
    rita.click(Action.OPEN_CONNECT.value, in_home=True)
    rita.submit({"provider": "sandbox", "address": "rita@acme.example"})
    assert {"chat.postMessage", "views.open", "views.publish", "users.info"} <= {c.method for c in workspace.calls}
    assert [c for c in workspace.calls if c.error == "missing_scope"] == []
