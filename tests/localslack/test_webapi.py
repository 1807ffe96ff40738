"""The real slack_sdk WebClient against LocalSlack: happy paths and Slack's rejections."""
from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack import LocalSlack

# some tests leave text out on purpose, to see Slack's answer
pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}


def error_of(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call(*args, **kwargs)
    return dict(caught.value.response.data)


def raw_post(ws: LocalSlack, method: str, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(ws.api_url + method, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200  # Slack answers errors with 200 too
        return json.loads(response.read())


# ---- auth ---------------------------------------------------------------------------
def test_auth_test_returns_the_bot_identity(ws: LocalSlack, client: WebClient) -> None:
    data = client.auth_test().data
    assert data["ok"] is True
    assert (data["team_id"], data["user_id"], data["bot_id"], data["team"]) == ("T0LOCAL", "U0BOT", "B0LOCAL", "Local Workspace")
    assert data["url"] == ws.base_url and ws.api_url.endswith("/api/")


def test_wrong_or_missing_token_is_rejected_on_every_method(ws: LocalSlack) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=ws.api_url)
    assert error_of(bad.auth_test)["error"] == "invalid_auth"
    assert error_of(bad.chat_postMessage, channel="C1", text="hi")["error"] == "invalid_auth"
    anonymous = WebClient(base_url=ws.api_url)
    assert error_of(anonymous.users_info, user="U1")["error"] == "not_authed"
    assert ws.messages() == []


def test_token_in_a_form_body_works_but_not_in_a_json_body(ws: LocalSlack) -> None:
    form = raw_post(ws, "auth.test", f"token={ws.bot_token}".encode(), "application/x-www-form-urlencoded")
    assert form["ok"] is True
    as_json = raw_post(ws, "auth.test", json.dumps({"token": ws.bot_token}).encode(), "application/json")
    assert as_json == {"ok": False, "error": "not_authed"}


def test_unknown_method_and_bad_json(ws: LocalSlack, client: WebClient) -> None:
    assert error_of(client.api_call, "chat.postMesage", json={"channel": "C1"})["error"] == "unknown_method"
    broken = raw_post(ws, "chat.postMessage", b"{not json", "application/json", {"Authorization": f"Bearer {ws.bot_token}"})
    assert broken["error"] == "invalid_json"


def test_calls_are_recorded_without_the_token(ws: LocalSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="one")
    error_of(client.chat_postMessage, channel="C404", text="two")
    posted, failed = ws.calls_to("chat.postMessage")
    assert (posted.ok, posted.params["text"], "token" not in posted.params) == (True, "one", True)
    assert (failed.ok, failed.error) == (False, "channel_not_found")


# ---- chat.postMessage ----------------------------------------------------------------
def test_post_message_to_channel_user_and_dm(ws: LocalSlack, client: WebClient) -> None:
    in_channel = client.chat_postMessage(channel="C1", text="to channel", blocks=[SECTION])
    to_user = client.chat_postMessage(channel="U1", text="to rita")
    to_dm = client.chat_postMessage(channel=ws.dm_channel("U1"), text="again")
    by_name = client.chat_postMessage(channel="#hiring-alerts", text="by name")
    assert in_channel["channel"] == "C1" and by_name["channel"] == "C1"
    assert to_user["channel"] == to_dm["channel"] == "DU1"
    assert in_channel["message"]["blocks"][0]["block_id"]  # Slack fills in missing block ids
    assert [m.text for m in ws.messages("DU1")] == ["to rita", "again"]
    assert [m.text for m in ws.messages()] == ["to channel", "to rita", "again", "by name"]
    assert ws.messages("C1")[0].user == "U0BOT" and ws.messages("C1")[0].blocks[0]["text"]["text"] == "hello"


def test_ts_values_look_like_slack_and_strictly_increase(client: WebClient) -> None:
    # the wallclock is frozen in these tests, yet every ts must still be unique and ordered
    stamps = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)]
    assert all(len(ts.split(".")[1]) == 6 and ts.split(".")[0].isdigit() for ts in stamps)
    assert [float(t) for t in stamps] == sorted(float(t) for t in stamps) and len(set(stamps)) == 5


