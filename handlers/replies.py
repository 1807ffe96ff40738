"""The buttons on a reply or auto-reply DM: mark handled, correct what the classifier guessed, or put
the replying address on the do-not-contact list."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import InboundEvent, User
from bot.runtime import Runtime
from bot.services.replies import mark_handled, owned_event, was_auto_reply, was_real_reply
from bot.services.reply_opt_out import list_replier, replier_event
from handlers.context import acting, runtime_of
from handlers.ids import Action
from handlers.payloads import Id, action_value

Act = Callable[[Session, User, InboundEvent, Runtime], str]
Find = Callable[..., InboundEvent]


def _answer(body: dict[str, Any], context: BoltContext, respond: Respond, act: Act, find: Find = owned_event) -> None:
    """The event the button names (the user's own: `find` checks), changed by `act`; its DM loses the buttons."""
    try:
        with acting(context, write=True) as (session, user):
            event = find(session, user=user, event_id=Id.load(action_value(body)).id)
            said = act(session, user, event, runtime_of(context))
    except UserError as error:
        respond(text=f":warning: {error.message}", response_type="ephemeral", replace_original=False)
        return
    original = (body.get("message") or {}).get("text", "")
    respond(text=f"{original}\n{said}", replace_original=True)  # the buttons go: answered once


def _handled(session: Session, user: User, event: InboundEvent, runtime: Runtime) -> str:
    mark_handled(session, event=event, clock=runtime.clock)
    return ":white_check_mark: Marked handled."


def _was_auto(session: Session, user: User, event: InboundEvent, runtime: Runtime) -> str:
    return (f":arrow_forward: Treated as an automatic reply: "
            f"{was_auto_reply(session, event=event, clock=runtime.clock, rng=runtime.rng)} "
            "stays in the sequence, and the next step is planned again.")


def _was_reply(session: Session, user: User, event: InboundEvent, runtime: Runtime) -> str:
    return (f":stop_sign: Treated as a real reply: nothing more will be sent to "
            f"{was_real_reply(session, event=event, clock=runtime.clock)}.")


def _do_not_contact(session: Session, user: User, event: InboundEvent, runtime: Runtime) -> str:
    return list_replier(session, user=user, event=event, clock=runtime.clock)


def mark_reply_handled(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, _handled)


def treat_as_auto_reply(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, _was_auto)


def treat_as_real_reply(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, _was_reply)


def do_not_contact_replier(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, _do_not_contact, find=replier_event)


def register(app: App) -> None:
    app.action(Action.REPLY_HANDLED.value)(mark_reply_handled)
    app.action(Action.REPLY_WAS_AUTO.value)(treat_as_auto_reply)
    app.action(Action.AUTO_WAS_REPLY.value)(treat_as_real_reply)
    app.action(Action.REPLY_DO_NOT_CONTACT.value)(do_not_contact_replier)
