"""Slack is acknowledged before any work (issue 16, part 3): `outreach serve` runs Bolt with
process_before_response off, so the HTTP answer goes back as soon as a listener acks, and what it
does next (reading the database, asking Slack who the person is, drawing a 10,000-candidate status)
runs after. The middleware only notes who acts; acting() resolves them after the ack. These tests
build the app as `serve` does and check the order of events, never how long anything took."""
from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from slack_bolt import App

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import Activity, BoltTarget, LocalSlack, Person, SkipClock, TargetResponse, render_blocks
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.slack_app import build_app
from tests import factories
from tests.handlers.conftest import OMAR, RITA

WAIT = 10  # seconds: only a guard against a hang, never what a test asserts


class Watched(BoltTarget):
    """BoltTarget that says when the bot's HTTP answer came back."""

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.answered = threading.Event()

    def send(self, body: str, headers: dict[str, str]) -> TargetResponse:
        self.answered.clear()
        response = super().send(body, headers)
        self.answered.set()
        return response


class Held:
    """A listener executor that runs nothing until released: what runs after the ack stays undone."""

    def __init__(self) -> None:
        self.held: list[Callable[[], Any]] = []

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        self.held.append(lambda: fn(*args, **kwargs))
        return Future()

    def release(self) -> None:
        while self.held:
            self.held.pop(0)()


@pytest.fixture
def serving(runtime: Runtime, slack_time: SkipClock) -> Iterator[Callable[[], App]]:
    """Builds the app as `serve` runs it (process_before_response off). At the end, what its
    listeners run after the ack is waited for, so no read of theirs outlives the test and meets
    the next test's emptying of the tables."""
    apps: list[App] = []

    def build() -> App:
        apps.append(build_app(runtime, slack_sleep=slack_time.sleep))
        return apps[-1]

    yield build
    for app in apps:
        executor = app.listener_runner.listener_executor  # type: ignore[attr-defined]
        if isinstance(executor, Executor):
            executor.shutdown(wait=True)


def _started_campaign(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=3)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))


def slash_answered_after_the_ack(workspace: LocalSlack, target: Watched, text: str) -> list[bool]:
    """Rita types `/outreach <text>`: the ack must be empty, and the answer that follows (an
    ephemeral the bot posts through the response_url) is held until the HTTP answer reached her,
    which happens only if the ack came first. Returns [True] when it did."""
    after_ack: list[bool] = []
    shown = threading.Event()

    def hold_the_answer(activity: Activity) -> None:
        if activity.kind == "ephemeral" and activity.data.get("source") != "slash_ack" and not after_ack:
            after_ack.append(target.answered.wait(timeout=WAIT))
            shown.set()
    unsubscribe = workspace.subscribe(hold_the_answer)
    try:
        result = Person(workspace, RITA, target).slash("/outreach", text)
        assert result.ok and result.body == ""  # the ack says nothing: the answer follows
        assert shown.wait(timeout=WAIT)
    finally:
        unsubscribe()
    return after_ack


def test_status_is_acknowledged_empty_and_answered_through_the_response_url_after(
        runtime: Runtime, serving: Callable[[], App], workspace: LocalSlack,
        clock: FakeClock) -> None:
    _started_campaign(runtime, clock)
    assert slash_answered_after_the_ack(workspace, Watched(serving()), "status Backend Q4") == [True]
    assert "Backend Q4" in render_blocks(workspace.ephemerals(RITA)[-1].blocks)


def test_a_refusal_is_answered_after_the_ack_too(
        runtime: Runtime, serving: Callable[[], App], workspace: LocalSlack,
        clock: FakeClock) -> None:
    assert slash_answered_after_the_ack(workspace, Watched(serving()), "when Nope") == [True]
    assert workspace.ephemerals(RITA)[-1].text.startswith(":warning: No campaign called 'Nope'.")


def test_nobody_asks_slack_who_acts_before_the_ack(
        runtime: Runtime, serving: Callable[[], App], workspace: LocalSlack) -> None:
    """Omar opens the Home tab for the first time: the event is acknowledged with nothing run yet
    (the middleware made no users.info call); his profile is read and the tab drawn after."""
    app = serving()
    held = Held()
    app.listener_runner.listener_executor = held  # type: ignore[attr-defined]
    result = Person(workspace, OMAR, BoltTarget(app)).open_home()
    assert result is not None and result.ok
    assert workspace.calls_to("users.info") == [] and workspace.home(OMAR) is None
    held.release()
    assert [c.params.get("user") for c in workspace.calls_to("users.info")] == [OMAR]
    assert workspace.home(OMAR) is not None


def test_campaign_new_reads_the_time_zone_after_the_ack_and_opens_the_modal(
        runtime: Runtime, serving: Callable[[], App], workspace: LocalSlack,
        clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock), clock,
                                           candidates=1)
    target = Watched(serving())
    opened = threading.Event()
    order: list[str] = []

    def watch(activity: Activity) -> None:
        if activity.kind == "view_opened":
            order.append("answered" if target.answered.wait(timeout=WAIT) else "not answered")
            opened.set()
    unsubscribe = workspace.subscribe(watch)
    try:
        result = Person(workspace, RITA, target).slash("/outreach", "campaign new")
        assert result.ok and result.body == ""
        assert opened.wait(timeout=WAIT)
    finally:
        unsubscribe()
    assert order == ["answered"]
    assert [c.params.get("user") for c in workspace.calls_to("users.info")] == [RITA]  # the time zone, fresh
