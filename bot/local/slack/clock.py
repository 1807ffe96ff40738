"""Monotonic time that a wait skips instead of spending."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SkipClock:
    """Real monotonic time (or `base`) plus every wait asked of `sleep`.

    Give LocalSlack this clock (monotonic=clock) and the bot's WebClient its `sleep` as the retry
    handlers' sleep: a 429's Retry-After is then waited out in full on the workspace's clock, and
    no real time passes. With a frozen base (base=lambda: 1000.0) time moves only by waits and by
    `advance`, for tests that need to know exactly when a window ends.
    """

    def __init__(self, base: Callable[[], float] = time.monotonic) -> None:
        self._base = base
        self._skipped = 0.0
        self._lock = threading.Lock()
        self.waits: list[float] = []  # every sleep asked for, in order: tests read what was waited

    def __call__(self) -> float:
        with self._lock:
            return self._base() + self._skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._skipped += max(0.0, seconds)
            self.waits.append(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._skipped += seconds
