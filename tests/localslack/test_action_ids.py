"""Slack's rule for action_ids (https://api.slack.com/reference/block-kit/block-elements: "unique among
all other action_ids in the containing block"): two in one block are refused, as Slack refuses them;
the same one in two blocks is fine, block_id telling them apart."""
from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack import LocalSlack


def _button(action_id: str, value: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": value}, "action_id": action_id, "value": value}


def test_two_buttons_with_one_action_id_in_one_block_are_refused(ws: LocalSlack, client: WebClient) -> None:
    blocks = [{"type": "actions", "elements": [_button("add", "1"), _button("add", "2")]}]
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="pick one", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] duplicate action_id within a block: add [json-pointer:/blocks/0/elements/1/action_id]"]
    assert ws.messages() == []


def test_one_action_id_in_two_blocks_is_accepted(ws: LocalSlack, client: WebClient) -> None:
    row = {"type": "section", "text": {"type": "mrkdwn", "text": "row"},
           "accessory": {"type": "overflow", "action_id": "menu",
                         "options": [{"text": {"type": "plain_text", "text": "Pause"}, "value": "pause"}]}}
    blocks = [row, row, {"type": "actions", "elements": [_button("add", "1")]},
              {"type": "actions", "elements": [_button("add", "2")]}]
    assert client.chat_postMessage(channel="C1", text="rows", blocks=blocks)["ok"]
    assert len(ws.messages()[0].blocks) == 4
