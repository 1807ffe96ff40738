"""Views of managing campaigns (handlers/campaign_manage.py): the confirm of removing a candidate."""
from __future__ import annotations

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.wording import agrees, counted
from handlers.ids import Callback
from handlers.payloads import Id


def remove_candidate_modal(*, enrollment_id: int, candidate: str, campaign: str, planned: int,
                           draft: bool = False) -> View:
    """What removing does, before it is done: the planned sends go, the history stays (a draft has
    none: the candidate just leaves its list)."""
    if draft:
        what = "It has not started, so they just leave its list"
    else:
        cancelled = (f"Their {counted(planned, 'planned send')} {agrees(planned, 'is', 'are')} cancelled."
                     if planned else "Nothing is planned for them right now.")
        what = f"{cancelled} What was sent to them and what they answered stay in the campaign's history"
    return View(type="modal", callback_id=Callback.CANDIDATE_REMOVE.value, title="Remove candidate",
                submit="Remove", close="Cancel", private_metadata=Id(id=enrollment_id).dump(), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=(
                        f"Remove *{candidate[:100]}* from *{campaign[:100]}*? {what}, and they stay in your "
                        "organisation for other campaigns.")))])


def refused_modal(message: str) -> View:
    """The confirm replaced by why it could not be done (a modal without inputs has no field to flag)."""
    return View(type="modal", title="Remove candidate", close="Close", blocks=[
        SectionBlock(text=MarkdownTextObject(text=f":warning: {message}"[:3000]))])
