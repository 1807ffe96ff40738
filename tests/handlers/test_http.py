"""`outreach serve`'s HTTP mode: the WSGI app under waitress, reached over real HTTP."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from slack_bolt import App
from waitress.server import create_server

from bot.local.slack import HttpTarget, LocalSlack, Person
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


def _post(served: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"{served}/slack/events", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode("utf-8", "replace")


def _signed(workspace: LocalSlack, body: bytes, content_type: str = "application/x-www-form-urlencoded",
            timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    digest = hmac.new(workspace.signing_secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    signature = f"v0={digest.hexdigest()}"  # as Slack signs, for bodies that are not UTF-8 too
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("body", "content_type"), [
    (b"payload=%7Bnot%20json", FORM),  # payload={not json
    (b"payload=" + urllib.parse.quote(json.dumps({"type": "view_submission", "user": {"id": RITA},  # the view's
                                                  "view": {"callback_id": "sequence.edit"}})).encode(), FORM),  # type
    (b"payload=" + urllib.parse.quote(json.dumps({"type": "view_submission", "view": None})).encode(), FORM),
    (b"payload=" + urllib.parse.quote(json.dumps(["a", "list"])).encode(), FORM),
    (bytes(range(256)) * 4, FORM),  # binary
    (bytes(range(256)) * 4, "application/json"),
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
])
def test_a_malformed_signed_request_gets_a_4xx_never_a_500(
        served: str, workspace: LocalSlack, body: bytes, content_type: str) -> None:
    status, text = _post(served, body, _signed(workspace, body, content_type))
    assert 400 <= status < 500, (status, text)
    assert len(text) < 200 and "Traceback" not in text


@pytest.mark.parametrize("timestamp", ["soon", "", "1e9", "0x10"])
def test_a_non_numeric_request_timestamp_gets_a_4xx(served: str, workspace: LocalSlack, timestamp: str) -> None:
    body = b"command=%2Foutreach&text=help&user_id=U0RITA&team_id=T0LOCAL"
    headers = _signed(workspace, body, timestamp=timestamp or "0")
    headers["X-Slack-Request-Timestamp"] = timestamp
    status, text = _post(served, body, headers)
    assert 400 <= status < 500, (status, text)


def test_a_slash_command_with_a_3000_character_argument_gets_a_short_answer(
        served: str, workspace: LocalSlack) -> None:
    rita = Person(workspace, RITA, HttpTarget(f"{served}/slack/events"))
    for text in ("x" * 3500, "sequence edit " + "y" * 3500, "delegate " + "z" * 5000):
        result = rita.slash("/outreach", text)
        assert result.ok, result
        answer = str(workspace.ephemerals(RITA)[-1].text) + str(workspace.ephemerals(RITA)[-1].blocks)
        assert len(answer) < 3000 and "x" * 50 not in answer and "y" * 50 not in answer and "z" * 50 not in answer
