"""Mailbox views: the connect modals and the messages about mailboxes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from handlers.views.summaries import MailboxSummary
from bot.wording import agrees, counted

PROVIDER_LABELS = {
    "sandbox": "Sandbox (local: mail stays on this machine)",
    "gmail": "Google (Gmail)",
    "graph": "Microsoft (Office 365)",
    "smtp_imap": "Other (SMTP and IMAP)",
}
STATUS_LABEL = {"connected": ":large_green_circle: connected", "needs_reconnect": ":warning: needs reconnect"}
PERMISSIONS = {
    "basic": "The bot asks only for what it needs: sending mail and reading the headers of replies, never their bodies.",
    "enhanced": "Your organisation chose enhanced permissions: the bot may read incoming mail so it also recognises "
                "bounces and out-of-office replies. It never stores bodies.",
}


@dataclass(frozen=True)
class ConnectChoices:
    sign_in_links: dict[str, str] = field(default_factory=dict)  # provider → OAuth start URL
    other: bool = False
    sandbox: bool = False
    enhanced: bool = False
    reconnecting: str | None = None  # the address being reconnected


def connect_modal(choices: ConnectChoices) -> View:
    intro = (f"Sign in again to reconnect *{choices.reconnecting}*. " if choices.reconnecting else
             "Campaign email goes out from your own mailbox. ")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
        text=intro + PERMISSIONS["enhanced" if choices.enhanced else "basic"]))]
    for provider, url in choices.sign_in_links.items():
        blocks.append(SectionBlock(
            text=MarkdownTextObject(text=f"*{PROVIDER_LABELS[provider]}*: sign in in your browser (the link works "
                                         "once, for 10 minutes)."),
            accessory=ButtonElement(text=f"Sign in with {PROVIDER_LABELS[provider].split(' ')[0]}",
                                    action_id=f"{Action.SIGN_IN.value}.{provider}", url=url, style="primary")))
    if choices.other:
        blocks.append(SectionBlock(
            text=MarkdownTextObject(text="*Other (SMTP and IMAP)*: any mailbox with an app password."),
            accessory=ButtonElement(text="Enter server details", action_id=Action.OPEN_OTHER.value)))
    if choices.sandbox:
        blocks += [
            InputBlock(block_id=BlockId.PROVIDER.value, label="Sandbox provider", element=StaticSelectElement(
                action_id=Action.PROVIDER.value, options=[Option(value="sandbox", label=PROVIDER_LABELS["sandbox"])],
                initial_option=Option(value="sandbox", label=PROVIDER_LABELS["sandbox"]))),
            InputBlock(block_id=BlockId.ADDRESS.value, label="Sandbox email address",
                       element=PlainTextInputElement(action_id=Action.ADDRESS.value, placeholder="you@company.com")),
        ]
    return View(type="modal", callback_id=Callback.CONNECT_MAILBOX.value, title="Connect a mailbox",
                submit="Connect" if choices.sandbox else None, close="Close", blocks=blocks)


def _input(block: BlockId, label: str, *, initial: str | None = None, placeholder: str | None = None,
           hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=block.value, label=label, hint=hint, element=PlainTextInputElement(
        action_id=Action.FIELD.value, initial_value=initial, placeholder=placeholder))


def other_modal() -> View:
    security = [Option(value="starttls", label="STARTTLS (usually port 587)"),
                Option(value="ssl", label="TLS from the start (usually port 465)")]
    return View(type="modal", callback_id=Callback.CONNECT_OTHER.value, title="SMTP and IMAP", submit="Connect",
                close="Back", blocks=[
                    SectionBlock(text=MarkdownTextObject(
                        text="Use an *app password* made for this bot, not your usual password. The bot logs in to "
                             "both servers before saving anything, and keeps the password encrypted.")),
                    _input(BlockId.ADDRESS, "Email address", placeholder="you@company.com"),
                    _input(BlockId.USERNAME, "User name", hint="Often the email address itself."),
                    _input(BlockId.PASSWORD, "App password"),
                    _input(BlockId.SMTP_HOST, "SMTP server", placeholder="smtp.company.com"),
                    _input(BlockId.SMTP_PORT, "SMTP port", initial="587"),
                    InputBlock(block_id=BlockId.SMTP_SECURITY.value, label="SMTP security", element=StaticSelectElement(
                        action_id=Action.FIELD.value, options=security, initial_option=security[0])),
                    _input(BlockId.IMAP_HOST, "IMAP server", placeholder="imap.company.com"),
                    _input(BlockId.IMAP_PORT, "IMAP port (TLS)", initial="993"),
                ])


def _mailbox_block(m: MailboxSummary) -> list[Block]:
    senders = ", ".join(m.senders) if m.senders else "you"
    text = (f"*{m.address}* · {PROVIDER_LABELS[m.provider]} · {STATUS_LABEL.get(m.status, m.status)} · "
            f"{m.permission} permissions\n{m.sends_today} of {m.daily_cap} emails sent in the last 24 hours · "
            f"may send from it: {senders}")
    if m.complaints:
        text += f"\n{complaints_text(m)}"
    if m.reason and m.status == "needs_reconnect":
        text += f"\n_{m.reason}_"
    buttons = []
    if m.status == "needs_reconnect":
        buttons.append(ButtonElement(text="Reconnect", action_id=Action.RECONNECT.value, value=str(m.id),
                                     style="primary"))
    buttons.append(ButtonElement(text="Settings", action_id=Action.MAILBOX_SETTINGS.value, value=str(m.id)))
    buttons.append(ButtonElement(
        text="Disconnect", action_id=Action.DISCONNECT.value, value=str(m.id), style="danger",
        confirm=ConfirmObject(title="Disconnect this mailbox?", confirm="Disconnect", deny="Keep it", style="danger",
                              text=f"The bot deletes the saved sign-in for {m.address} and pauses every campaign "
                                   "sending from it. You can connect it again later.")))
    return [SectionBlock(text=MarkdownTextObject(text=text)), ActionsBlock(elements=buttons)]


def complaints_text(m: MailboxSummary) -> str:
    """A mailbox's spam reports, and a warning at Gmail's and Yahoo's limit (bot.services.complaints)."""
    text = f"{counted(m.complaints, 'spam complaint')} about its emails"
    if not m.complaint_warning:
        return text
    return (f":warning: {text}: {m.recent_complaints} in the last 30 days for {counted(m.recent_sends, 'email')} "
            "sent, at or past the 0.3% Gmail and Yahoo allow before they send mail to spam. Slow down and check "
            "who the campaigns write to.")


