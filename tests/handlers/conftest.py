"""The bot's real Bolt app, talking to a local Slack workspace over HTTP, driven by people who send
signed requests through Bolt's real request path."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt import App
from sqlalchemy import Engine

from bot.clock import FakeClock
from bot.config import Settings
from bot.localslack import BoltTarget, LocalSlack, Person
from bot.runtime import Runtime, build_runtime
from bot.slack_app import build_app
from tests.conftest import make_settings

RITA, OMAR = "U0RITA", "U0OMAR"


@pytest.fixture
def workspace() -> Iterator[LocalSlack]:
    with LocalSlack() as ws:
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
def app(runtime: Runtime) -> App:
    return build_app(runtime, process_before_response=True)


@pytest.fixture
def rita(workspace: LocalSlack, app: App) -> Person:
    return Person(workspace, RITA, BoltTarget(app))


@pytest.fixture
def omar(workspace: LocalSlack, app: App) -> Person:
    return Person(workspace, OMAR, BoltTarget(app))


def runtime_with(tmp_path: Path, ws: LocalSlack, engine: Engine, clock: FakeClock, **overrides: object) -> Runtime:
    return build_runtime(slack_settings(tmp_path, ws, **overrides), clock=clock, engine=engine)
