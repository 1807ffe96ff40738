"""Mailboxes in Slack: connect (Google, Microsoft, Other, or the sandbox), list, set the daily cap and
spacing, disconnect, reconnect, resume what a lost connection paused, and the organisation's permission level."""
from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Mailbox, PermissionLevel, Provider, User
from bot.oauth_web import build_connectors, start_url
from bot.runtime import Runtime
from bot.services import bulk_resume, oauth_states
from bot.services.addresses import valid_address
from bot.services.mailboxes import change_limits, limit_range, owned_mailbox
from bot.services.connections import (
    organisation_enhanced,
    complete_connect,
    disconnect,
    own_mailbox,
    set_organisation_permissions,
)
from handlers.commands import CommandCall, CommandRouter
from handlers.bulk_resume import resume_with_progress
from handlers.context import acting, runtime_of
from handlers.home import deliver_and_refresh, mailbox_summaries
from handlers.payloads import Id, action_value
from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from handlers.slack import Slack
from handlers.upload_progress import ProgressMessage
from handlers.view_state import text_of
from handlers.views.mailboxes import (
    ConnectChoices,
    LimitsForm,
    connect_modal,
    disconnected_text,
    limits_modal,
    limits_saved_text,
    mailbox_list_blocks,
    other_modal,
)

NOTHING_TO_CONNECT = ("No mail provider is configured on this bot yet. An admin sets GOOGLE_CLIENT_ID/SECRET, "
                      "MICROSOFT_CLIENT_ID/SECRET and OUTREACH_ENCRYPTION_KEYS (see the README), or runs it with "
                      "OUTREACH_SANDBOX_MAILBOXES=true to try it.")
PORT_FIELDS = (BlockId.SMTP_PORT, BlockId.IMAP_PORT)


def choices(runtime: Runtime, session: Session, user: User, reconnect: Mailbox | None = None) -> ConnectChoices:
    """Sign-in links are made per person and per opening: each link works once, for 10 minutes."""
    connectors = build_connectors(runtime) if runtime.cipher is not None else {}
    enhanced = organisation_enhanced(session, user)
    wanted = [reconnect.provider] if reconnect is not None else [*connectors, Provider.SMTP_IMAP, Provider.SANDBOX]
    links = {p.value: start_url(runtime, p, oauth_states.new_state(session, user=user, provider=p,
                                                                  enhanced=enhanced, clock=runtime.clock))
             for p in wanted if p in connectors}
    result = ConnectChoices(sign_in_links=links, enhanced=enhanced,
                            other=Provider.SMTP_IMAP in wanted and runtime.cipher is not None,
                            sandbox=Provider.SANDBOX in wanted and runtime.settings.sandbox_mailboxes,
                            reconnecting=reconnect.address if reconnect is not None else None)
    if not (result.sign_in_links or result.other or result.sandbox):
        raise UserError(NOTHING_TO_CONNECT)
    return result


def open_connect(context: BoltContext, trigger_id: str, mailbox_id: int | None = None) -> None:
    """The connect modal (for one mailbox's provider when reconnecting it)."""
    with acting(context, write=True) as (session, user):
        mailbox = own_mailbox(session, user=user, mailbox_id=mailbox_id) if mailbox_id is not None else None
        view = connect_modal(choices(runtime_of(context), session, user, mailbox))
    Slack(context.client).open_modal(trigger_id, view)


def connect_command(call: CommandCall) -> None:
    """`/outreach connect`."""
    call.ack()
    open_connect(call.context, call.body["trigger_id"])


def list_mailboxes(call: CommandCall) -> None:
    """`/outreach mailboxes` (and `/outreach disconnect`: the list carries a Disconnect button per mailbox)."""
    with acting(call.context) as (session, user):
        blocks = mailbox_list_blocks(mailbox_summaries(session, user, runtime_of(call.context).clock.now()))
    call.ack(text="Your mailboxes", blocks=blocks)


def set_permissions(call: CommandCall) -> None:
    """`/outreach admin permissions enhanced|basic`: refused unless the asker is an admin now (a refresh)."""
    words = call.args.split()
    if len(words) != 2 or words[0] != "permissions" or words[1] not in ("enhanced", "basic"):
        raise UserError("Usage: `/outreach admin permissions enhanced` or `/outreach admin permissions basic`.")
    with acting(call.context, write=True, refresh=True) as (session, user):  # admin now?
        set_organisation_permissions(session, user=user, level=PermissionLevel(words[1]))
    call.ack(text=(f"Mailbox permissions for this workspace are now *{words[1]}*. "
                   + ("Each person reconnects their mailbox to grant the new permission."
                      if words[1] == "enhanced" else "Mailboxes connected from now on ask for basic permissions.")))