def mailbox_list_blocks(mailboxes: Sequence[MailboxSummary]) -> list[Block]:
    if not mailboxes:
        return [SectionBlock(text=MarkdownTextObject(
            text="You have no mailbox connected. Connect one with `/outreach connect`."))]
    blocks: list[Block] = []
    for mailbox in mailboxes[:24]:  # two blocks each, within a message's 50
        blocks += _mailbox_block(mailbox)
    if len(mailboxes) > 24:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"… and {len(mailboxes) - 24} more.")]))
    return blocks


def connected_text(mailbox: MailboxSummary) -> str:
    return (f":white_check_mark: {mailbox.address} is connected ({PROVIDER_LABELS[mailbox.provider]}, "
            f"{mailbox.permission} permissions). You can now send campaigns from it.")


def disconnected_text(address: str, paused: int) -> str:
    return (f"{address} is disconnected and its saved sign-in deleted. "
            f"{counted(paused, 'campaign')} sending from it {agrees(paused, 'is', 'are')} paused.")


@dataclass(frozen=True)
class LimitsForm:
    """The limits modal's contents: the mailbox's values now and what its provider allows."""

    mailbox_id: int
    address: str
    provider: str
    daily_cap: int
    min_spacing_seconds: int
    max_daily_cap: int
    min_spacing: int
    max_spacing: int


def limits_modal(form: LimitsForm) -> View:
    return View(type="modal", callback_id=Callback.MAILBOX_LIMITS.value, title="Mailbox settings", submit="Save",
                close="Cancel", private_metadata=str(form.mailbox_id), blocks=[
                    SectionBlock(text=MarkdownTextObject(
                        text=f"*{form.address}* · {PROVIDER_LABELS[form.provider]}\nEvery campaign sending from "
                             "it shares these limits. Emails over the cap wait for the next day: nothing is dropped.")),
                    InputBlock(block_id=BlockId.DAILY_CAP.value, label="Daily cap (emails in any 24 hours)",
                               hint=f"1 to {form.max_daily_cap}: the provider's own limit for this mailbox.",
                               element=NumberInputElement(action_id=Action.FIELD.value, is_decimal_allowed=False,
                                                          initial_value=str(form.daily_cap), min_value="1",
                                                          max_value=str(form.max_daily_cap))),
                    InputBlock(block_id=BlockId.MIN_SPACING.value, label="Minimum spacing between sends (seconds)",
                               hint=f"{form.min_spacing} to {form.max_spacing} seconds.",
                               element=NumberInputElement(action_id=Action.FIELD.value, is_decimal_allowed=False,
                                                          initial_value=str(form.min_spacing_seconds),
                                                          min_value=str(form.min_spacing),
                                                          max_value=str(form.max_spacing))),
                ])


def limits_saved_text(address: str, daily_cap: int, min_spacing_seconds: int) -> str:
    return (f":white_check_mark: {address} now sends at most {counted(daily_cap, 'email')} in any 24 hours, "
            f"at least {counted(min_spacing_seconds, 'second')} apart. Sends waiting for it follow the change.")
