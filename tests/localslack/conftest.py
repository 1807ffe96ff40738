"""Fixtures: a started LocalSlack with a fake monotonic clock, the bot's WebClient (it waits out a
429 on that clock), a tiny Bolt app."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml
from slack_bolt import App
from slack_sdk import WebClient

from bot.local.slack import LocalSlack
from bot.local.slack.manifest import PROJECT_MANIFEST
from bot.slack_app import bot_client

JULY_2024 = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc).timestamp()


def project_manifest() -> dict[str, Any]:
    """This project's manifest.yml as a dict, for tests that change one setting."""
    return yaml.safe_load(PROJECT_MANIFEST.read_text(encoding="utf-8"))


def bots_manifest() -> dict[str, Any]:
    """The project's manifest plus the /import command the test bots here also register."""
    manifest = project_manifest()
    manifest["features"]["slash_commands"].append({"command": "/import", "description": "import",
                                                   "should_escape": False})
    return manifest


class FakeMonotonic:
    """Time for trigger_id / response_url expiry and rate-limit windows that only moves when a test
    says so, or when a client waits out a 429 (sleep)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def ws(clock: FakeMonotonic) -> Iterator[LocalSlack]:
    with LocalSlack(monotonic=clock, wallclock=lambda: JULY_2024, manifest=bots_manifest()) as workspace:
        workspace.add_user("U1", name="rita", real_name="Rita Recruiter", tz="America/New_York",
                           email="rita@example.com")
        workspace.add_user("U2", name="sam", real_name="Sam Sourcer", tz="Europe/London", is_admin=True)
        workspace.add_channel("C1", name="hiring-alerts", members=["U1"])
        yield workspace


@pytest.fixture
def client(ws: LocalSlack, clock: FakeMonotonic) -> WebClient:
    return bot_client(ws.bot_token, ws.api_url, sleep=clock.sleep)


@pytest.fixture
def app(ws: LocalSlack, client: WebClient) -> App:
    """A real Bolt app wired to the workspace; construction runs auth.test against it."""
    return App(signing_secret=ws.signing_secret, client=client, process_before_response=True)