def test_thread_ts_is_kept(ws: LocalSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    reply = client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)
    assert reply["message"]["thread_ts"] == parent and ws.messages("C1")[1].thread_ts == parent


def test_post_message_rejections(ws: LocalSlack, client: WebClient) -> None:
    assert error_of(client.chat_postMessage, channel="C404", text="x")["error"] == "channel_not_found"
    assert error_of(client.chat_postMessage, channel="U404", text="x")["error"] == "channel_not_found"
    assert error_of(client.chat_postMessage, channel="C1")["error"] == "no_text"
    assert error_of(client.chat_postMessage, channel="C1", text="x" * 40001)["error"] == "msg_too_long"
    ws.add_channel("C2", name="no-bot", members=["U1"], bot_is_member=False)
    assert error_of(client.chat_postMessage, channel="C2", text="x")["error"] == "not_in_channel"
    assert ws.messages() == []


@pytest.mark.parametrize(
    "blocks, expected",
    [
        ([SECTION] * 51, "no more than 50 items"),
        ([{"type": "sectoin", "text": {"type": "mrkdwn", "text": "typo"}}], "unsupported type: sectoin"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "cannot exceed 3000"),
        ([{"type": "section"}], "text or fields"),
        ([{"type": "section", "text": "not an object"}], "must provide an object"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "more than 0 characters"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}], "unsupported property: colour"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "*bold*"}}], "plain_text"),
        ([{"type": "actions", "elements": [{"type": "buton", "text": {"type": "plain_text", "text": "Go"}}]}], "unsupported element"),
        ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x" * 76}}]}], "75"),
        ([dict(SECTION, block_id="same"), dict(SECTION, block_id="same")], "duplicate block_id"),
    ],
)
def test_invalid_blocks_are_rejected_with_a_helpful_message(client: WebClient, ws: LocalSlack, blocks: list[Any], expected: str) -> None:
    data = error_of(client.chat_postMessage, channel="C1", text="fallback", blocks=blocks)
    assert data["error"] == "invalid_blocks"
    assert any(expected in m for m in data["response_metadata"]["messages"]), data
    assert ws.messages() == []


def test_fifty_blocks_are_fine(client: WebClient) -> None:
    assert client.chat_postMessage(channel="C1", text="x", blocks=[SECTION] * 50)["ok"]


def test_form_encoded_blocks_are_json_decoded(ws: LocalSlack, client: WebClient) -> None:
    ok = client.api_call("chat.postMessage", params={"channel": "C1", "text": "t", "blocks": json.dumps([SECTION])})
    assert ok["message"]["blocks"][0]["type"] == "section"
    bad = error_of(client.api_call, "chat.postMessage", params={"channel": "C1", "blocks": "[{oops"})
    assert bad["error"] == "invalid_blocks_format"


# ---- chat.postEphemeral / chat.update / chat.delete -------------------------------------
def test_post_ephemeral(ws: LocalSlack, client: WebClient) -> None:
    sent = client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert sent["message_ts"]
    assert client.chat_postEphemeral(channel=ws.dm_channel("U2"), user="U2", text="dm psst")["ok"]
    assert [(e.user, e.text, e.source) for e in ws.ephemerals()] == [
        ("U1", "psst", "chat.postEphemeral"), ("U2", "dm psst", "chat.postEphemeral")]
    assert ws.messages() == []  # ephemerals are not channel messages
    assert error_of(client.chat_postEphemeral, channel="C1", user="U2", text="x")["error"] == "user_not_in_channel"
    assert error_of(client.chat_postEphemeral, channel="C1", user="U404", text="x")["error"] == "user_not_found"
    assert error_of(client.chat_postEphemeral, channel="C404", user="U1", text="x")["error"] == "channel_not_found"
    assert error_of(client.chat_postEphemeral, channel="C1", user="U1")["error"] == "no_text"


def test_chat_update_replaces_text_and_keeps_blocks_unless_given(ws: LocalSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="v1", blocks=[SECTION])
    updated = client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert updated["text"] == "v2" and updated["ts"] == posted["ts"]
    (message,) = ws.messages("C1")
    assert message.text == "v2" and message.blocks[0]["text"]["text"] == "hello" and message.edited_ts
    client.chat_update(channel="C1", ts=posted["ts"], text="v3", blocks=[])
    assert ws.messages("C1")[0].blocks == []


