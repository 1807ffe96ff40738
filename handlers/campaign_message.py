"""A campaign's status message in its owner's DM with the bot: posted the first time, kept current
with chat.update by the serving process's refresher (only campaigns marked stale are read, and only
what changed is redrawn), posted again when someone deleted it. Read in one transaction, Slack
outside it, recorded in a short guarded write."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.models import Campaign, CampaignStatus
from bot.runtime import Runtime
from bot.services.campaign_marks import record_drawn, record_message, stale_messages
from bot.services.campaign_status import campaign_status
from bot.services.result_charts import ChartPlan, campaign_plan
from bot.services.results import Results, campaign_results
from handlers.result_charts import chart_file, chart_mark, forget_chart, image_block
from handlers.slack import MESSAGE_BLOCK_LIMIT, Slack
from handlers.views.campaigns import campaign_blocks
from handlers.views.results import results_blocks

log = logging.getLogger(__name__)


def campaign_message(runtime: Runtime, slack: Slack, campaign_id: int, page: int = 0) -> None:
    """Post the campaign's message (in its owner's DM) the first time, then keep it current with
    chat.update; post it again if someone deleted it: read, Slack outside any transaction, then a
    short guarded write (the helpers at the end of this file)."""
    with transaction(runtime.sessions) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return
        drawn = _draw(session, campaign, page, now=runtime.clock.now())
    drawn = _with_chart(runtime, slack, drawn)
    _record(runtime, slack, *_show_or_without_chart(runtime, slack, drawn))


def blocks_hash(status: str, blocks: list[Any]) -> str:
    """What a campaign message shows, as a short key: equal keys mean nothing to update. The
    status leads, so a finished campaign's last message is recognised without rebuilding it."""
    digest = hashlib.sha256(json.dumps([b.to_dict() for b in blocks], sort_keys=True).encode()).hexdigest()
    return f"{status}:{digest[:40]}"


def refresh_campaign_messages(runtime: Runtime, client: WebClient) -> int:
    """The serving process's periodic job: sends, replies and pauses recorded by workers change
    campaign messages. Only campaigns marked stale since their message was last drawn are read
    (bot.services.campaign_marks: message_version past message_drawn_version), so a tick with
    nothing changed is one SELECT; each is redrawn only when what it shows changed (chat.update is
    rate limited), and posted again if someone deleted it. Returns how many were redrawn."""
    slack, updated = Slack(client), 0
    with transaction(runtime.sessions) as session:
        now = runtime.clock.now()
        drawn_all = [_draw(session, c, now=now) for c in stale_messages(session)]
    drawn_all = [_with_chart(runtime, slack, drawn) for drawn in drawn_all]
    changed = [drawn for drawn in drawn_all if drawn.key != drawn.shown_key]
    _record_unchanged(runtime, [drawn for drawn in drawn_all if drawn.key == drawn.shown_key])
    for drawn in changed:
        try:
            shown = _show_or_without_chart(runtime, slack, drawn)
        except SlackApiError as exc:
            log.warning("campaign %s message not updated: %s", drawn.campaign_id, exc.response.get("error"))
            continue
        updated += _record(runtime, slack, *shown)
    return updated


# ---- the campaign message: read in one transaction, Slack outside it, record in a second ---------
@dataclass(frozen=True)
class _Drawn:
    """A campaign's message as read in one transaction, ready to show."""

    campaign_id: int
    owner: str  # the owner's Slack id: the message lives in their DM with the bot
    channel: str | None  # where it was last shown; None before the first post
    ts: str | None
    shown_key: str | None  # the key of what it showed then (status_hash)
    text: str
    blocks: list[Any]
    key: str  # blocks_hash of page 1 (what the periodic refresh draws)
    version: int  # message_version when read: recorded as drawn, so a change landing meanwhile is not lost
    chart: ChartPlan | None = None  # the results chart's numbers (handlers/result_charts.py)
    without_chart: "_Drawn | None" = None  # the same message without its image, if Slack refuses it
    chart_shown: str | None = None  # the chart's file id in `blocks`


def results_of(session: Session, campaign: Campaign, now: datetime) -> Results | None:
    """A campaign's results for its message and `status`: None for a draft, which has sent nothing."""
    return campaign_results(session, campaign.id, until=now) if campaign.status != CampaignStatus.DRAFT else None


