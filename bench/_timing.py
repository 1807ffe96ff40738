"""Timing a benchmark's run: the best of a few, since the machine is shared and the least disturbed
run is the one closest to the code's own cost."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best(run: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)
