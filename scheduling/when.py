"""When to send: SPEC's table as pure functions of (preference, zone, start, delays, rng).

Every time is a wall-clock time in the campaign's zone, so a 07:10 send stays 07:10 across a
daylight-saving change; a wall time that does not exist that day (the spring-forward gap) moves
forward to the first minute that does. Nothing here reads a clock or the database.
"""
from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

GRACE = timedelta(minutes=20)  # no email leaves sooner than this after Start (seed 002)
SPREAD = timedelta(minutes=20)  # width of a window, and the ± around a later step's time
BEST_OVERNIGHT_SEND = time(7, 0)
BEST_DAY_SEND = time(16, 0)
BEST_LATER_FROM, BEST_LATER_TO = time(7, 0), time(9, 0)
ALL_DAYS = frozenset(range(7))  # Monday=0 … Sunday=6


class Preference(str, Enum):
    STARTED = "started"
    SPECIFIC = "specific"
    BEST = "best"


@dataclass(frozen=True)
class Window:
    start: datetime  # aware; in the campaign's zone
    end: datetime

    def pick(self, rng: random.Random) -> datetime:
        seconds = (self.end - self.start).total_seconds()
        return (self.start + timedelta(seconds=rng.uniform(0, seconds))).replace(microsecond=0)


@dataclass(frozen=True)
class Calendar:
    """Which local days may carry sends."""

    send_days: frozenset[int] = ALL_DAYS
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.send_days:
            raise ValueError("at least one send day is needed")

    def is_send_day(self, day: date) -> bool:
        return day.weekday() in self.send_days and day not in self.holidays

    def next_send_day(self, day: date) -> date:
        # Bounded: a year of holidays on top of the weekly pattern still ends.
        for _ in range(366 + 7):
            if self.is_send_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no send day within a year: check the send days and holidays")


@dataclass(frozen=True)
class PlannedStep:
    step: int
    window: Window
    send_at: datetime


def wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The aware datetime for a wall-clock time; inside a DST gap, the first minute after it."""
    naive = datetime.combine(day, at)
    if _exists(naive, zone):
        return naive.replace(tzinfo=zone)
    minute = naive.replace(second=0, microsecond=0)
    for _ in range(24 * 60):  # gaps are at most a few hours
        minute += timedelta(minutes=1)
        if _exists(minute, zone):
            return minute.replace(tzinfo=zone)
    raise ValueError(f"no existing time near {naive} in {zone}")  # pragma: no cover


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == naive


def _window_around(day: date, anchor: time, zone: ZoneInfo) -> Window:
    centre = datetime.combine(day, anchor)
    return Window(wall((centre - SPREAD).date(), (centre - SPREAD).time(), zone),
                  wall((centre + SPREAD).date(), (centre + SPREAD).time(), zone))


def _fixed_window(day: date, start: time, width: timedelta, zone: ZoneInfo) -> Window:
    begin = datetime.combine(day, start)
    return Window(wall(day, start, zone), wall((begin + width).date(), (begin + width).time(), zone))


def _after_start(started: datetime) -> Window:
    return Window(started + GRACE, started + GRACE + SPREAD)


def first_window(
    preference: Preference,
    zone: ZoneInfo,
    started: datetime,
    *,
    specific: time | None = None,
    calendar: Calendar = Calendar(),
) -> Window:
    """The window of step 1. `started` is the aware moment the recruiter pressed Start."""
    local = started.astimezone(zone)
    if preference is Preference.STARTED:
        window = _after_start(local)
    elif preference is Preference.SPECIFIC:
        if specific is None:
            raise ValueError("a specific time is needed for the 'specific' preference")
        day = local.date()
        while wall(day, specific, zone) < local + GRACE:
            day += timedelta(days=1)
        window = _fixed_window(day, specific, SPREAD, zone)
    else:
        window = _best_first_window(local, zone)
    return _on_send_day(window, zone, calendar)


def _best_first_window(local: datetime, zone: ZoneInfo) -> Window:
    t = local.time()
    if t >= time(19, 0) or t < time(6, 0):  # overnight: next morning, or this morning after midnight
        day = local.date() if t < time(6, 0) else local.date() + timedelta(days=1)
        return _fixed_window(day, BEST_OVERNIGHT_SEND, SPREAD, zone)
    if t < time(10, 0):  # morning: as "when started"
        return _after_start(local)
    four_pm = wall(local.date(), BEST_DAY_SEND, zone)  # day: 16:00 or 20 minutes after, if later
    begin = max(four_pm, local + GRACE)
    return Window(begin, begin + SPREAD)


def later_window(
    preference: Preference,
    zone: ZoneInfo,
    *,
    started: datetime,
    first_send: datetime,
    previous_send: datetime,
    delay_days: int,
    calendar: Calendar = Calendar(),
) -> Window:
    """The window of a later step, `delay_days` after the previous step's local day."""
    if delay_days < 0:
        raise ValueError("a step's delay cannot be negative")
    day = previous_send.astimezone(zone).date() + timedelta(days=delay_days)
    if preference is Preference.BEST and _is_day_start(started.astimezone(zone).time()):
        width = datetime.combine(day, BEST_LATER_TO) - datetime.combine(day, BEST_LATER_FROM)
        window = _fixed_window(day, BEST_LATER_FROM, width, zone)
    else:
        window = _window_around(day, first_send.astimezone(zone).time(), zone)
    window = _on_send_day(window, zone, calendar)
    if window.start <= previous_send:  # a zero-day delay never goes before the step it follows
        window = Window(previous_send + timedelta(minutes=1), max(window.end, previous_send + SPREAD))
    return window


def _is_day_start(t: time) -> bool:
    return time(10, 0) <= t < time(19, 0)


def _on_send_day(window: Window, zone: ZoneInfo, calendar: Calendar) -> Window:
    """A window on a day off moves to the next send day at the same wall-clock times."""
    start_local, end_local = window.start.astimezone(zone), window.end.astimezone(zone)
    day = calendar.next_send_day(start_local.date())
    shift = day - start_local.date()
    if not shift:
        return Window(start_local, end_local)
    return Window(
        wall(start_local.date() + shift, start_local.time(), zone),
        wall(end_local.date() + shift, end_local.time(), zone),
    )


def plan(
    preference: Preference,
    zone: ZoneInfo,
    started: datetime,
    delays: Sequence[int],
    rng: random.Random,
    *,
    specific: time | None = None,
    calendar: Calendar = Calendar(),
) -> list[PlannedStep]:
    """Every step's window and chosen time; `delays` are the days after the previous step for
    steps 2, 3, … (step 1 has none)."""
    window = first_window(preference, zone, started, specific=specific, calendar=calendar)
    first = PlannedStep(1, window, window.pick(rng))
    steps = [first]
    for number, delay in enumerate(delays, start=2):
        window = later_window(
            preference, zone, started=started, first_send=first.send_at,
            previous_send=steps[-1].send_at, delay_days=delay, calendar=calendar,
        )
        steps.append(PlannedStep(number, window, window.pick(rng)))
    return steps


def calendar_from(send_days: str | Collection[int] = "0123456", holidays: Collection[str | date] = ()) -> Calendar:
    days = frozenset(int(d) for d in send_days)
    return Calendar(days, frozenset(date.fromisoformat(h) if isinstance(h, str) else h for h in holidays))
