"""Connecting and listing mailboxes."""
from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.db import transaction
from bot.errors import UserError
from bot.models import Provider
from bot.runtime import Runtime
from bot.services.mailboxes import connect_mailbox
from handlers.commands import CommandCall, CommandRouter
from handlers.context import current_user
from handlers.home import mailbox_summaries, publish_home
from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from handlers.slack import Slack
from handlers.views.mailboxes import connect_modal, connected_text, mailbox_list_blocks
from handlers.views.summaries import MailboxSummary

NOT_BUILT = ("Connecting Gmail, Office 365 or SMTP/IMAP mailboxes is not built yet; this bot runs "
             "with sandbox mailboxes only (set OUTREACH_SANDBOX_MAILBOXES=true).")


def connectable(runtime: Runtime) -> list[str]:
    return [Provider.SANDBOX.value] if runtime.settings.sandbox_mailboxes else []


def _field_errors(error: UserError) -> dict[str, str]:
    return {error.field or BlockId.ADDRESS.value: error.message}


def register(app: App, runtime: Runtime, router: CommandRouter) -> None:
    def open_connect(client: WebClient, trigger_id: str) -> None:
        providers = connectable(runtime)
        if not providers:
            raise UserError(NOT_BUILT)
        Slack(client).open_modal(trigger_id, connect_modal(providers))

    @router.add("connect", "connect the mailbox your campaigns send from")
    def _connect(call: CommandCall) -> None:
        call.ack()
        open_connect(call.client, call.body["trigger_id"])

    @router.add("mailboxes", "your mailboxes and their status")
    def _mailboxes(call: CommandCall) -> None:
        with transaction(runtime.sessions) as session:
            user = current_user(session, runtime, call.context, Slack(call.client))
            blocks = mailbox_list_blocks(mailbox_summaries(session, user))
        call.ack(text="Your mailboxes", blocks=blocks)

    @app.action(Action.OPEN_CONNECT.value)
    def _open_from_home(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        open_connect(client, body["trigger_id"])

    @app.view(Callback.CONNECT_MAILBOX.value)
    def _submit(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        values = view["state"]["values"]
        provider = values[BlockId.PROVIDER.value][Action.PROVIDER.value]["selected_option"]["value"]
        address = values[BlockId.ADDRESS.value][Action.ADDRESS.value]["value"] or ""
        if provider not in connectable(runtime):
            ack(response_action="errors", errors={BlockId.PROVIDER.value: "This provider is not available."})
            return
        slack = Slack(client)
        try:
            with transaction(runtime.sessions, write=True) as session:
                user = current_user(session, runtime, context, slack)
                mailbox = connect_mailbox(session, owner=user, provider=Provider(provider), address=address,
                                          credentials=None, clock=runtime.clock)
                summary = MailboxSummary(mailbox.address, provider, mailbox.status.value,
                                         mailbox.permission_level.value)
        except UserError as error:
            ack(response_action="errors", errors=_field_errors(error))
            return
        ack()
        slack.send_dm(user.slack_user_id, connected_text(summary))
        with transaction(runtime.sessions) as session:
            publish_home(runtime, slack, session, session.merge(user))