def test_chat_update_rejections(ws: LocalSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="v1")
    assert error_of(client.chat_update, channel="C1", ts="1.000001", text="x")["error"] == "message_not_found"
    assert error_of(client.chat_update, channel="C404", ts=posted["ts"], text="x")["error"] == "channel_not_found"
    assert error_of(client.chat_update, channel="C1", ts=posted["ts"])["error"] == "no_text"
    assert error_of(client.chat_update, channel="C1", ts=posted["ts"], blocks=[{"type": "nope"}])["error"] == "invalid_blocks"
    human = ws.add_message("C1", "U1", "written by rita")
    assert error_of(client.chat_update, channel="C1", ts=human.ts, text="x")["error"] == "cant_update_message"
    assert error_of(client.chat_delete, channel="C1", ts=human.ts)["error"] == "cant_delete_message"
    assert ws.messages("C1")[0].text == "v1"


def test_chat_delete(ws: LocalSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="bye")
    client.chat_delete(channel="C1", ts=posted["ts"])
    assert ws.messages() == []
    assert error_of(client.chat_delete, channel="C1", ts=posted["ts"])["error"] == "message_not_found"


# ---- conversations / users -----------------------------------------------------------
def test_conversations_open(ws: LocalSlack, client: WebClient) -> None:
    assert client.conversations_open(users="U2")["channel"]["id"] == "DU2" == ws.dm_channel("U2")
    assert client.conversations_open(users=["U2"])["already_open"] is True
    assert error_of(client.conversations_open, users="U404")["error"] == "user_not_found"
    assert error_of(client.api_call, "conversations.open", params={})["error"] == "users_list_not_supplied"


def test_users_info_has_timezone_from_zoneinfo(client: WebClient) -> None:
    rita = client.users_info(user="U1")["user"]
    assert (rita["tz"], rita["tz_offset"], rita["tz_label"]) == ("America/New_York", -4 * 3600, "Eastern Daylight Time")
    assert rita["profile"]["email"] == "rita@example.com" and rita["profile"]["real_name"] == "Rita Recruiter"
    assert rita["is_admin"] is False
    sam = client.users_info(user="U2")["user"]
    assert (sam["tz_offset"], sam["tz_label"], sam["is_admin"]) == (3600, "British Summer Time", True)
    assert error_of(client.users_info, user="U404")["error"] == "user_not_found"
    assert client.users_lookupByEmail(email="RITA@example.com")["user"]["id"] == "U1"


def test_add_user_rejects_a_bad_timezone(ws: LocalSlack) -> None:
    with pytest.raises(ValueError):
        ws.add_user("U9", name="x", tz="Eastern")


# ---- views ------------------------------------------------------------------------------
def modal(title: str = "Add candidate", **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [SECTION], **extra}


def test_views_open_with_a_fresh_trigger(ws: LocalSlack, client: WebClient) -> None:
    trigger = ws._issue_trigger("U1")
    view = client.views_open(trigger_id=trigger, view=modal(callback_id="add"))["view"]
    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "add"
    assert view["state"] == {"values": {}} and view["root_view_id"] == view["id"]
    assert [v["id"] for v in ws.open_views("U1")] == [view["id"]]
    assert ws.open_views("U2") == []


def test_trigger_ids_expire_after_three_seconds(ws: LocalSlack, client: WebClient, clock: Any) -> None:
    trigger = ws._issue_trigger("U1")
    clock.advance(3.01)
    assert error_of(client.views_open, trigger_id=trigger, view=modal())["error"] == "expired_trigger_id"
    fresh = ws._issue_trigger("U1")
    clock.advance(2.9)
    assert client.views_open(trigger_id=fresh, view=modal())["ok"]


def test_trigger_ids_are_single_use_and_must_exist(ws: LocalSlack, client: WebClient) -> None:
    trigger = ws._issue_trigger("U1")
    client.views_open(trigger_id=trigger, view=modal())
    assert error_of(client.views_open, trigger_id=trigger, view=modal())["error"] == "exchanged_trigger_id"
    assert error_of(client.views_open, trigger_id="123.456.abc", view=modal())["error"] == "invalid_trigger_id"
    assert error_of(client.views_open, view=modal())["error"] == "invalid_arguments"


