"""Notices from the outbox, drawn as a DM with the button their kind calls for."""
from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, MarkdownTextObject, SectionBlock

from handlers.ids import Action

BUTTONS = {"reconnect": ("Reconnect", Action.RECONNECT), "resume_all": ("Resume all", Action.RESUME_ALL)}


def notice_blocks(text: str, action: str | None, value: str | None) -> list[Block] | None:
    if action not in BUTTONS:
        return None
    label, action_id = BUTTONS[action]  # type: ignore[index]
    return [SectionBlock(text=MarkdownTextObject(text=text[:3000])),
            ActionsBlock(elements=[ButtonElement(text=label, action_id=action_id.value, value=value, style="primary")])]
