"""Fixtures: a started LocalSlack with a fake monotonic clock, a WebClient, a tiny Bolt app."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from bot.localslack import LocalSlack

JULY_2024 = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc).timestamp()


class FakeMonotonic:
    """Time for trigger_id / response_url expiry that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def ws(clock: FakeMonotonic) -> Iterator[LocalSlack]:
    with LocalSlack(monotonic=clock, wallclock=lambda: JULY_2024) as workspace:
        workspace.add_user("U1", name="rita", real_name="Rita Recruiter", tz="America/New_York",
                           email="rita@example.com")
        workspace.add_user("U2", name="sam", real_name="Sam Sourcer", tz="Europe/London", is_admin=True)
        workspace.add_channel("C1", name="hiring-alerts", members=["U1"])
        yield workspace


@pytest.fixture
def client(ws: LocalSlack) -> WebClient:
    return WebClient(token=ws.bot_token, base_url=ws.api_url)


@pytest.fixture
def app(ws: LocalSlack, client: WebClient) -> App:
    """A real Bolt app wired to the workspace; construction runs auth.test against it."""
    return App(signing_secret=ws.signing_secret, client=client, process_before_response=True)
