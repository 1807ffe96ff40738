"""Mailbox views: the connect modal and the messages about a mailbox."""
from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from handlers.views.summaries import MailboxSummary

PROVIDER_LABELS = {
    "sandbox": "Sandbox (local: mail stays on this machine)",
    "gmail": "Google (Gmail)",
    "graph": "Microsoft (Office 365)",
    "smtp_imap": "Other (SMTP and IMAP)",
}


def connect_modal(providers: Sequence[str]) -> View:
    options = [Option(value=p, label=PROVIDER_LABELS[p]) for p in providers]
    return View(
        type="modal",
        callback_id=Callback.CONNECT_MAILBOX.value,
        title="Connect a mailbox",
        submit="Connect",
        close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text="Campaign email goes out from your own mailbox. The bot asks only for what it "
                     "needs: sending mail and reading the headers of replies, never their bodies.")),
            InputBlock(block_id=BlockId.PROVIDER.value, label="Provider",
                       element=StaticSelectElement(action_id=Action.PROVIDER.value, options=options,
                                                   initial_option=options[0])),
            InputBlock(block_id=BlockId.ADDRESS.value, label="Email address",
                       element=PlainTextInputElement(action_id=Action.ADDRESS.value,
                                                     placeholder="you@company.com")),
        ],
    )


def connected_text(mailbox: MailboxSummary) -> str:
    return (f":white_check_mark: {mailbox.address} is connected ({PROVIDER_LABELS[mailbox.provider]}, "
            f"{mailbox.permission} permissions). You can now send campaigns from it.")


def mailbox_list_blocks(mailboxes: Sequence[MailboxSummary]) -> list[Block]:
    if not mailboxes:
        return [SectionBlock(text=MarkdownTextObject(
            text="You have no mailbox connected. Connect one with `/outreach connect`."))]
    return [SectionBlock(text=MarkdownTextObject(
        text=f"*{m.address}* · {PROVIDER_LABELS[m.provider]} · {m.status.replace('_', ' ')} · "
             f"{m.permission} permissions")) for m in mailboxes]
