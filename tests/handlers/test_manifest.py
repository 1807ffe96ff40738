"""manifest.yml stays in step with what the code registers and the Web API methods it calls."""
from __future__ import annotations

from pathlib import Path

import yaml
from slack_bolt import App

from bot.localslack import LocalSlack, Person
from handlers.commands import COMMAND
from handlers.ids import Action

MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())

# The bot scope each Web API method needs (views.* and auth.test need none).
SCOPE_OF = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write", "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write", "users.info": "users:read", "conversations.info": "channels:read",
    "files.info": "files:read", "files.download": "files:read",
    "views.open": None, "views.push": None, "views.update": None, "views.publish": None, "auth.test": None,
}


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


def test_every_web_api_method_the_bot_calls_is_covered_by_a_manifest_scope(
        rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "help")
    rita.open_home()
    rita.click(Action.OPEN_CONNECT.value, in_home=True)
    rita.submit({"provider": "sandbox", "address": "rita@acme.example"})
    called = {call.method for call in workspace.calls}
    assert called <= set(SCOPE_OF), f"add the scope of {called - set(SCOPE_OF)} to SCOPE_OF and manifest.yml"
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    needed = {SCOPE_OF[m] for m in called} - {None}
    assert needed <= scopes
    assert {"chat.postMessage", "views.open", "views.publish", "users.info"} <= called
