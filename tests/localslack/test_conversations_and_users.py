"""Private channels, deactivated accounts, archived channels and vanished messages, answered as Slack
answers them. Each error is checked to be one the method's entry in Slack's OpenAPI description
lists (bot/local/slack/slack_methods.json)."""
from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack import LocalSlack, spec


def error_of(method: str, call: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    error = str(caught.value.response["error"])
    assert error in spec.errors(method), f"{error} is not among {method}'s errors in the description"
    return error


def test_a_private_channel_the_bot_is_not_in_does_not_exist_for_it(ws: LocalSlack, client: WebClient) -> None:
    """Source: ../shared/specs/slack_limits.json "private_channel_not_member_conversations_info"
    (a bot token cannot see a private channel it is not in): conversations.info, chat.postMessage
    and chat.update answer channel_not_found, where a public channel answers is_member false or
    not_in_channel."""
    ws.add_channel("C2", name="secret", members=["U1"], bot_is_member=False, is_private=True)
    ws.add_channel("C3", name="open", members=["U1"], bot_is_member=False)
    assert error_of("conversations.info", client.conversations_info, channel="C2") == "channel_not_found"
    assert error_of("chat.postMessage", client.chat_postMessage, channel="C2", text="x") == "channel_not_found"
    assert error_of("chat.postMessage", client.chat_postMessage, channel="#secret", text="x") == "channel_not_found"
    assert client.conversations_info(channel="C3")["channel"]["is_member"] is False
    assert error_of("chat.postMessage", client.chat_postMessage, channel="C3", text="x") == "not_in_channel"


def test_a_private_channel_the_bot_is_in_says_it_is_private(ws: LocalSlack, client: WebClient) -> None:
    """Source: https://api.slack.com/types/conversation (is_private; private channels made since
    2021 have C ids and is_channel true, older ones G ids and is_group)."""
    ws.add_channel("C2", name="secret", members=["U1"], is_private=True)
    ws.add_channel("G9", name="old-secret", members=["U1"], is_private=True)
    new, old = client.conversations_info(channel="C2")["channel"], client.conversations_info(channel="G9")["channel"]
    assert (new["is_private"], new["is_member"], new["is_channel"], new["is_group"]) == (True, True, True, False)
    assert (old["is_channel"], old["is_group"]) == (False, True)
    assert client.chat_postMessage(channel="C2", text="hi")["ok"]


def test_updating_a_message_that_is_gone_is_message_not_found(ws: LocalSlack, client: WebClient) -> None:
    """Source: the description's chat.update errors (message_not_found). A retention policy or an
    admin removes the bot's message; the bot's next chat.update of it fails."""
    posted = client.chat_postMessage(channel="DU1", text="campaign")
    client.chat_update(channel="DU1", ts=posted["ts"], text="still here")
    ws.delete_message("DU1", posted["ts"])
    assert error_of("chat.update", client.chat_update, channel="DU1", ts=posted["ts"], text="x") == "message_not_found"
    assert [m.ts for m in ws.messages("DU1")] == []


def test_users_info_of_an_unknown_user_is_user_not_found(client: WebClient) -> None:
    """Source: the description's users.info errors (user_not_found)."""
    assert error_of("users.info", client.users_info, user="U0GHOST") == "user_not_found"


def test_a_deactivated_account_is_deleted_in_users_info_and_its_dm_cannot_be_opened(
        ws: LocalSlack, client: WebClient) -> None:
    """Source: https://api.slack.com/types/user ("deleted": true for a deactivated account, still
    returned by users.info) and the description's conversations.open errors (user_disabled)."""
    ws.deactivate("U2")
    assert client.users_info(user="U2")["user"]["deleted"] is True
    assert client.users_info(user="U1")["user"]["deleted"] is False
    assert error_of("conversations.open", client.conversations_open, users="U2") == "user_disabled"


def test_an_archived_channel_takes_no_messages(ws: LocalSlack, client: WebClient) -> None:
    """Source: the description's chat.postMessage and chat.postEphemeral errors (is_archived)."""
    ws.archive("C1")
    assert error_of("chat.postMessage", client.chat_postMessage, channel="C1", text="x") == "is_archived"
    assert error_of("chat.postEphemeral", client.chat_postEphemeral, channel="C1", user="U1", text="x") == "is_archived"
    assert client.conversations_info(channel="C1")["channel"]["is_archived"] is True
