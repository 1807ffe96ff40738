"""Delivers queued notices (the notifications outbox) to people as Slack DMs, and channel alerts.

The dispatcher's route: claim in one short write transaction (a lease: claimed_by and
lease_expires_at, so two serving processes never deliver the same notice and a crashed run's claim
expires), call Slack outside any transaction, record each outcome in another short write."""
from __future__ import annotations

import logging
import uuid

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import transaction
from bot.runtime import Runtime
from bot.services.notifications import (
    claim_channel_alerts,
    claim_notices,
    record_alerts,
    record_delivered,
    record_refused,
)
from handlers.slack import Slack
from handlers.views.notices import alert_text, notice_blocks

log = logging.getLogger(__name__)


def deliver_notices(runtime: Runtime, client: WebClient) -> int:
    """Send what is queued; a notice Slack refuses is retried on the next run, a few times. A notice
    that answers an earlier one goes into that DM's thread (each person's notices are delivered in
    order, by one run at a time). Returns how many were delivered."""
    slack, delivered, claimant = Slack(client), 0, uuid.uuid4().hex
    with transaction(runtime.sessions, write=True) as session:
        claimed = claim_notices(session, clock=runtime.clock, claimant=claimant)
    landed: dict[str, tuple[str, str]] = {}  # dedupe_key → (channel, ts), for threads within this run
    for notice in claimed:
        parent = landed.get(notice.thread_of) if notice.thread_of else None
        parent = parent or notice.parent
        try:
            channel = parent[0] if parent and parent[0] else slack.dm_channel(notice.slack_user_id)
            ts = slack.post(channel, notice.text, notice_blocks(notice.text, notice.action, notice.action_value),
                            thread_ts=parent[1] if parent else None)
        except SlackApiError as exc:
            log.warning("notice %s not delivered: %s", notice.id, exc.response.get("error"))
            with transaction(runtime.sessions, write=True) as session:
                record_refused(session, notice_id=notice.id, claimant=claimant, clock=runtime.clock)
            continue
        landed[notice.dedupe_key] = (channel, ts)
        with transaction(runtime.sessions, write=True) as session:
            record_delivered(session, notice_id=notice.id, channel=channel, ts=ts, clock=runtime.clock)
        delivered += 1
    return delivered


def deliver_channel_alerts(runtime: Runtime, client: WebClient) -> int:
    """Post each channel's waiting reply and bounce alerts as one message per run (the run is at
    least seconds apart, within Slack's one message per second per channel); the rest wait for
    the next run. Returns how many alerts were posted."""
    slack, posted, claimant = Slack(client), 0, uuid.uuid4().hex
    with transaction(runtime.sessions, write=True) as session:
        claimed = claim_channel_alerts(session, clock=runtime.clock, claimant=claimant)
    for batch in claimed:
        try:
            slack.post(batch.channel, alert_text(batch.texts))
            ok = True
        except SlackApiError as exc:
            log.warning("alerts for %s not delivered: %s", batch.channel, exc.response.get("error"))
            ok = False
        with transaction(runtime.sessions, write=True) as session:
            record_alerts(session, ids=batch.ids, posted=ok, claimant=claimant, clock=runtime.clock)
        posted += len(batch.ids) if ok else 0
    return posted
