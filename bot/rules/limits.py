"""Per-mailbox sending limits, as a pure function: how many sends a mailbox may start now.

A mailbox never has more than `max_in_flight` sends under way (Graph allows 4 concurrent requests per
mailbox), never sends more than `daily_cap` in any rolling 24 hours (Gmail's limit is rolling), and
with `min_spacing_seconds` > 0 sends one message per spacing interval.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Usage:
    in_flight: int  # sends under way (claimed, provider called, not yet recorded)
    sent_last_day: int  # sends started in the last 24 hours (counted by whole hours, so maybe more)
    oldest_last_day: datetime | None  # when the earliest of those has surely turned 24 h old


@dataclass(frozen=True)
class Allowance:
    quota: int
    not_before: datetime | None  # the mailbox's next claim time, when it must wait
    capped: bool = False  # the daily cap is what holds it back


def allowance(*, daily_cap: int, min_spacing_seconds: int, max_in_flight: int, usage: Usage,
              now: datetime, room: int) -> Allowance:
    """`room` is how many more rows this claim may take in all (the batch size left)."""
    left_today = daily_cap - usage.sent_last_day
    if left_today <= 0:
        reopens = usage.oldest_last_day + DAY if usage.oldest_last_day else now + timedelta(hours=1)
        return Allowance(0, max(reopens, now + timedelta(seconds=1)), capped=True)
    quota = max(0, min(left_today, max_in_flight - usage.in_flight, room))
    if min_spacing_seconds > 0:
        quota = min(quota, 1)
        return Allowance(quota, now + timedelta(seconds=min_spacing_seconds) if quota else None)
    return Allowance(quota, None)
