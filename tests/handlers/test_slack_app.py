"""The bot's Slack client as build_app makes it: Bolt given the token alone (no start-up warning),
the configured API URL, and 429s waited out so a notice is delayed,
never lost. Slack's clock is frozen here: it moves only when the bot waits."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, SkipClock
from bot.local.slack.ratelimits import POST_PER_CHANNEL_PER_MINUTE
from bot.models import Notification
from bot.runtime import Runtime
from bot.services.notifications import notify
from bot.slack_app import ConnectionRetry, RateLimitRetry, build_app
from handlers.notices import deliver_notices
from tests import factories
from tests.handlers.conftest import RITA, client_for


@pytest.fixture
def slack_time() -> SkipClock:
    return SkipClock(base=lambda: 1000.0)


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
    assert workspace.calls == []  # no call at build time: `serve` checked the token first (tests/test_cli.py)


def test_a_rate_limited_notice_waits_the_retry_after_and_is_delivered_once(
        runtime: Runtime, workspace: LocalSlack, clock: FakeClock, slack_time: SkipClock) -> None:
    """Rita's DM has had its 60 messages this minute: the notice's chat.postMessage gets a 429 with
    Retry-After 20 (the clock is at 1000 s); the client waits 20 s on Slack's clock (plus jitter)
    and posts it. One message, the notice marked delivered, nothing retried later."""
    client = client_for(workspace)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        notify(session, user=rita, kind="campaign_finished", text="Backend Q4 has finished.", dedupe_key="done:1",
               clock=clock)
    dm = workspace.dm_channel(RITA)
    for n in range(POST_PER_CHANNEL_PER_MINUTE):
        client.chat_postMessage(channel=dm, text=f"earlier message {n}")
    assert deliver_notices(runtime, client) == 1
    assert [c.error for c in workspace.calls_to("chat.postMessage")[-2:]] == ["ratelimited", None]
    assert len(slack_time.waits) == 1 and 20 <= slack_time.waits[0] < 21
    assert [m.text for m in workspace.messages(dm)].count("Backend Q4 has finished.") == 1
    with transaction(runtime.sessions) as session:
        (notice,) = session.scalars(select(Notification)).all()
        assert notice.delivered_at is not None and notice.attempts == 0 and notice.ts == workspace.messages(dm)[-1].ts
    assert deliver_notices(runtime, client) == 0
