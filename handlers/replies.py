"""The buttons on a reply or auto-reply DM: mark handled, or correct what the classifier guessed."""
from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.db import transaction
from bot.errors import UserError
from bot.runtime import Runtime
from bot.services.replies import mark_handled, owned_event, was_auto_reply, was_real_reply
from handlers.context import current_user
from handlers.ids import Action
from handlers.payloads import Id, action_value
from handlers.slack import Slack


def register(app: App, runtime: Runtime) -> None:
    def on_click(action: Action, act: Any) -> None:
        @app.action(action.value)
        def _handle(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient,
                    respond: Respond) -> None:
            ack()
            try:
                with transaction(runtime.sessions, write=True) as session:
                    user = current_user(session, runtime, context, Slack(client))
                    event = owned_event(session, user=user, event_id=Id.load(action_value(body)).id)
                    said = act(session, event)
            except UserError as error:
                respond(text=f":warning: {error.message}", response_type="ephemeral", replace_original=False)
                return
            original = (body.get("message") or {}).get("text", "")
            respond(text=f"{original}\n{said}", replace_original=True)  # the buttons go: answered once

    on_click(Action.REPLY_HANDLED, lambda session, event: (
        mark_handled(session, event=event, clock=runtime.clock), ":white_check_mark: Marked handled.")[1])
    on_click(Action.REPLY_WAS_AUTO, lambda session, event: (
        f":arrow_forward: Treated as an automatic reply: {was_auto_reply(session, event=event, clock=runtime.clock, rng=runtime.rng)} "
        "stays in the sequence, and the next step is planned again."))
    on_click(Action.AUTO_WAS_REPLY, lambda session, event: (
        f":stop_sign: Treated as a real reply: nothing more will be sent to "
        f"{was_real_reply(session, event=event, clock=runtime.clock)}."))