def connect_from_home(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    open_connect(context, body["trigger_id"])


def reconnect_mailbox(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    open_connect(context, body["trigger_id"], Id.load(action_value(body)).id)


def follow_sign_in_link(ack: Ack) -> None:
    ack()  # a link button: the browser does the rest


def open_other_form(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    ack()
    Slack(client).push_modal(body["trigger_id"], other_modal())


def connect_sandbox(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The connect modal's submission: only the sandbox's address is submitted from it."""
    runtime = runtime_of(context)
    values = view["state"]["values"]
    if BlockId.ADDRESS.value not in values or not runtime.settings.sandbox_mailboxes:
        ack(response_action="errors", errors={BlockId.PROVIDER.value: "This provider is not available."})
        return
    try:
        with acting(context, write=True) as (session, user):
            complete_connect(session, owner=user, provider=Provider.SANDBOX, credentials=None,
                             address=values[BlockId.ADDRESS.value][Action.ADDRESS.value]["value"] or "",
                             enhanced=organisation_enhanced(session, user), clock=runtime.clock)
            user_id = user.id
    except UserError as error:
        ack(response_action="errors", errors={error.field or BlockId.ADDRESS.value: error.message})
        return
    ack()
    deliver_and_refresh(runtime, Slack(client), user_id)


def connect_other(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The SMTP/IMAP form's submission: both logins tried before the modal closes."""
    from providers.connect import LoginRefused
    from providers.smtp_imap import verify_login

    runtime = runtime_of(context)
    try:
        settings = _other_settings(view["state"]["values"])
    except UserError as error:
        ack(response_action="errors", errors={error.field: error.message})
        return
    try:  # both logins inside Slack's 3-second answer, so a wrong password shows on its field
        verify_login(settings, ca_file=runtime.settings.ca_file, timeout=2.5)
    except LoginRefused as refused:
        ack(response_action="errors", errors={refused.field: str(refused)})
        return
    assert runtime.cipher is not None  # the Other button is offered only with encryption keys
    try:
        with acting(context, write=True) as (session, user):
            complete_connect(session, owner=user, provider=Provider.SMTP_IMAP, address=settings.address,
                             credentials=runtime.cipher.encrypt(settings.to_credentials()),
                             enhanced=organisation_enhanced(session, user), clock=runtime.clock)
            user_id = user.id
    except UserError as error:
        ack(response_action="errors", errors={BlockId.ADDRESS.value: error.message})
        return
    ack(response_action="clear")
    deliver_and_refresh(runtime, Slack(client), user_id)


def disconnect_mailbox(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Disconnect on the mailbox list (after its confirm dialog): its campaigns pause."""
    ack()
    runtime = runtime_of(context)
    with acting(context, write=True) as (session, user):
        mailbox, paused = disconnect(session, user=user, mailbox_id=Id.load(action_value(body)).id,
                                     clock=runtime.clock)
        address, user_id = mailbox.address, user.id
    respond(text=disconnected_text(address, paused), replace_original=False, response_type="ephemeral")
    deliver_and_refresh(runtime, Slack(context.client), user_id)


def resume_paused(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Resume all on a reconnected mailbox's DM: the campaigns its lost connection paused."""
    ack()
    runtime, slack = runtime_of(context), Slack(context.client)
    with acting(context) as (session, user):
        campaigns = bulk_resume.after_reconnect(session, user=user, mailbox_id=Id.load(action_value(body)).id)
        user_id = user.id
    container = body.get("container") or {}  # the offer becomes the progress, then the summary
    resume_with_progress(context, ProgressMessage(slack, container.get("channel_id"), container.get("message_ts"),
                                                  what="resume all"), campaigns)
    deliver_and_refresh(runtime, slack, user_id)


def open_limits(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Settings on `/outreach mailboxes`: the daily cap and spacing, for the mailbox's owner only."""
    ack()
    with acting(context) as (session, user):
        mailbox = owned_mailbox(session, user=user, mailbox_id=Id.load(action_value(body)).id)
        allowed = limit_range(mailbox.provider, mailbox.address)
        form = LimitsForm(mailbox_id=mailbox.id, address=mailbox.address, provider=mailbox.provider.value,
                          daily_cap=mailbox.daily_cap, min_spacing_seconds=mailbox.min_spacing_seconds,
                          max_daily_cap=allowed.max_daily_cap, min_spacing=allowed.min_spacing_seconds,
                          max_spacing=allowed.max_spacing_seconds)
    Slack(context.client).open_modal(body["trigger_id"], limits_modal(form))


def _whole_number(values: dict[str, Any], block: BlockId) -> int:
    typed = text_of(values, block.value, Action.FIELD.value).strip()
    if not re.fullmatch(r"\d{1,9}", typed):
        raise UserError("Enter a whole number.", field=block.value)  # the range is said once it is a number
    return int(typed)


def save_limits(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The limits modal's submission: each refusal on its field, with the allowed range."""
    runtime, values = runtime_of(context), view["state"]["values"]
    try:
        daily_cap, spacing = _whole_number(values, BlockId.DAILY_CAP), _whole_number(values, BlockId.MIN_SPACING)
        with acting(context, write=True) as (session, user):
            mailbox = change_limits(session, user=user, mailbox_id=Id.load(view.get("private_metadata")).id,
                                    daily_cap=daily_cap, min_spacing_seconds=spacing, clock=runtime.clock)
            text = limits_saved_text(mailbox.address, mailbox.daily_cap, mailbox.min_spacing_seconds)
            slack_user_id = user.slack_user_id
    except UserError as error:
        field = error.field if error.field in (BlockId.DAILY_CAP.value, BlockId.MIN_SPACING.value) \
            else BlockId.DAILY_CAP.value
        ack(response_action="errors", errors={field: error.message})
        return
    ack()
    Slack(client).send_dm(slack_user_id, text)


def register(app: App, router: CommandRouter) -> None:
    router.add("connect", "connect the mailbox your campaigns send from")(connect_command)
    router.add("mailboxes", "your mailboxes: status, permissions, today's sends against the cap")(list_mailboxes)
    router.add("disconnect", "remove a mailbox (its campaigns pause)")(list_mailboxes)
    router.add("admin", "admins: `admin permissions enhanced|basic` for the whole workspace")(set_permissions)
    app.action(Action.OPEN_CONNECT.value)(connect_from_home)
    app.action(Action.RECONNECT.value)(reconnect_mailbox)
    app.action(re.compile(rf"^{re.escape(Action.SIGN_IN.value)}\."))(follow_sign_in_link)
    app.action(Action.OPEN_OTHER.value)(open_other_form)
    app.view(Callback.CONNECT_MAILBOX.value)(connect_sandbox)
    app.view(Callback.CONNECT_OTHER.value)(connect_other)
    app.action(Action.DISCONNECT.value)(disconnect_mailbox)
    app.action(Action.RESUME_ALL.value)(resume_paused)
    app.action(Action.MAILBOX_SETTINGS.value)(open_limits)
    app.view(Callback.MAILBOX_LIMITS.value)(save_limits)


def _other_settings(values: dict[str, Any]) -> Any:
    """The SMTP/IMAP form, checked field by field (a UserError names the field at fault)."""
    from providers.smtp_imap import SmtpImapSettings

    def text(block: BlockId) -> str:
        return text_of(values, block.value, Action.FIELD.value).strip()

    ports = {}
    for block in PORT_FIELDS:
        if not text(block).isdigit() or not 0 < int(text(block)) < 65536:
            raise UserError("Enter a port number, such as 587 for SMTP or 993 for IMAP.", field=block.value)
        ports[block] = int(text(block))
    address = text(BlockId.ADDRESS).lower()
    if "@" not in address:
        raise UserError("Enter the mailbox's email address, such as you@company.com.", field=BlockId.ADDRESS.value)
    address = valid_address(address, field=BlockId.ADDRESS.value)  # checked before any login is tried
    for block in (BlockId.USERNAME, BlockId.PASSWORD, BlockId.SMTP_HOST, BlockId.IMAP_HOST):
        if not text(block):
            raise UserError("This field is needed.", field=block.value)
    password = values[BlockId.PASSWORD.value][Action.FIELD.value].get("value") or ""  # kept exactly as typed
    return SmtpImapSettings(address=address, smtp_host=text(BlockId.SMTP_HOST), smtp_port=ports[BlockId.SMTP_PORT],
                            smtp_security=text(BlockId.SMTP_SECURITY) or "starttls", imap_host=text(BlockId.IMAP_HOST),
                            imap_port=ports[BlockId.IMAP_PORT], username=text(BlockId.USERNAME), password=password)
