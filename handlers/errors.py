"""One error handler: domain errors become a clear message to the person; anything else is logged
with its trace on our side and shown as a short apology with a reference, never a stack trace."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import UserError

log = logging.getLogger("outreach.errors")


def message_for(error: Exception) -> str:
    if isinstance(error, UserError):
        return f":warning: {error.message}"
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s)", reference, exc_info=error)
    return (f":x: Something went wrong on our side, and nothing was changed. "
            f"If it happens again, give your admin this reference: {reference}.")


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Respond, client: WebClient,
                 context: BoltContext, response: BoltResponse) -> None:
        text = message_for(error)
        if isinstance(error, UserError):  # a refusal, told to the person: the request itself was fine (Bolt
            response.status = 200  # would answer 500, and Slack retries an event that gets one)
        try:
            if body.get("response_url") or body.get("response_urls"):
                respond(text=text, response_type="ephemeral", replace_original=False)
            elif context.user_id:
                channel = client.conversations_open(users=context.user_id)["channel"]["id"]
                client.chat_postMessage(channel=channel, text=text)
        except SlackApiError as exc:  # telling the person failed too: keep it in the log
            log.error("could not report an error to the user: %s", exc.response.get("error"))
