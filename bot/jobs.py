"""Wires the dispatcher (and, where Slack is reachable, notice delivery) to the local timer."""
from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient

from bot.db import transaction
from bot.runtime import Runtime
from bot.services.candidate_uploads import delete_expired_uploads
from bot.services import open_tracking
from bot.services.open_tracking import Pixels, pixels_for
from bot.services.unsubscribe import Links, links_for
from scheduling.dispatcher import Dispatcher
from scheduling.sync import MailboxSync
from scheduling.timer import (
    CAMPAIGN_MESSAGES_JOB_ID,
    DISPATCH_JOB_ID,
    EXPIRED_UPLOADS_JOB_ID,
    NOTICES_JOB_ID,
    SYNC_JOB_ID,
    Timer,
)

# Staged candidate rows live a day (candidate_uploads.UPLOAD_TTL, refused from then on); deleting
# them within the hour after that is soon enough, and costs one DELETE an hour.
EXPIRED_UPLOADS_INTERVAL_SECONDS = 3600.0


def expire_uploads(runtime: Runtime) -> int:
    """The periodic job: delete the candidate rows nobody confirmed within a day."""
    with transaction(runtime.sessions, write=True) as session:
        return delete_expired_uploads(session, clock=runtime.clock)


def expire_opens(runtime: Runtime) -> int:
    """The periodic job's other half: open-tracking records older than their retention, deleted."""
    with transaction(runtime.sessions, write=True) as session:
        return open_tracking.delete_expired(session, now=runtime.clock.now())


def tracking_pixels(runtime: Runtime) -> Pixels | None:
    """What makes and reads tracking-image tokens: the public URL and the encryption keys (the first encrypts)."""
    settings = runtime.settings
    return pixels_for(settings.public_url, [k.get_secret_value() for k in settings.encryption_keys])


def unsubscribe_links(runtime: Runtime) -> Links | None:
    """What signs and checks opt-out links: the public URL and the encryption keys (the first signs)."""
    settings = runtime.settings
    return links_for(settings.public_url, [k.get_secret_value() for k in settings.encryption_keys])


def start_scheduler(runtime: Runtime, *, slack_client: WebClient | None = None,
                    interval_seconds: float | None = None) -> Timer:
    """`outreach worker` passes no Slack client: it sends email only; notices queue in the
    database until a serving process (which has the Slack token) delivers them."""
    settings = runtime.settings
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers,
                            clock=runtime.clock, rng=runtime.rng, concurrency=settings.dispatch_concurrency,
                            lease=timedelta(seconds=settings.dispatch_lease_seconds),
                            links=unsubscribe_links(runtime), pixels=tracking_pixels(runtime))
    timer = Timer(interval_seconds=interval_seconds or runtime.settings.dispatch_interval_seconds)
    timer.every(DISPATCH_JOB_ID, dispatcher.run_until_idle)
    sync = MailboxSync(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                       rng=runtime.rng, interval=timedelta(seconds=settings.sync_interval_seconds),
                       reply_watch=timedelta(days=settings.reply_watch_days))
    timer.every(SYNC_JOB_ID, sync.run)
    timer.every(EXPIRED_UPLOADS_JOB_ID, lambda: (expire_uploads(runtime), expire_opens(runtime)),
                seconds=EXPIRED_UPLOADS_INTERVAL_SECONDS)
    if slack_client is not None:
        from handlers.campaign_message import refresh_campaign_messages
        from handlers.delegations import expire_requests
        from handlers.notices import deliver_channel_alerts, deliver_notices

        # Requests expire here, where Slack is reachable, so the manager's DM loses its buttons too.
        timer.every(NOTICES_JOB_ID, lambda: (expire_requests(runtime, slack_client),
                                             deliver_notices(runtime, slack_client),
                                             deliver_channel_alerts(runtime, slack_client)))
        timer.every(CAMPAIGN_MESSAGES_JOB_ID, lambda: refresh_campaign_messages(runtime, slack_client))
    timer.on_shutdown(dispatcher.close)
    timer.start()
    return timer
