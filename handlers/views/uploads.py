"""The message a shared file shows while it is read, and the one a confirmed upload turns into while its
rows are written: progress, then a summary."""
from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from handlers.ids import Action
from handlers.payloads import UploadTarget
from bot.wording import counted


def reading_text(source: str, rows: int = 0) -> str:
    """A shared file being read: shown before the download, then as its rows are read."""
    if not rows:
        return f":hourglass_flowing_sand: Reading *{source}*…"
    return f":hourglass_flowing_sand: Reading *{source}*: {counted(rows, 'row')} read…"


def progress_text(done: int, total: int, campaign: str, *, stopped: str | None = None) -> str:
    if stopped:
        return f":warning: {stopped} {done:,} of {total:,} candidates were added to *{campaign}* before it stopped."
    return f":hourglass_flowing_sand: Adding {counted(total, 'candidate')} to *{campaign}*: {done:,} of {total:,} done…"


def progress_blocks(done: int, total: int, campaign: str, target: UploadTarget, *,
                    stopped: str | None = None) -> list[Block]:
    """Where it is, and Resume: pressed while the rows are still being added it only says so; after
    a stop (or 2 minutes without progress, as after a crash) it adds the rows not yet added."""
    note = ("What was added stays. Press Resume to add the rest." if stopped else
            "If this stops moving for 2 minutes, press Resume: what was added stays, and the rest is added.")
    return [SectionBlock(text=MarkdownTextObject(text=progress_text(done, total, campaign, stopped=stopped)[:3000])),
            ContextBlock(elements=[MarkdownTextObject(text=note)]),
            ActionsBlock(elements=[ButtonElement(text="Resume", action_id=Action.UPLOAD_CONFIRM.value,
                                                 value=target.dump())])]
