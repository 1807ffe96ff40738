"""Wires the dispatcher to the local timer for `serve` and `worker`."""
from __future__ import annotations

from bot.runtime import Runtime
from scheduling.dispatcher import Dispatcher
from scheduling.timer import DISPATCH_JOB_ID, Timer


def start_scheduler(runtime: Runtime, *, interval_seconds: float | None = None) -> Timer:
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers,
                            clock=runtime.clock, rng=runtime.rng)
    timer = Timer(interval_seconds=interval_seconds or runtime.settings.dispatch_interval_seconds)
    timer.every(DISPATCH_JOB_ID, dispatcher.run_once)
    timer.start()
    return timer
