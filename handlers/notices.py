"""Delivers queued notices (the notifications outbox) to people as Slack DMs."""
from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import transaction
from bot.models import User
from bot.runtime import Runtime
from bot.services.notifications import undelivered
from handlers.slack import Slack

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def deliver_notices(runtime: Runtime, client: WebClient) -> int:
    """Send what is queued; a notice Slack refuses is retried on the next run, a few times.
    The rows stay locked while Slack is called (FOR UPDATE SKIP LOCKED on PostgreSQL), so two
    serving processes never deliver the same notice twice; batches are small to keep that short."""
    slack, delivered = Slack(client), 0
    with transaction(runtime.sessions, write=True) as session:
        for notice in undelivered(session):
            user = session.get(User, notice.user_id)
            assert user is not None  # the foreign key cascades: a notice never outlives its user
            try:
                slack.send_dm(user.slack_user_id, notice.text)
            except SlackApiError as exc:
                notice.attempts += 1
                log.warning("notice %s not delivered: %s", notice.id, exc.response.get("error"))
                if notice.attempts >= MAX_ATTEMPTS:
                    notice.delivered_at = runtime.clock.now()  # given up; the log keeps why
                continue
            notice.delivered_at = runtime.clock.now()
            delivered += 1
    return delivered
