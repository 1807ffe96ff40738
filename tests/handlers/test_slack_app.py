"""The bot's Slack client as build_app makes it: Bolt given the token alone (no start-up warning),
the configured API URL, the token checked at start-up, and retries on 429 and lost connections."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.clock import FakeClock
from bot.config import ConfigError
from bot.localslack import LocalSlack
from bot.runtime import Runtime, build_runtime
from bot.slack_app import ConnectionRetry, RateLimitRetry, build_app
from tests.conftest import make_settings


def test_start_up_gives_bolt_the_token_alone_and_warns_of_nothing(
        runtime: Runtime, workspace: LocalSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """`outreach serve` has SLACK_BOT_TOKEN in its environment, which Bolt reads itself: given a
    client as well, it logged "As you gave `client` as well, `token` will be unused." at every start."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", workspace.bot_token)
    with caplog.at_level(logging.DEBUG):
        app = build_app(runtime)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert app.client.base_url == workspace.api_url and app.client.token == workspace.bot_token
    assert [type(h) for h in app.client.retry_handlers] == [RateLimitRetry, ConnectionRetry]
    assert workspace.calls_to("auth.test")[-1].ok  # the token is checked where SLACK_API_URL points


def test_a_refused_bot_token_stops_start_up_in_one_line_without_the_token(
        tmp_path: Path, workspace: LocalSlack, engine: Engine, clock: FakeClock) -> None:
    settings = make_settings(tmp_path, SLACK_BOT_TOKEN="xoxb-not-this-one", SLACK_SIGNING_SECRET=workspace.signing_secret,
                             SLACK_API_URL=workspace.api_url)
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN was refused by Slack \(invalid_auth\)") as refused:
        build_app(build_runtime(settings, clock=clock, engine=engine))
    assert "xoxb-not-this-one" not in str(refused.value)
