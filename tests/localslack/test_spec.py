"""What every method checks before it runs, from Slack's OpenAPI description of the Web API
(../shared/specs/slack_web_openapi_v2.json, extracted in bot/local/slack/slack_methods.json): its
required arguments and the scope its token needs."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.local.slack import LocalSlack, spec
from bot.local.slack.webapi import METHODS

from .conftest import FakeMonotonic, project_manifest

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / spec.SPEC_NAME
REQUIRED = [(method, name) for method in sorted(METHODS) for name in spec.required(method)]


def call(ws: LocalSlack, method: str, **params: Any) -> dict[str, Any]:
    """One call with exactly these arguments (a JSON body, the token in the header)."""
    request = urllib.request.Request(ws.api_url + method, data=json.dumps(params).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {ws.bot_token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.skipif(not SPEC.exists(), reason=f"{SPEC} is not next to this checkout")
def test_the_extract_is_what_slacks_openapi_description_says() -> None:
    """bot/local/slack/slack_methods.json is regenerated from the description, never edited by hand."""
    openapi = json.loads(SPEC.read_text(encoding="utf-8"))
    assert spec.extract(openapi, list(METHODS)) == spec.methods(), \
        f"regenerate: python -m bot.local.slack.spec {SPEC}"


def test_every_method_served_has_its_facts_from_the_description() -> None:
    assert set(spec.methods()) == set(METHODS)
    assert spec.required("chat.postMessage") == ("channel",)  # the description's own "required": true
    assert spec.required("users.info") == ("user",)  # from the method's page: the description omits it


@pytest.mark.parametrize(("method", "missing"), REQUIRED, ids=[f"{m}-{n}" for m, n in REQUIRED])
def test_an_absent_required_argument_is_invalid_arguments(ws: LocalSlack, method: str, missing: str) -> None:
    """Source: the description's required parameters (plus spec.DOCUMENTED_REQUIRED, each with its
    method page). Slack answers an absent one with invalid_arguments and "[ERROR] missing required
    field: <name>" (github.com/vluzrmos/laravel-slack-api/issues/38, brekkylab/backlot/issues/84)."""
    others = {name: "x" for name in spec.required(method) if name != missing}
    assert call(ws, method, **others) == {
        "ok": False, "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] missing required field: {missing}"]}}
    assert ws.messages() == [] and ws.calls[-1].error == "invalid_arguments"


@pytest.mark.parametrize(("method", "params", "error"), [
    ("conversations.info", {"channel": ""}, "channel_not_found"),
    ("users.info", {"user": ""}, "user_not_found"),
    ("chat.update", {"channel": "C1", "ts": "", "text": "x"}, "message_not_found"),
    ("files.info", {"file": ""}, "file_not_found"),
])
def test_a_present_but_empty_argument_gets_the_methods_own_error(
        ws: LocalSlack, method: str, params: dict[str, Any], error: str) -> None:
    """Source: the same measurement (brekkylab/backlot/issues/84): present but naming nothing is the
    method's resolution error from the description's list, not invalid_arguments."""
    assert error in spec.errors(method)
    assert call(ws, method, **params)["error"] == error


# the conversation each call is about: a public channel, except conversations.open, which the bot
# calls to open a DM (users=...)
KIND = {"conversations.open": "im"}
SCOPED = [(m, spec.needed_scope(m, KIND.get(m, "public"))) for m in sorted(METHODS)
          if spec.needed_scope(m, KIND.get(m, "public"))]


@pytest.mark.parametrize(("method", "scope"), SCOPED, ids=[m for m, _ in SCOPED])
def test_a_method_whose_scope_the_manifest_lacks_answers_missing_scope(clock: FakeMonotonic, method: str,
                                                                       scope: str) -> None:
    """Source: the description's "Requires scope" for each method; Slack's missing_scope answer names
    the scope needed and those the token has (https://api.slack.com/methods/conversations.info,
    missing_scope; https://api.slack.com/authentication/oauth-v2)."""
    manifest = project_manifest()
    bot_scopes = manifest["oauth_config"]["scopes"]["bot"]
    manifest["oauth_config"]["scopes"]["bot"] = [s for s in bot_scopes if s != scope]
    if scope == "files:read":  # Slack refuses a manifest that subscribes file_shared without it
        manifest["settings"]["event_subscriptions"]["bot_events"].remove("file_shared")
    with LocalSlack(monotonic=clock, manifest=manifest) as ws:
        ws.add_channel("C1", name="general")
        params = {name: "C1" if name == "channel" else "x" for name in spec.required(method)}
        if method == "conversations.open":
            params["users"] = ws.bot_user_id
        answer = call(ws, method, **params)
    assert answer["error"] == "missing_scope" and answer["needed"] == scope
    assert scope not in answer["provided"].split(",") and "commands" in answer["provided"].split(",")


def test_conversations_info_needs_the_scope_of_the_channels_kind(clock: FakeMonotonic) -> None:
    """Source: the description names conversations:read and lists channels:read, groups:read,
    im:read, mpim:read for public, private, IM and group-DM conversations."""
    manifest = project_manifest()
    manifest["oauth_config"]["scopes"]["bot"].remove("groups:read")
    with LocalSlack(monotonic=clock, manifest=manifest) as ws:
        ws.add_channel("C1", name="public")
        ws.add_channel("C2", name="secret", is_private=True)
        assert call(ws, "conversations.info", channel="C1")["ok"] is True
        private = call(ws, "conversations.info", channel="C2")
        im = call(ws, "conversations.info", channel=ws.dm_channel(ws.bot_user_id))
    assert (private["error"], private["needed"]) == ("missing_scope", "groups:read")
    assert (im["error"], im["needed"]) == ("missing_scope", "im:read")  # the project's manifest has no im:read


def test_users_info_shows_an_email_only_to_a_token_with_users_read_email(clock: FakeMonotonic) -> None:
    """Source: https://api.slack.com/scopes/users:read.email (without it, profiles carry no email)."""
    manifest = project_manifest()
    manifest["oauth_config"]["scopes"]["bot"].remove("users:read.email")
    with LocalSlack(monotonic=clock, manifest=manifest) as ws:
        ws.add_user("U1", name="rita", email="rita@example.com")
        without = WebClient(token=ws.bot_token, base_url=ws.api_url).users_info(user="U1")["user"]["profile"]
    assert "email" not in without


def test_with_users_read_email_the_profile_has_it(ws: LocalSlack, client: WebClient) -> None:
    assert client.users_info(user="U1")["user"]["profile"]["email"] == "rita@example.com"
