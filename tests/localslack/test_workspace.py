"""Workspace plumbing: lifecycle, GET requests, the activity log."""
from __future__ import annotations

import json
import urllib.request

from slack_sdk import WebClient

from bot.local.slack import LocalSlack


def test_get_with_a_query_string_token(ws: LocalSlack) -> None:
    with urllib.request.urlopen(f"{ws.api_url}users.info?user=U1&token={ws.bot_token}", timeout=5) as response:
        assert json.loads(response.read())["user"]["name"] == "rita"


def test_subscribers_and_the_event_log(ws: LocalSlack, client: WebClient) -> None:
    seen: list[str] = []
    unsubscribe = ws.subscribe(lambda activity: seen.append(activity.text))
    mark = ws.mark()
    client.chat_postMessage(channel="C1", text="first")
    unsubscribe()
    client.chat_postMessage(channel="C1", text="second")
    assert seen == ["first"]
    assert [a.text for a in ws.transcript_since(mark)] == ["first", "second"]
    assert ws.events[-1].kind == "message" and ws.events[-1].channel == "C1"
    assert "[#hiring-alerts] bot:\n    second" in ws.render_transcript(mark)


def test_workspaces_are_independent_and_restartable() -> None:
    with LocalSlack(team_id="TONE") as one, LocalSlack(team_id="TTWO") as two:
        assert one.port != two.port
        assert WebClient(token=two.bot_token, base_url=two.api_url).auth_test()["team_id"] == "TTWO"
    assert one._server is None