def _draw(session: Session, campaign: Campaign, page: int = 0, *, now: datetime) -> _Drawn:
    # The Results section (handlers/views/results.py) is part of what the key covers: new numbers redraw.
    # The chart (handlers/result_charts.py) is drawn from the same numbers, read once.
    numbers = results_of(session, campaign, now)
    results = results_blocks(numbers) if numbers is not None else []
    blocks = campaign_blocks(campaign_status(session, campaign, page=page)) + results
    # The refresher compares page 1 (what it draws): a person reading page 2 is moved back only
    # when something changed.
    first_page = blocks if page == 0 else campaign_blocks(campaign_status(session, campaign)) + results
    return _Drawn(campaign.id, campaign.owner.slack_user_id, campaign.status_channel, campaign.status_ts,
                  campaign.status_hash, f"Campaign {campaign.name}: {campaign.status.value}", blocks,
                  blocks_hash(campaign.status.value, first_page), campaign.message_version,
                  campaign_plan(session, campaign, now, numbers) if numbers is not None else None)


def _with_chart(runtime: Runtime, slack: Slack, drawn: _Drawn) -> _Drawn:
    """The results chart under the message (uploaded first when its numbers changed; outside any
    transaction). A chart held back by its redraw interval keeps the campaign marked stale (the
    version recorded is one behind), so a later refresh draws it."""
    if drawn.chart is None:
        return drawn
    file_id = chart_file(runtime, slack, drawn.chart)
    plain = replace(drawn, version=drawn.version - 1 if drawn.chart.waiting(runtime.clock.now()) else drawn.version)
    if file_id is None or len(drawn.blocks) >= MESSAGE_BLOCK_LIMIT:
        return plain
    return replace(plain, blocks=[*drawn.blocks, image_block(file_id, drawn.chart.results)],
                   key=f"{drawn.key}:{chart_mark(file_id)}", without_chart=plain, chart_shown=file_id)


def _show_or_without_chart(runtime: Runtime, slack: Slack, drawn: _Drawn) -> tuple[_Drawn, str, str]:
    """_show; when Slack refuses the image, the message is shown without it and recorded one version
    behind, so the next refresh tries again. A file uploaded in this very draw may not be showable
    for a moment (Slack processes uploads asynchronously: github.com/slackapi/python-slack-sdk/issues/1521);
    an older one is gone (someone deleted it): it is forgotten, so the next refresh uploads anew."""
    try:
        return (drawn, *_show(slack, drawn))
    except SlackApiError as exc:
        if drawn.without_chart is None or exc.response.get("error") != "invalid_blocks":
            raise
        log.warning("campaign %s chart not shown yet: %s", drawn.campaign_id, exc.response.get("error"))
        if drawn.chart is not None and drawn.chart_shown == drawn.chart.file_id:
            forget_chart(runtime, drawn.chart.key, drawn.chart_shown)
        fallback = replace(drawn.without_chart, version=drawn.version - 1)
        return (fallback, *_show(slack, fallback))


def _show(slack: Slack, drawn: _Drawn) -> tuple[str, str]:
    """Slack only: update the message in place, or post it (the first time, or again when someone
    deleted it: chat.update answers message_not_found). Returns where it is now: (channel, ts)."""
    if drawn.channel and drawn.ts and slack.update_if_there(drawn.channel, drawn.ts, drawn.text, drawn.blocks):
        return drawn.channel, drawn.ts
    channel = slack.dm_channel(drawn.owner)
    return channel, slack.post(channel, drawn.text, drawn.blocks)


def _record(runtime: Runtime, slack: Slack, drawn: _Drawn, channel: str, ts: str) -> bool:
    """A short write: where the message is and what it shows, only if its ts is still the one that
    was read. When a concurrent refresh recorded another message meanwhile, that one stays and the
    one posted here is deleted, so the owner never sees two. True when recorded."""
    with transaction(runtime.sessions, write=True) as session:
        recorded = record_message(session, campaign_id=drawn.campaign_id, read_ts=drawn.ts, channel=channel, ts=ts,
                                  key=drawn.key, version=drawn.version)
    if not recorded and ts != drawn.ts:
        slack.delete(channel, ts)
    return recorded


def _record_unchanged(runtime: Runtime, drawn: list[_Drawn]) -> None:
    """Marked stale, drawn, and showing the same: only the version read is recorded (one short write)."""
    if not drawn:
        return
    with transaction(runtime.sessions, write=True) as session:
        record_drawn(session, [(each.campaign_id, each.version) for each in drawn])
