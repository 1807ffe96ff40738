"""What the rules of engagement show: the conflicts under an upload's summary (with a select to
override a held-back one), the override modal, and the answer after Start."""
from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.services.engagement import REASON_LIMIT, Check
from handlers.ids import Action, Callback
from handlers.payloads import OverrideTarget

CHOICES_MAX = 100  # Slack's limit on a static_select's options


def conflict_blocks(check: Check, *, upload_id: int, now: datetime) -> list[Block]:
    """Under an upload's summary: who is already with a teammate, and when; under "block", a select
    to override one of those held back (a modal asks why)."""
    if not check.conflicts:
        return []
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f":busts_in_silhouette: {check.summary(now)}"[:3000]))]
    held = [c for c in check.held if c.line is not None]
    if held:
        blocks.append(ActionsBlock(elements=[StaticSelectElement(
            action_id=Action.ENGAGEMENT_OVERRIDE.value, placeholder="Override for one of them…",
            options=[Option(value=OverrideTarget(kind="row", id=upload_id, line=c.line).dump(),
                            label=f"{c.name} (line {c.line})"[:75]) for c in held[:CHOICES_MAX]])]))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
            "Your organisation holds back candidates a teammate is working with: they are not added unless you "
            "override, with a reason your teammate is told."))]))
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
            "They are added all the same (your organisation warns): check with your teammate first."))]))
    return blocks


def start_text(check: Check, campaign: str, now: datetime) -> str:
    """What Start tells its owner about the candidates a teammate has."""
    held = check.held
    tail = (f"\n{len(held):,} {'is' if len(held) == 1 else 'are'} held back (paused): override one from its menu on "
            "the campaign message, with a reason your teammate is told." if held else
            "\nThey are being emailed all the same (your organisation warns).")
    return f":busts_in_silhouette: *{campaign}*: {check.summary(now)}{tail}"[:3000]


def override_modal(target: OverrideTarget, *, description: str) -> View:
    return View(type="modal", callback_id=Callback.ENGAGEMENT_OVERRIDE.value, title="Override", submit="Override",
                close="Cancel", private_metadata=target.dump(), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"{description}."[:3000])),
                    InputBlock(block_id="reason", label="Why you contact them anyway",
                               hint="Kept with the candidate and in the audit log; your teammate gets it in a DM.",
                               element=PlainTextInputElement(action_id=Action.PROTECTION_FIELD.value, multiline=True,
                                                             max_length=REASON_LIMIT))])


def refused_modal(message: str) -> View:
    return View(type="modal", title="Override", close="Close", blocks=[
        SectionBlock(text=MarkdownTextObject(text=f":warning: {message}"[:3000]))])
