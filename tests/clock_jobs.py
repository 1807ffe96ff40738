"""The scheduler's jobs run by hand on a FakeClock: time passes in jumps, never by sleeping."""
from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.db import transaction
from bot.runtime import Runtime
from scheduling.dispatcher import Dispatcher, next_wakeup
from scheduling.sync import MailboxSync

SYNC_INTERVAL = timedelta(seconds=60)


def dispatch_for(runtime: Runtime, clock: FakeClock, delta: timedelta) -> None:
    """Let `delta` pass, sending at each moment something falls due (as the demo does)."""
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1)
    end = clock.now() + delta
    try:
        while True:
            dispatcher.run_until_idle()
            with transaction(runtime.sessions) as session:
                wake = next_wakeup(session, clock.now())
            if wake is None or wake > end:
                break
            clock.set(wake)
    finally:
        dispatcher.close()
    clock.set(end)


def sync_mailboxes(runtime: Runtime, clock: FakeClock) -> MailboxSync:
    """One run of the mailbox sync, past the interval since the last one."""
    sync = MailboxSync(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                       rng=runtime.rng, interval=SYNC_INTERVAL,
                       reply_watch=timedelta(days=runtime.settings.reply_watch_days))
    clock.advance(2 * SYNC_INTERVAL)
    sync.run()
    return sync
