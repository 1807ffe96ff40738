"""Builds the Bolt app and the bot's Web API client from settings. Nothing happens at import time."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler

from bot.runtime import Runtime

Sleep = Callable[[float], None]
RATE_LIMIT_RETRIES = 3  # a 429 is waited out up to three times: one minute-window wait always suffices


class RateLimitRetry(RateLimitErrorRetryHandler):
    """Slack's HTTP 429: wait the Retry-After seconds (plus up to a second of jitter, as slack_sdk
    does) and send the same request again, so a rate limit delays a message, never loses it.
    `sleep` is where the wait happens: time.sleep in production; the demo and tests pass their
    workspace clock's sleep, so the wait is real on that clock and costs no real time."""

    def __init__(self, max_retry_count: int = RATE_LIMIT_RETRIES, *, sleep: Sleep = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep, self.jitter = sleep, jitter

    def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> None:
        if response is None:
            raise error
        state.next_attempt_requested = True
        retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        value = retry_after[0] if isinstance(retry_after, list) else retry_after
        try:
            wait = float(value) if value is not None else 1.0
        except ValueError:
            wait = 1.0
        self.sleep(wait + self.jitter())
        state.increment_current_attempt()


class ConnectionRetry(ConnectionErrorRetryHandler):
    """slack_sdk's retry on a refused or reset connection (once, after a short backoff), with the
    same injectable sleep."""

    def __init__(self, *, sleep: Sleep = time.sleep) -> None:
        super().__init__()
        self.sleep = sleep

    def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> None:
        state.next_attempt_requested = True
        self.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


def retry_handlers(sleep: Sleep = time.sleep) -> list[RetryHandler]:
    return [RateLimitRetry(sleep=sleep), ConnectionRetry(sleep=sleep)]


def bot_client(token: str, base_url: str, *, sleep: Sleep = time.sleep, timeout: int = 30) -> WebClient:
    """A WebClient for the bot: the bot token, the configured API URL, and retries on 429 and on
    connection errors. Every WebClient the bot makes comes from here or from build_app."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=retry_handlers(sleep))


def build_app(runtime: Runtime, *, process_before_response: bool = False, slack_sleep: Sleep = time.sleep) -> App:
    """`process_before_response=True` runs a listener to the end before Slack gets its answer:
    right for the local workspace and tests (deterministic); a real HTTP deployment keeps the
    default so a slow listener never holds up the 3-second acknowledgement. `slack_sleep` is how
    the bot's client waits out a 429 (see RateLimitRetry).

    Bolt is given the token, not a client: given a client, it still reads SLACK_BOT_TOKEN from the
    environment and warns at every start-up that the token is unused. Its own client is pointed at
    SLACK_API_URL with the bot's retry handlers (Bolt copies both into each request's client). It
    makes no call: `serve` checks the token first (bot.slack_check), and Bolt asks auth.test itself
    on the first request."""
    from handlers import register_all  # the Slack surface depends on bot/, never the reverse

    settings = runtime.settings
    settings.require_slack()
    token = settings.slack_bot_token.get_secret_value()  # type: ignore[union-attr]
    app = App(
        token=token,
        signing_secret=settings.slack_signing_secret.get_secret_value(),  # type: ignore[union-attr]
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=False,
        token_verification_enabled=False,  # `serve` checks the token first (bot.slack_check), in one line
    )
    app.client.base_url = settings.slack_api_url
    app.client.timeout = 30
    app.client.retry_handlers = retry_handlers(slack_sleep)
    register_all(app, runtime)
    return app
