"""The bot's real Bolt app, talking to a local Slack workspace over HTTP, driven by people who send
signed requests through Bolt's real request path.

The workspace enforces Slack's rate limits on a SkipClock, and every bot client here waits out a
429 with that clock's sleep: the wait happens on Slack's clock, in no real time."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.clock import FakeClock
from bot.config import Settings
from bot.local.slack import BoltTarget, LocalSlack, Person, SkipClock
from bot.runtime import Runtime, build_runtime
from bot.slack_app import bot_client, build_app
from tests.conftest import make_settings

RITA, OMAR = "U0RITA", "U0OMAR"


@pytest.fixture
def slack_time() -> SkipClock:
    return SkipClock()


@pytest.fixture
def workspace(slack_time: SkipClock) -> Iterator[LocalSlack]:
    with LocalSlack(monotonic=slack_time) as ws:
        ws.add_user(RITA, name="rita", real_name="Rita Recruiter", tz="America/New_York", email="rita@acme.example")
        ws.add_user(OMAR, name="omar", real_name="Omar Other", tz="Europe/Paris", email="omar@acme.example")
        ws.add_channel("C0HIRING", name="hiring", members=[RITA, OMAR])
        yield ws


def slack_settings(tmp_path: Path, ws: LocalSlack, **overrides: object) -> Settings:
    return make_settings(tmp_path, SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET=ws.signing_secret,
                         SLACK_API_URL=ws.api_url, **overrides)


@pytest.fixture
def settings(tmp_path: Path, workspace: LocalSlack) -> Settings:
    return slack_settings(tmp_path, workspace)


@pytest.fixture
def app(runtime: Runtime, slack_time: SkipClock) -> App:
    return build_app(runtime, process_before_response=True, slack_sleep=slack_time.sleep)


def client_for(ws: LocalSlack) -> WebClient:
    """The bot's Web API client, as the serving process's jobs use it (retries included), waiting
    on the workspace's SkipClock."""
    assert isinstance(ws.monotonic, SkipClock)
    return bot_client(ws.bot_token, ws.api_url, sleep=ws.monotonic.sleep)


@pytest.fixture
def client(workspace: LocalSlack) -> WebClient:
    return client_for(workspace)


@pytest.fixture
def rita(workspace: LocalSlack, app: App) -> Person:
    return Person(workspace, RITA, BoltTarget(app))


@pytest.fixture
def omar(workspace: LocalSlack, app: App) -> Person:
    return Person(workspace, OMAR, BoltTarget(app))


def runtime_with(tmp_path: Path, ws: LocalSlack, engine: Engine, clock: FakeClock, **overrides: object) -> Runtime:
    return build_runtime(slack_settings(tmp_path, ws, **overrides), clock=clock, engine=engine)
