"""The /outreach help message."""
from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock


def help_blocks(commands: Sequence[tuple[str, str]], *, unknown: str | None = None,
                title: str = "Outreach commands") -> list[Block]:
    blocks: list[Block] = []
    if unknown is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f":grey_question: I don't know `/outreach {unknown}`. Here is what I can do:")))
    lines = "\n".join(f"`/outreach {name}` — {description}" for name, description in commands)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{title}*\n{lines}")))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="Open the bot's *Home* tab to see your mailboxes and campaigns.")]))
    return blocks


def help_text(commands: Sequence[tuple[str, str]]) -> str:
    return "Outreach commands: " + ", ".join(f"/outreach {name}" for name, _ in commands)
