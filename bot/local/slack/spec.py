"""What Slack's published Web API description says of each method LocalSlack serves: the arguments
it requires, the scope its token needs, and the errors it answers.

Source: Slack's OpenAPI description of the Web API (the public `slack-api-specs` repository,
`web-api/slack_web_openapi_v2.json`; this project keeps a copy at
../shared/specs/slack_web_openapi_v2.json). The methods LocalSlack serves are extracted into
`slack_methods.json` next to this file and loaded once; tests/localslack/test_spec.py rebuilds the
extract from the full description when it is present and fails if the two differ. Regenerate with

    python -m bot.local.slack.spec ../shared/specs/slack_web_openapi_v2.json

The description leaves some arguments optional that the methods' own reference pages mark
required; DOCUMENTED_REQUIRED adds them, each with its page.
"""
from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

EXTRACT = Path(__file__).with_name("slack_methods.json")
SPEC_NAME = "slack_web_openapi_v2.json"

# Required by the method's reference page, optional in the OpenAPI description.
DOCUMENTED_REQUIRED: dict[str, tuple[str, ...]] = {
    "users.info": ("user",),  # https://api.slack.com/methods/users.info (Required arguments: token, user)
    "conversations.info": ("channel",),  # https://api.slack.com/methods/conversations.info
    "files.info": ("file",),  # https://api.slack.com/methods/files.info
    "chat.delete": ("channel", "ts"),  # https://api.slack.com/methods/chat.delete
    "views.update": ("view",),  # https://api.slack.com/methods/views.update
    "files.delete": ("file",),  # https://api.slack.com/methods/files.delete
}

# Methods the description (last published before files.upload's successors) does not carry: their facts
# from their reference pages, in the extract's shape. `errors` are the ones LocalSlack answers.
DOCUMENTED_METHODS: dict[str, dict[str, Any]] = {
    # https://api.slack.com/methods/files.getUploadURLExternal: required filename and length; bot
    # scope files:write; Tier 4; alt_txt up to 1,000 characters (alt_txt_too_large).
    "files.getUploadURLExternal": {
        "required": ["filename", "length"], "scope": "files:write", "scopes_by_type": ["files:write"],
        "errors": ["invalid_arguments", "alt_txt_too_large", "not_authed", "invalid_auth"],
        "doc": "https://api.slack.com/methods/files.getUploadURLExternal"},
    # https://api.slack.com/methods/files.completeUploadExternal: required files ([{id, title}]);
    # channel_id (or channels) shares the file, without one "the file will remain private"; it
    # "can only be called once"; bot scope files:write; Tier 4.
    "files.completeUploadExternal": {
        "required": ["files"], "scope": "files:write", "scopes_by_type": ["files:write"],
        "errors": ["invalid_arguments", "file_not_found", "channel_not_found", "not_in_channel", "not_authed",
                   "invalid_auth"],
        "doc": "https://api.slack.com/methods/files.completeUploadExternal"},
}
# The description names user-token scopes for some file methods; a bot token needs the bot scope the
# method's page names (https://api.slack.com/methods/files.delete: Bot token files:write).
_BOT_SCOPE = {"files:write:user": "files:write"}

_SCOPE_IN_TEXT = re.compile(r"Requires scope: `([^`]+)`")


def extract(openapi: dict[str, Any], methods: list[str]) -> dict[str, Any]:
    """The facts LocalSlack uses, for `methods`, from the full OpenAPI description."""
    out: dict[str, Any] = {}
    for method in sorted(methods):
        path = openapi["paths"].get("/" + method)
        if path is None and method in DOCUMENTED_METHODS:
            out[method] = dict(DOCUMENTED_METHODS[method])
            continue
        if path is None:
            raise KeyError(f"{method} is not in the OpenAPI description")
        verb = "post" if "post" in path else "get"
        operation = path[verb]
        parameters = operation.get("parameters", [])
        token = next((p for p in parameters if p["name"] == "token"), {})
        found = _SCOPE_IN_TEXT.search(token.get("description", ""))
        security = [s for entry in operation.get("security", []) for s in entry.get("slackAuth", [])]
        error_schema = operation.get("responses", {}).get("default", {}).get("schema", {})
        out[method] = {
            "required": sorted(p["name"] for p in parameters if p.get("required") and p["name"] != "token"),
            "scope": _BOT_SCOPE.get(found.group(1), found.group(1)) if found else "none",
            "scopes_by_type": sorted(s for s in security if s != "none"),
            "errors": list(error_schema.get("properties", {}).get("error", {}).get("enum", [])),
            "doc": operation.get("externalDocs", {}).get("url", f"https://api.slack.com/methods/{method}"),
        }
    return out


@lru_cache(maxsize=1)
def methods() -> dict[str, Any]:
    return json.loads(EXTRACT.read_text(encoding="utf-8"))


def required(method: str) -> tuple[str, ...]:
    """Arguments the method cannot be called without (the token aside)."""
    facts = methods().get(method, {})
    names = list(facts.get("required", []))
    names += [n for n in DOCUMENTED_REQUIRED.get(method, ()) if n not in names]
    return tuple(names)


# A conversation's kind picks the bot scope among the description's conversations:* alternatives.
_SCOPE_FAMILY = {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}


def needed_scope(method: str, conversation_kind: str | None = None) -> str | None:
    """The bot scope a call needs; None when it needs none.

    The description names `conversations:read` / `conversations:write` for the conversations.*
    methods and lists the real scopes per conversation type in its security section
    (channels:*, groups:*, im:*, mpim:*): which one applies depends on the conversation.
    """
    facts = methods().get(method)
    if facts is None or facts["scope"] == "none":
        return None
    scope = str(facts["scope"])
    if scope.startswith("conversations:"):
        family = _SCOPE_FAMILY[conversation_kind or "public"]
        action = scope.split(":", 1)[1]
        wanted = f"{family}:{action}"
        return wanted if wanted in facts["scopes_by_type"] else scope
    return scope


def errors(method: str) -> list[str]:
    return list(methods().get(method, {}).get("errors", []))


def main(argv: list[str]) -> int:
    from .webapi import METHODS

    if len(argv) != 1:
        print(f"usage: python -m bot.local.slack.spec path/to/{SPEC_NAME}", file=sys.stderr)
        return 2
    openapi = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    EXTRACT.write_text(json.dumps(extract(openapi, list(METHODS)), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {EXTRACT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
