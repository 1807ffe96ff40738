"""Slack's rate limits per method tier, on the workspace's monotonic clock (the fixture's frozen
FakeMonotonic: windows end only when a test moves it). Source for every rule here:
https://api.slack.com/docs/rate-limits (tiers 1+/20+/50+/100+ a minute per method per workspace;
chat.postMessage one a second per channel; HTTP 429 with Retry-After), each method's tier from its
reference page (the table Slack's Java SDK keeps: MethodsRateLimits.java); see ratelimits.py."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from bot.local.slack import LocalSlack
from bot.local.slack.ratelimits import PER_MINUTE, POST_PER_CHANNEL_PER_MINUTE, TIERS
from bot.local.slack.webapi import METHODS, call_http

from .conftest import FakeMonotonic


def test_the_tiers_are_slacks() -> None:
    assert set(METHODS) == set(TIERS) | {"chat.postMessage"}  # every method served has its limit
    assert PER_MINUTE == {1: 1, 2: 20, 3: 50, 4: 100}
    assert (TIERS["chat.update"], TIERS["users.info"], TIERS["conversations.open"], TIERS["views.publish"]) == (3, 4, 3, 4)
    assert POST_PER_CHANNEL_PER_MINUTE == 60  # "1 per second per channel", over a minute


@pytest.mark.parametrize("method", sorted(TIERS))
def test_each_method_takes_its_tier_a_minute_then_answers_429_until_the_window_ends(
        ws: LocalSlack, clock: FakeMonotonic, method: str) -> None:
    limit = PER_MINUTE[TIERS[method]]
    answers = [call_http(ws, method, {}, ws.bot_token) for _ in range(limit + 1)]
    assert [status for status, _, _ in answers[:limit]] == [200] * limit  # errors (missing arguments) count too
    status, body, headers = answers[limit]
    assert (status, body) == (429, {"ok": False, "error": "ratelimited"})
    assert headers == {"Retry-After": "20"}  # the clock is at 1000 s: the window [960, 1020) has 20 s left
    clock.advance(19)
    assert call_http(ws, method, {}, ws.bot_token)[0] == 429
    clock.advance(1)
    assert call_http(ws, method, {}, ws.bot_token)[0] == 200


def test_messages_are_counted_per_channel(ws: LocalSlack) -> None:
    for n in range(POST_PER_CHANNEL_PER_MINUTE):
        assert call_http(ws, "chat.postMessage", {"channel": "C1", "text": f"{n}"}, ws.bot_token)[0] == 200
    assert call_http(ws, "chat.postMessage", {"channel": "#hiring-alerts", "text": "one more"}, ws.bot_token)[0] == 429
    assert call_http(ws, "chat.postMessage", {"channel": "U1", "text": "a DM is another channel"}, ws.bot_token)[0] == 200
    assert len(ws.messages("C1")) == POST_PER_CHANNEL_PER_MINUTE and ws.calls[-2].error == "ratelimited"


def test_a_rate_limited_call_over_http_is_a_429_with_retry_after(ws: LocalSlack, clock: FakeMonotonic) -> None:
    clock.advance(15.5)  # 1015.5: 4.5 s left in the window, so Retry-After is 5 (whole seconds)
    for _ in range(PER_MINUTE[TIERS["chat.update"]]):
        call_http(ws, "chat.update", {}, ws.bot_token)
    request = urllib.request.Request(ws.api_url + "chat.update", data=json.dumps({"channel": "C1", "ts": "1"}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {ws.bot_token}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 429 and refused.value.headers["Retry-After"] == "5"
    assert json.loads(refused.value.read()) == {"ok": False, "error": "ratelimited"}


def test_an_unknown_method_or_a_bad_token_is_not_rate_limited(ws: LocalSlack) -> None:
    """Slack checks the method and the token first: neither answer spends a rate-limit slot."""
    for _ in range(5):
        assert call_http(ws, "auth.test", {}, "xoxb-wrong")[1]["error"] == "invalid_auth"
    limit = PER_MINUTE[TIERS["auth.test"]]
    assert all(call_http(ws, "auth.test", {}, ws.bot_token)[0] == 200 for _ in range(limit))
