"""Delivers queued notices (the notifications outbox) to people as Slack DMs."""
from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import transaction
from sqlalchemy import select

from bot.models import ChannelAlert, Notification, User
from bot.runtime import Runtime
from bot.services.notifications import undelivered
from handlers.slack import Slack
from handlers.views.notices import alert_text, notice_blocks

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def deliver_notices(runtime: Runtime, client: WebClient) -> int:
    """Send what is queued; a notice Slack refuses is retried on the next run, a few times. A notice
    that answers an earlier one goes into that DM's thread (the outbox is delivered in order).
    The rows stay locked while Slack is called (FOR UPDATE SKIP LOCKED on PostgreSQL), so two
    serving processes never deliver the same notice twice; batches are small to keep that short."""
    slack, delivered = Slack(client), 0
    with transaction(runtime.sessions, write=True) as session:
        for notice in undelivered(session):
            user = session.get(User, notice.user_id)
            assert user is not None  # the foreign key cascades: a notice never outlives its user
            parent = session.scalar(select(Notification).where(Notification.dedupe_key == notice.thread_of)) \
                if notice.thread_of else None
            try:
                notice.channel = parent.channel if parent and parent.channel else slack.dm_channel(user.slack_user_id)
                notice.ts = slack.post(notice.channel, notice.text,
                                       notice_blocks(notice.text, notice.action, notice.action_value),
                                       thread_ts=parent.ts if parent else None)
            except SlackApiError as exc:
                notice.attempts += 1
                log.warning("notice %s not delivered: %s", notice.id, exc.response.get("error"))
                if notice.attempts >= MAX_ATTEMPTS:
                    notice.delivered_at = runtime.clock.now()  # given up; the log keeps why
                continue
            notice.delivered_at = runtime.clock.now()
            delivered += 1
    return delivered


ALERTS_PER_MESSAGE = 20


def deliver_channel_alerts(runtime: Runtime, client: WebClient) -> int:
    """Post each channel's waiting reply and bounce alerts as one message per run (the run is at
    least seconds apart, within Slack's one message per second per channel); the rest wait for
    the next run. Returns how many alerts were posted."""
    slack, posted = Slack(client), 0
    with transaction(runtime.sessions, write=True) as session:
        waiting = list(session.scalars(select(ChannelAlert).where(ChannelAlert.delivered_at.is_(None))
                                       .order_by(ChannelAlert.id).limit(500).with_for_update(skip_locked=True)))
        by_channel: dict[str, list[ChannelAlert]] = {}
        for alert in waiting:
            by_channel.setdefault(alert.channel_id, []).append(alert)
        for channel, alerts in by_channel.items():
            batch = alerts[:ALERTS_PER_MESSAGE]
            try:
                slack.post(channel, alert_text([a.text for a in batch]))
            except SlackApiError as exc:
                log.warning("alerts for %s not delivered: %s", channel, exc.response.get("error"))
                for alert in batch:
                    alert.attempts += 1
                    if alert.attempts >= MAX_ATTEMPTS:  # the bot left the channel, say: the log keeps why
                        alert.delivered_at = runtime.clock.now()
                continue
            for alert in batch:
                alert.delivered_at = runtime.clock.now()
            posted += len(batch)
    return posted
