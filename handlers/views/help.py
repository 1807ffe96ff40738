"""The /outreach help message."""
from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

SECTION_LIMIT = 3000  # Slack's limit on a section's text


def help_blocks(commands: Sequence[tuple[str, str]], *, unknown: str | None = None,
                title: str = "Outreach commands") -> list[Block]:
    blocks: list[Block] = []
    if unknown is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f":grey_question: I don't know `/outreach {unknown}`. Here is what I can do:")))
    # A section holds at most 3,000 characters: the list goes on in as many sections as it needs.
    section = f"*{title}*"
    for name, description in commands:
        line = f"`/outreach {name}` — {description}"
        if len(section) + 1 + len(line) > SECTION_LIMIT:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=section)))
            section = ""
        section = f"{section}\n{line}" if section else line
    blocks.append(SectionBlock(text=MarkdownTextObject(text=section)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="Open the bot's *Home* tab to see your mailboxes and campaigns.")]))
    return blocks


def help_text(commands: Sequence[tuple[str, str]]) -> str:
    return "Outreach commands: " + ", ".join(f"/outreach {name}" for name, _ in commands)
