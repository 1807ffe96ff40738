"""The results chart in Slack: drawn (bot.services.result_chart), uploaded with files_upload_v2 and
shown in an image block on a campaign's message and on the App Home.

Where the file lives: uploaded to no channel, it stays private to the bot ("If the channel_id is
not specified, the file will remain private": https://api.slack.com/methods/files.completeUploadExternal).
An image block's slack_file needs only that "the user posting these blocks must have access to this
file" (https://api.slack.com/reference/block-kit/composition-objects#slack_file): the bot posts the
campaign message and publishes the Home tab, so its own private file is enough, and nobody's DM gets
a second message carrying the file (sharing it into the owner's DM would post one each redraw).

Route (as every network call here): the plan is read in the caller's transaction; drawing and the
upload happen outside any transaction; the new file is recorded in a short guarded write; then the
old file is deleted from Slack (files.delete), so the workspace keeps one chart per place. A failed
upload (a Slack error, a 429 past the client's retries, the network) leaves the previous chart in
place and is logged with Slack's error code only.
"""
from __future__ import annotations

import hashlib
import logging

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import ImageBlock

from bot.db import transaction
from bot.runtime import Runtime
from bot.services import result_chart
from bot.services.result_charts import ChartPlan, forget, record_chart, shown
from bot.services.results import Results
from handlers.slack import Slack

log = logging.getLogger(__name__)


def chart_file(runtime: Runtime, slack: Slack, plan: ChartPlan | None) -> str | None:
    """The file to show for `plan`'s place: drawn and uploaded first when due, else the one shown
    now (None: no chart yet). Call it outside any transaction."""
    if plan is None:
        return None
    now = runtime.clock.now()
    if not plan.due(now):
        return plan.file_id
    png = result_chart.draw(plan.results)
    try:
        file_id = slack.upload_file(png, f"results-{plan.key.replace(':', '-')}.png",
                                    title=f"Results: {plan.results.scope}"[:250],
                                    alt_txt=result_chart.alt_text(plan.results)[:1000])
    except SlackApiError as exc:
        log.warning("results chart %s not uploaded (Slack: %s); the previous one stays", plan.key,
                    exc.response.get("error"))
        return plan.file_id
    except (SlackClientError, OSError) as exc:
        log.warning("results chart %s not uploaded (%s); the previous one stays", plan.key, type(exc).__name__)
        return plan.file_id
    with transaction(runtime.sessions, write=True) as session:
        recorded = record_chart(session, plan, file_id, now)
    if not recorded:  # a concurrent upload recorded first: keep its chart, drop ours
        _delete(slack, file_id)
        with transaction(runtime.sessions) as session:
            row = shown(session, plan.key)
            return row.file_id if row else None
    if plan.file_id is not None:
        _delete(slack, plan.file_id)
    return file_id


def forget_chart(runtime: Runtime, key: str, file_id: str) -> None:
    """Slack no longer shows `file_id` (deleted by someone): the place has no chart until the next
    draw uploads one, at once."""
    with transaction(runtime.sessions, write=True) as session:
        forget(session, key, file_id)


def _delete(slack: Slack, file_id: str) -> None:
    try:
        slack.delete_file(file_id)
    except (SlackApiError, SlackClientError, OSError) as exc:  # an orphan file, never a lost chart
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning("old results chart %s not deleted: %s", file_id, error)


def image_block(file_id: str, results: Results) -> ImageBlock:
    """The chart in a message or a Home tab; the block id follows the file, as Slack asks a changed
    block to carry a new one."""
    return ImageBlock(slack_file={"id": file_id}, alt_text=result_chart.alt_text(results),
                      block_id=f"results_chart_{file_id}")


def chart_mark(file_id: str | None) -> str:
    """A short tag of the chart shown, for a message's what-it-shows key."""
    return hashlib.sha256(file_id.encode()).hexdigest()[:8] if file_id else ""
