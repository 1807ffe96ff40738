"""Emails sent now, from Slack: `/outreach preview <sequence>` (the whole sequence to yourself) and
`/outreach send` (one email to one candidate from a sequence step, checked and edited first).

Everything that can be checked without the provider is checked before the modal closes, so the
message lands on the field to fix; the send itself happens after the acknowledgement (Slack allows
3 seconds) and its outcome comes as a DM."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.db import transaction
from bot.errors import UserError
from bot.models import User
from bot.runtime import Runtime
from bot.services import do_not_contact
from bot.services import direct_send
from bot.services.direct_send import Field
from bot.services.sequences import find_sequence
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.home import deliver_and_refresh
from handlers.payloads import Id, SendStage, TemplateStep
from handlers.ids import Action, Callback
from handlers.slack import Slack
from handlers.view_state import text_of
from scheduling.dispatcher import Dispatcher
from handlers.views.sending import (
    choose_modal,
    draft_from_metadata,
    edit_modal,
    email_sent_text,
    preview_modal,
    preview_sent_text,
    problem_text,
)

SAMPLE_PREFIX = direct_send.sample_field("")


def send_now(runtime: Runtime, ids: Sequence[int]) -> None:
    """The rows direct_send queued, sent now through the dispatcher's claim → send → record."""
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                            rng=runtime.rng, concurrency=1,
                            lease=timedelta(seconds=runtime.settings.dispatch_lease_seconds))
    try:
        dispatcher.send_now(ids)
    finally:
        dispatcher.close()


def _value(values: dict[str, Any], block: str) -> str:
    return text_of(values, block, Action.SEND_FIELD.value)


def _unquoted(text: str) -> str:
    return text.strip().strip("'\"“”‘’").strip()


def tell(runtime: Runtime, slack: Slack, user_id: int, text: str) -> None:
    """The outcome as a DM; notices the send queued (a lost connection's Reconnect DM) go out
    too, and the App Home is redrawn, since a mailbox may have changed state."""
    with transaction(runtime.sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        slack.send_dm(user.slack_user_id, text)
    deliver_and_refresh(runtime, slack, user_id)


def open_preview(call: CommandCall) -> None:
    """`/outreach preview <sequence>`: the preview modal."""
    runtime = runtime_of(call.context)
    with acting(call.context, write=True, refresh=True) as (session, user):  # the email as Slack has it now
        form = direct_send.preview_form(session, user=user, sequence=_unquoted(call.args), now=runtime.clock.now())
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], preview_modal(form))


def open_send(call: CommandCall) -> None:
    """`/outreach send [sequence]`: the first modal (template, candidate)."""
    runtime = runtime_of(call.context)
    with acting(call.context, write=True) as (session, user):
        initial = None
        if call.args.strip():  # `/outreach send <sequence>` starts from its step 1
            initial = f"{find_sequence(session, user=user, name_or_id=_unquoted(call.args)).id}:1"
        form = direct_send.send_form(session, user=user, now=runtime.clock.now())
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], choose_modal(form, initial_template=initial))


def send_preview(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The preview modal's submission: checked on its fields, then sent after the ack."""
    values = view["state"]["values"]
    sequence_id = Id.load(view["private_metadata"]).id
    samples = {block[len(SAMPLE_PREFIX):]: _value(values, block) for block in values
               if block.startswith(SAMPLE_PREFIX)}
    mailbox_id = int(_value(values, Field.MAILBOX.value))
    runtime, slack = runtime_of(context), Slack(client)
    try:  # what can be checked before sending shows on its field
        with acting(context) as (session, user):
            direct_send.check_preview(session, user=user, sequence_id=sequence_id, mailbox_id=mailbox_id,
                                      samples=samples, now=runtime.clock.now())
            user_id = user.id
    except UserError as error:
        ack(response_action="errors", errors={error.field or Field.MAILBOX.value: error.message})
        return
    ack()
    try:
        queued = direct_send.queue_preview(runtime.sessions, user_id=user_id, sequence_id=sequence_id,
                                           mailbox_id=mailbox_id, samples=samples, clock=runtime.clock)
        send_now(runtime, queued.ids)
        sent = direct_send.result(runtime.sessions, queued, clock=runtime.clock)
    except UserError as error:
        tell(runtime, slack, user_id, problem_text(error.message))
        return
    tell(runtime, slack, user_id, preview_sent_text(sent))


def submit_send(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Both `/outreach send` modals submit here; the metadata's stage tells which."""
    metadata = SendStage.load(view["private_metadata"])
    if metadata.stage == "send":
        _send_checked(ack, view, metadata, context, client)
    else:
        _show_draft(ack, view, context)


def _show_draft(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    """The first modal's choices → the email written for the candidate, pushed for checking."""
    values = view["state"]["values"]
    runtime = runtime_of(context)
    try:
        template = TemplateStep.load(_value(values, Field.TEMPLATE.value))
        with acting(context, write=True) as (session, user):
            draft = direct_send.draft_one(
                session, user=user, sequence_id=template.sequence, position=template.position,
                to_address=_value(values, Field.TO.value), name=_value(values, Field.NAME.value),
                fields=direct_send.parse_fields(_value(values, Field.FIELDS.value)))
            senders = direct_send.sender_choices(session, user=user, now=runtime.clock.now())
    except UserError as error:
        if isinstance(error, do_not_contact.Listed):  # its audit, now that the refused write rolled back
            do_not_contact.audit_listed(runtime.sessions, error, clock=runtime.clock)
        ack(response_action="errors", errors={error.field or Field.TEMPLATE.value: error.message})
        return
    ack(response_action="push", view=edit_modal(draft, senders))


def _send_checked(ack: Ack, view: dict[str, Any], metadata: SendStage, context: BoltContext,
                  client: WebClient) -> None:
    """The second modal: what the recruiter sees (and maybe edited) goes out as it is."""
    values = view["state"]["values"]
    draft = draft_from_metadata(metadata, _value(values, Field.SUBJECT.value), _value(values, Field.BODY.value))
    mailbox_id = int(_value(values, Field.MAILBOX.value))
    runtime, slack = runtime_of(context), Slack(client)
    try:
        direct_send.check_edited(draft.subject, draft.body)
        with acting(context) as (session, user):
            direct_send.check_sender(session, user=user, mailbox_id=mailbox_id, sends=1, now=runtime.clock.now())
            user_id = user.id
    except UserError as error:
        ack(response_action="errors", errors={error.field or Field.MAILBOX.value: error.message})
        return
    ack(response_action="clear")
    try:
        queued = direct_send.queue_one(runtime.sessions, user_id=user_id, draft=draft, mailbox_id=mailbox_id,
                                       clock=runtime.clock)
        send_now(runtime, queued.ids)
        sent = direct_send.result(runtime.sessions, queued, clock=runtime.clock)
    except UserError as error:
        tell(runtime, slack, user_id, problem_text(error.message))
        return
    tell(runtime, slack, user_id, email_sent_text(sent, draft.name))


def register(app: App, router: CommandRouter) -> None:
    router.add("preview", "mail a whole sequence to yourself to check it: `/outreach preview <sequence>`")(
        open_preview)
    router.add("send", "email one candidate from a sequence step, checked and edited before it goes")(open_send)
    app.view(Callback.PREVIEW.value)(send_preview)
    app.view(Callback.SEND_ONE.value)(submit_send)
