"""Campaign views."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.services.campaigns import PlannedSend
from scheduling.when import PlannedStep


def _at(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d %b %H:%M}"


def when_blocks(*, name: str, status: str, zone: ZoneInfo, sends: Sequence[PlannedSend], total: int,
                preview: Sequence[PlannedStep] | None = None, held_until: datetime | None = None) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=f"When {name[:120]} sends")]
    if preview is not None:
        lines = "\n".join(f"Step {p.step}: {_at(p.send_at, zone)} (window {_at(p.window.start, zone)}"
                          f"–{p.window.end.astimezone(zone):%H:%M})" for p in preview)
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"*{name}* is not started. Started now, a candidate's emails would go out:\n{lines}")))
    elif not sends:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{name}* ({status}) has no sends planned.")))
    else:
        lines = "\n".join(f"{_at(s.due_at, zone)} · step {s.step} · {s.candidate} ({s.to_address})" for s in sends)
        more = f"\n…and {total - len(sends)} more." if total > len(sends) else ""
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"*{name}* ({status}): the next {len(sends)} of {total} planned sends\n{lines}{more}")))
    if held_until is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f":hourglass: The mailbox is waiting (daily cap or provider limit) until {_at(held_until, zone)}.")))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Times in {zone.key}.")]))
    return blocks
