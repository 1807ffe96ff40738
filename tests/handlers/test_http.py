"""`outreach serve`'s HTTP mode: the WSGI app under waitress, reached over real HTTP."""
from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from slack_bolt import App
from waitress.server import create_server

from bot.localslack import HttpTarget, LocalSlack, Person
from bot.web import wsgi_app
from tests.handlers.conftest import RITA


@pytest.fixture
def served(app: App) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # poll(), unlike select(), does not fail when close() races the loop thread at teardown
    server = create_server(wsgi_app(app), host="127.0.0.1", port=port, threads=2, asyncore_use_poll=True)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()
    thread.join(timeout=5)


def test_a_signed_slash_command_over_http_gets_the_help(served: str, workspace: LocalSlack) -> None:
    rita = Person(workspace, RITA, HttpTarget(f"{served}/slack/events"))
    assert rita.slash("/outreach", "help").ok
    assert "/outreach connect" in str(workspace.ephemerals(RITA)[-1].blocks)


def test_a_forged_request_over_http_is_refused(served: str, workspace: LocalSlack) -> None:
    forger = Person(workspace, RITA, HttpTarget(f"{served}/slack/events"), signing_secret="wrong")
    assert forger.slash("/outreach", "help").status == 401


def test_health_check_and_unknown_paths(served: str) -> None:
    assert urllib.request.urlopen(f"{served}/healthz", timeout=5).read() == b"ok"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{served}/nope", timeout=5)
    assert caught.value.code == 404
