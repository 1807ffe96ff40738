"""Slack's Web API rate limits, counted on the workspace's monotonic clock.

Source: https://api.slack.com/docs/rate-limits. Limits apply per method, per workspace, per app.
Each method has a tier: Tier 1 allows 1+ requests a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+.
chat.postMessage has a special limit: one message per second per channel ("short bursts >1
allowed"), under a workspace-wide limit of "several hundred" a minute. A call over its limit is
answered with HTTP 429, a `Retry-After` header (seconds to wait) and
{"ok": false, "error": "ratelimited"}.

The tier of each method is the one its reference page states (https://api.slack.com/methods/<name>,
"Rate limits"); the same table, with the same numbers per minute, is kept by Slack's Java SDK
(slackapi/java-slack-sdk, MethodsRateLimits.java and MethodsRateLimitTier.java, which counts
chat.postMessage as 60 a minute per channel). Where Slack gives a lower bound ("50+"), the bound is
the limit here: a bot that stays under it stays under Slack's.

Counting: fixed one-minute windows on the monotonic clock, per method (per channel for
chat.postMessage: 60 a minute, one a second on average with bursts inside the minute, as Slack's
SDK counts it; the workspace-wide "several hundred" is not modelled, having no number). Retry-After
is the whole seconds left in the window. Tests and the demo
give LocalSlack a clock they can move (bot.local.slack.SkipClock) and give the bot's WebClient that
clock's `sleep`, so a 429 is waited out in full without real time passing.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

# method -> tier (api.slack.com/methods/<method>, "Rate limits")
TIERS: dict[str, int] = {
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.info": 3,
    "conversations.open": 3,
    "files.info": 4,
    "files.getUploadURLExternal": 4,  # https://api.slack.com/methods/files.getUploadURLExternal
    "files.completeUploadExternal": 4,  # https://api.slack.com/methods/files.completeUploadExternal
    "files.delete": 3,  # https://api.slack.com/methods/files.delete
    "users.info": 4,
    "users.lookupByEmail": 3,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
    # auth.test is "Special: hundreds of requests per minute": held to Tier 4's 100 here.
    "auth.test": 4,
}
POST_MESSAGE = "chat.postMessage"
POST_PER_CHANNEL_PER_MINUTE = 60  # "1 per second per channel", counted over the minute as Slack's SDK does
WINDOW = 60.0


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"ratelimited; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Window:
    seconds: float
    limit: int
    start: float = -math.inf
    used: int = 0

    def take(self, now: float) -> None:
        start = math.floor(now / self.seconds) * self.seconds
        if start != self.start:
            self.start, self.used = start, 0
        if self.used >= self.limit:
            raise RateLimited(max(1, math.ceil(self.start + self.seconds - now)))
        self.used += 1


@dataclass
class RateLimiter:
    """Counts calls per method (and per channel for chat.postMessage) on `monotonic`."""

    monotonic: Callable[[], float]
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def check(self, method: str, channel: str | None = None) -> None:
        """Count one call, or raise RateLimited (with nothing counted) when it is over a limit."""
        if method == POST_MESSAGE:
            window = self._window((method, channel or ""), POST_PER_CHANNEL_PER_MINUTE)
        elif method in TIERS:
            window = self._window((method, ""), PER_MINUTE[TIERS[method]])
        else:
            return
        window.take(self.monotonic())

    def _window(self, key: tuple[str, str], limit: int) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(WINDOW, limit)
        return window
