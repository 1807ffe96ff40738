"""The same signed requests over real HTTP, into Bolt's own WSGI adapter on a stdlib server."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.local.slack import HttpTarget, LocalSlack, Person


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bot_url(app: App) -> Iterator[str]:
    @app.command("/outreach")
    def outreach(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        respond(text=f"Working on {command['text']!r}")

    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events"
    server.shutdown()
    server.server_close()


def test_slash_command_over_http(ws: LocalSlack, bot_url: str) -> None:
    result = Person(ws, "U1", HttpTarget(bot_url)).slash("/outreach", "weekly digest")
    assert result.status == 200
    assert [e.text for e in ws.ephemerals(user="U1")] == ["Working on 'weekly digest'"]


def test_forged_request_over_http_gets_401(ws: LocalSlack, bot_url: str) -> None:
    result = Person(ws, "U1", HttpTarget(bot_url), signing_secret="guess").slash("/outreach", "x")
    assert result.status == 401 and ws.ephemerals() == []
