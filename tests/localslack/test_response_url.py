"""response_url posts with slack_sdk's WebhookClient (what Bolt's respond() uses)."""
from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.local.slack import LocalSlack

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}


def test_a_plain_reply_is_an_ephemeral_for_that_user(ws: LocalSlack) -> None:
    url = ws._issue_response_url("U1", "C1")
    assert url.startswith(ws.base_url + "response/")
    response = WebhookClient(url).send(text="only you", blocks=[SECTION])
    assert (response.status_code, response.body) == (200, "ok")
    (ephemeral,) = ws.ephemerals(user="U1")
    assert (ephemeral.channel, ephemeral.text, ephemeral.source) == ("C1", "only you", "response_url")
    assert ephemeral.blocks[0]["text"]["text"] == "hello"
    assert ws.messages() == [] and ws.ephemerals(user="U2") == []


def test_in_channel_posts_a_message(ws: LocalSlack) -> None:
    WebhookClient(ws._issue_response_url("U1", "C1")).send(text="everyone", response_type="in_channel")
    assert [m.text for m in ws.messages("C1")] == ["everyone"] and ws.ephemerals() == []


def test_replace_and_delete_original(ws: LocalSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="pending", blocks=[SECTION])
    hook = WebhookClient(ws._issue_response_url("U1", "C1", message_ts=posted["ts"]))
    assert hook.send(text="approved", replace_original=True).status_code == 200
    (message,) = ws.messages("C1")
    assert (message.ts, message.text, message.blocks) == (posted["ts"], "approved", [])
    assert hook.send(delete_original=True).status_code == 200
    assert ws.messages("C1") == []


def test_replace_original_without_a_message_is_refused(ws: LocalSlack) -> None:
    response = WebhookClient(ws._issue_response_url("U1", "C1")).send(text="x", replace_original=True)
    assert (response.status_code, response.body) == (400, "message_not_found")


def test_invalid_content_is_refused(ws: LocalSlack) -> None:
    hook = WebhookClient(ws._issue_response_url("U1", "C1"))
    assert (hook.send(text="x", blocks=[{"type": "nope"}]).status_code, ws.ephemerals()) == (400, [])
    assert hook.send_dict({"response_type": "ephemeral"}).body == "no_text"


def test_unknown_used_up_and_expired_urls(ws: LocalSlack, clock: Any) -> None:
    assert WebhookClient(ws.base_url + "response/nope").send(text="x").status_code == 404
    hook = WebhookClient(ws._issue_response_url("U1", "C1"))
    assert [hook.send(text=str(i)).status_code for i in range(6)] == [200] * 5 + [404]
    old = WebhookClient(ws._issue_response_url("U1", "C1"))
    clock.advance(30 * 60 + 1)
    response = old.send(text="late")
    assert (response.status_code, response.body) == (404, "expired_url")
    assert len(ws.ephemerals()) == 5
    assert [c.error for c in ws.calls_to("response_url")][-2:] == ["used_url", "expired_url"]