@pytest.mark.parametrize(
    "view, expected",
    [
        ({"type": "modal", "blocks": [SECTION]}, "title"),
        (modal(blocks=[SECTION] * 101), "no more than 100"),
        (modal(title="x" * 25), "title must be between 1 and 24"),
        (dict(modal(), type="home"), "view type must be 'modal'"),
        (modal(blocks=[{"type": "input", "label": {"type": "plain_text", "text": "L"},
                        "element": {"type": "plain_text_input", "action_id": "a"}}]), "submit is required"),
        (modal(blocks=[{"type": "bogus"}]), "unsupported type"),
        (modal(callbackid="typo"), "unsupported property: callbackid"),
    ],
)
def test_invalid_views_are_rejected(ws: LocalSlack, client: WebClient, view: dict[str, Any], expected: str) -> None:
    data = error_of(client.views_open, trigger_id=ws._issue_trigger("U1"), view=view)
    assert data["error"] == "invalid_arguments"
    assert any(expected in m for m in data["response_metadata"]["messages"]), data
    assert ws.open_views("U1") == []


def test_a_hundred_blocks_in_a_modal_are_fine(ws: LocalSlack, client: WebClient) -> None:
    assert client.views_open(trigger_id=ws._issue_trigger("U1"), view=modal(blocks=[SECTION] * 100))["ok"]


def test_views_push_stacks_up_to_three(ws: LocalSlack, client: WebClient) -> None:
    assert error_of(client.views_push, trigger_id=ws._issue_trigger("U1"), view=modal())["error"] == "not_found"
    root = client.views_open(trigger_id=ws._issue_trigger("U1"), view=modal("one"))["view"]
    second = client.views_push(trigger_id=ws._issue_trigger("U1"), view=modal("two"))["view"]
    client.views_push(trigger_id=ws._issue_trigger("U1"), view=modal("three"))
    assert second["root_view_id"] == root["id"] and second["previous_view_id"] == root["id"]
    assert error_of(client.views_push, trigger_id=ws._issue_trigger("U1"), view=modal("four"))["error"] == "push_limit_reached"
    assert [v["title"]["text"] for v in ws.open_views("U1")] == ["one", "two", "three"]


def test_views_update_by_id_and_external_id_with_hash_checks(ws: LocalSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=ws._issue_trigger("U1"), view=modal(external_id="cand-1"))["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Step 2", external_id="cand-1"))["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    stale = error_of(client.views_update, view_id=opened["id"], hash=opened["hash"], view=modal("Step 3"))
    assert stale["error"] == "hash_conflict"
    assert ws.open_views("U1")[0]["title"]["text"] == "Step 2"
    again = client.views_update(external_id="cand-1", view=modal("Step 3", external_id="cand-1"))["view"]
    assert again["id"] == opened["id"] and ws.open_views("U1")[0]["title"]["text"] == "Step 3"
    assert error_of(client.views_update, view_id="VNOPE", view=modal())["error"] == "not_found"
    assert error_of(client.api_call, "views.update", json={"view": modal()})["error"] == "invalid_arguments"
    dup = error_of(client.views_open, trigger_id=ws._issue_trigger("U2"), view=modal(external_id="cand-1"))
    assert dup["error"] == "duplicate_external_id"


def test_views_publish_home(ws: LocalSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [SECTION]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    assert ws.home("U1")["id"] == first["id"] and ws.home("U2") is None
    second = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert second["id"] == first["id"]  # a user's Home tab keeps its view id
    assert error_of(client.views_publish, user_id="U1", view=home, hash=first["hash"])["error"] == "hash_conflict"
    assert error_of(client.views_publish, user_id="U1", view=modal())["error"] == "invalid_arguments"
    assert error_of(client.views_publish, user_id="U404", view=home)["error"] == "user_not_found"
    too_many = error_of(client.views_publish, user_id="U1", view={"type": "home", "blocks": [SECTION] * 101})
    assert too_many["error"] == "invalid_arguments"
