"""The campaign modal's open-tracking switch: offered where the organisation allows tracking (saying
plainly what it does), else a line saying an admin must allow it first."""
from __future__ import annotations

from slack_sdk.models.blocks import Block, CheckboxesElement, ContextBlock, InputBlock, MarkdownTextObject, Option

from bot.services.tracking_settings import NOT_ALLOWED

TRACK = "yes"
SAYS = ("Adds an invisible 1×1 image to each email sent from now on. When it is fetched, the bot records the time "
        "and IP address (nothing else). Apple Mail and Gmail fetch images by themselves, so those count apart "
        "as machine opens and opens are an estimate.")


def track_opens_blocks(*, allowed: bool, on: bool, action_id: str) -> list[Block]:
    if not allowed:
        return [ContextBlock(elements=[MarkdownTextObject(text=f":lock: {NOT_ALLOWED}")])]
    switch = Option(value=TRACK, label="Track opens of this campaign's emails")
    return [InputBlock(block_id="track_opens", label="Open tracking", optional=True, hint=SAYS,
                       element=CheckboxesElement(action_id=action_id, options=[switch],
                                                 initial_options=[switch] if on else None))]
