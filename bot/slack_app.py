"""Builds the Bolt app from settings. Nothing happens at import time."""
from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.runtime import Runtime


def build_app(runtime: Runtime, *, client: WebClient | None = None, process_before_response: bool = False) -> App:
    """`process_before_response=True` runs a listener to the end before Slack gets its answer:
    right for the local workspace and tests (deterministic); a real HTTP deployment keeps the
    default so a slow listener never holds up the 3-second acknowledgement."""
    from handlers import register_all  # the Slack surface depends on bot/, never the reverse

    settings = runtime.settings
    settings.require_slack()
    token = settings.slack_bot_token.get_secret_value()  # type: ignore[union-attr]
    app = App(
        client=client or WebClient(token=token, base_url=settings.slack_api_url),
        signing_secret=settings.slack_signing_secret.get_secret_value(),  # type: ignore[union-attr]
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=False,
    )
    register_all(app, runtime)
    return app
