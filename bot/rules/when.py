"""When to send: SPEC's table as pure functions of (preference, zone, start, delays, rng).

Times of day are wall-clock times in the campaign's zone, so a 07:10 send stays 07:10 across a
daylight-saving change; a wall time that does not exist that day (the spring-forward gap) moves
forward to the first minute that does. Durations measured from Start (the 20-minute grace, a
"20 minutes after Start" window) are elapsed time. Nothing here reads a clock or the database.

Rules for the corners the table leaves open (the property tests in
tests/scheduling/test_when_properties.py hold them):

- A window set by wall-clock times (specific T, 07:00, 16:00, a later step's ±20 minutes,
  07:00–09:00) runs from its first wall time to its last; where a daylight-saving change falls
  inside it, the wall-clock width holds (across a fall-back the window is an hour longer in real
  time), but a window is never shorter in real time than on the wall clock (across a
  spring-forward gap it keeps its real width and ends later on the wall clock). So its real and
  wall-clock widths are both at least the nominal width, and the smaller equals it.
- A window set by a delay after Start ("when started", best time in the morning, or 20 minutes
  after Start when later than 16:00) is exactly 20 minutes of elapsed time.
- No first window starts inside the grace, whatever the zone does.
- Specific time T: a wall time that occurs twice (fall back) qualifies at either occurrence, the
  first one that is at least 20 minutes after Start.
- A later step belongs to one local day (the previous step's day + its delay, or the next send day
  after it): its ±20 minutes are cut at that day's midnights, so a step never slips to the day
  before or after, and the next step's day counts from the right date.
- A zero-day delay whose window has already begun when the step before it goes out: the step
  goes from a minute after that one, in a window of at least 20 minutes, so sends always increase.
- A first window on a day off moves to the next send day at the same wall-clock times; one that
  reaches into a send day begins there at midnight instead, and one that would run past midnight
  into a day off is cut at that midnight. No send lands on a day off.
- Every datetime returned is in the campaign's zone and is a real local time (the right fold).
  Compare them through UTC: Python compares two datetimes of the same zone by wall clock alone.
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
_SECOND = timedelta(seconds=1)
_LAST_SECOND = time(23, 59, 59)


class Preference(str, Enum):
    STARTED = "started"
    SPECIFIC = "specific"
    BEST = "best"


@dataclass(frozen=True)
class Window:
    start: datetime  # aware; in the campaign's zone
    end: datetime

    def pick(self, rng: random.Random) -> datetime:
        """A whole second inside the window (both ends included), in the window's zone."""
        start = _utc(self.start)
        if start.microsecond:
            start += timedelta(microseconds=1_000_000 - start.microsecond)
        seconds = int((_utc(self.end) - start).total_seconds())
        return (start + timedelta(seconds=rng.randint(0, max(seconds, 0)))).astimezone(self.start.tzinfo)


@dataclass(frozen=True)
class Calendar:
    """Which local days may carry sends."""

    send_days: frozenset[int] = ALL_DAYS
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.send_days:
            raise ValueError("at least one send day is needed")
        if not self.send_days <= ALL_DAYS:
            raise ValueError("send days are 0 (Monday) to 6 (Sunday)")

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
    """The aware datetime for a wall-clock time (its first occurrence where the clock falls back);
    inside a DST gap, the first minute after it."""
    naive = datetime.combine(day, at).replace(fold=0)
    if _exists(naive, zone):
        return naive.replace(tzinfo=zone)
    minute = naive.replace(second=0, microsecond=0)
    for _ in range(24 * 60):  # gaps are at most a few hours (a day, once, in Samoa)
        minute += timedelta(minutes=1)
        if _exists(minute, zone):
            return minute.replace(tzinfo=zone)
    raise ValueError(f"no existing time near {naive} in {zone}")  # pragma: no cover


def _exists(naive: datetime, zone: ZoneInfo, fold: int = 0) -> bool:
    aware = naive.replace(tzinfo=zone, fold=fold)
    return aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == naive


def _occurrences(naive: datetime, zone: ZoneInfo) -> list[datetime]:
    """Each moment the wall clock shows `naive` (two where it falls back), or the first after a gap."""
    first = wall(naive.date(), naive.time(), zone)
    second = naive.replace(tzinfo=zone, fold=1)
    if _exists(naive, zone, fold=1) and second.utcoffset() != first.utcoffset():
        return [first, _local(second, zone)]
    return [first]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The same instant as a real local time in `zone` (right fold, never inside a gap)."""
    return _utc(moment).astimezone(zone)


def _later(moment: datetime, elapsed: timedelta, zone: ZoneInfo) -> datetime:
    return _local(_utc(moment) + elapsed, zone)


def _latest(*moments: datetime) -> datetime:
    return max(moments, key=_utc)


def _wall_window(a: datetime, b: datetime, zone: ZoneInfo, *, start: datetime | None = None) -> Window:
    """The window between naive wall times a ≤ b: wall-clock bounds, never shorter in real time
    than on the wall clock. `start` picks one occurrence of `a` where the clock falls back."""
    begin = _local(start if start is not None else wall(a.date(), a.time(), zone), zone)
    end = _latest(_local(wall(b.date(), b.time(), zone), zone), _later(begin, b - a, zone))
    return Window(begin, end)


def _after(earliest: datetime, zone: ZoneInfo) -> Window:
    return Window(earliest, _later(earliest, SPREAD, zone))


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return _local(wall(day, time(0, 0), zone), zone)


def _day_end(day: date, zone: ZoneInfo) -> datetime:
    """The last whole second of a local day."""
    return _later(wall(day + timedelta(days=1), time(0, 0), zone), -_SECOND, zone)


def first_window(
    preference: Preference,
    zone: ZoneInfo,
    started: datetime,
    *,
    specific: time | None = None,
    calendar: Calendar = Calendar(),
) -> Window:
    """The window of step 1. `started` is the aware moment the recruiter pressed Start."""
    local = _local(started, zone)
    earliest = _later(local, GRACE, zone)
    if earliest.microsecond:  # windows begin on a whole second, never before the grace ends
        earliest = _later(earliest, timedelta(microseconds=1_000_000 - earliest.microsecond), zone)
    if preference is Preference.STARTED:
        window = _after(earliest, zone)
    elif preference is Preference.SPECIFIC:
        if specific is None:
            raise ValueError("a specific time is needed for the 'specific' preference")
        window = _specific_window(local.date(), specific, earliest, zone)
    else:
        window = _best_first_window(local, earliest, zone)
    if _utc(window.start) < _utc(earliest):  # a zone whose clock jumps far enough inside the grace
        window = Window(earliest, _latest(window.end, _later(earliest, SPREAD, zone)))
    return _on_send_day(window, zone, calendar)


def _specific_window(day: date, at: time, earliest: datetime, zone: ZoneInfo) -> Window:
    for _ in range(4):  # today, or tomorrow; the day after when T is just after midnight
        naive = datetime.combine(day, at)
        for moment in _occurrences(naive, zone):
            if _utc(moment) >= _utc(earliest):
                return _wall_window(naive, naive + SPREAD, zone, start=moment)
        day += timedelta(days=1)
    raise ValueError(f"no day on which {at} comes after {earliest}")  # pragma: no cover


def _best_first_window(local: datetime, earliest: datetime, zone: ZoneInfo) -> Window:
    t = local.time()
    if t >= time(19, 0) or t < time(6, 0):  # overnight: next morning, or this morning after midnight
        day = local.date() if t < time(6, 0) else local.date() + timedelta(days=1)
        seven = datetime.combine(day, BEST_OVERNIGHT_SEND)
        return _wall_window(seven, seven + SPREAD, zone)
    if t < time(10, 0):  # morning: as "when started"
        return _after(earliest, zone)
    four_pm = datetime.combine(local.date(), BEST_DAY_SEND)  # day: 16:00, or 20 minutes after Start
    window = _wall_window(four_pm, four_pm + SPREAD, zone)
    return window if _utc(window.start) >= _utc(earliest) else _after(earliest, zone)


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
    """The window of a later step, `delay_days` after the previous step's local day (or the next
    send day after that), cut at that day's midnights."""
    if delay_days < 0:
        raise ValueError("a step's delay cannot be negative")
    previous = _local(previous_send, zone)
    day = calendar.next_send_day(previous.date() + timedelta(days=delay_days))
    if preference is Preference.BEST and _is_day_start(started.astimezone(zone).time()):
        a, b = datetime.combine(day, BEST_LATER_FROM), datetime.combine(day, BEST_LATER_TO)
    else:
        # astimezone leaves a time already in `zone` as it is: its wall time, even one in a gap
        centre = datetime.combine(day, first_send.astimezone(zone).time())
        a = max(centre - SPREAD, datetime.combine(day, time(0, 0)))
        b = min(centre + SPREAD, datetime.combine(day, _LAST_SECOND))
    window = _wall_window(a, b, zone)
    if _utc(window.start) <= _utc(previous):  # a zero-day delay never goes before the step it follows
        begin = _later(previous, timedelta(minutes=1), zone)
        window = _on_send_day(Window(begin, _latest(window.end, _later(begin, SPREAD, zone))), zone, calendar)
    return window


def _is_day_start(t: time) -> bool:
    return time(10, 0) <= t < time(19, 0)


def _on_send_day(window: Window, zone: ZoneInfo, calendar: Calendar) -> Window:
    """Keep a window to send days: on a day off it moves to the next send day at the same
    wall-clock times (or begins at that day's midnight if it reaches it), and it never runs past
    midnight into a day off."""
    start, end = _local(window.start, zone), _local(window.end, zone)
    if not calendar.is_send_day(start.date()):
        day = calendar.next_send_day(start.date())
        if end.date() >= day:
            start = _day_start(day, zone)
        else:
            start, end = _move(start, end, day - start.date(), zone)
    last = start.date()
    while last < end.date() and calendar.is_send_day(last + timedelta(days=1)):
        last += timedelta(days=1)
    if last < end.date():
        end = _day_end(last, zone)
    return Window(start, end)


def _move(start: datetime, end: datetime, days: timedelta, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A window `days` later at the same wall-clock times."""
    a = start.replace(tzinfo=None) + days
    b = end.replace(tzinfo=None) + days
    if b <= a:  # an elapsed window across a fall-back ends before it starts on the wall clock
        b = a + (_utc(end) - _utc(start))
    moved = _wall_window(a, b, zone)
    return moved.start, moved.end


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


def next_open_window(window: Window, zone: ZoneInfo, *, after: datetime, calendar: Calendar = Calendar()) -> Window:
    """A planned window that cannot be used (its mailbox is held, by the daily cap, until `after`
    and the window ends by then) moved to the next allowed one: the same wall-clock times on the
    first send day where at least SPREAD of it (or all of it, if narrower) is left after `after`,
    starting no sooner than `after`. The caller picks a time inside, so held sends spread over the
    window instead of leaving in a burst at its opening.

    >>> z = ZoneInfo("America/New_York")
    >>> fri = Window(datetime(2026, 12, 4, 17, 20, tzinfo=z), datetime(2026, 12, 4, 18, 0, tzinfo=z))
    >>> weekdays = Calendar(frozenset(range(5)))
    >>> moved = next_open_window(fri, z, after=datetime(2026, 12, 5, 9, 0, tzinfo=z), calendar=weekdays)
    >>> f"{moved.start:%a %H:%M}–{moved.end:%H:%M}"
    'Mon 17:20–18:00'
    >>> moved = next_open_window(fri, z, after=datetime(2026, 12, 7, 17, 30, tzinfo=z), calendar=weekdays)
    >>> f"{moved.start:%a %H:%M}–{moved.end:%H:%M}"
    'Mon 17:30–18:00'
    >>> moved = next_open_window(fri, z, after=datetime(2026, 12, 7, 17, 50, tzinfo=z), calendar=weekdays)
    >>> f"{moved.start:%a %H:%M}–{moved.end:%H:%M}"
    'Tue 17:20–18:00'
    """
    start, end = _local(window.start, zone), _local(window.end, zone)
    need = min(SPREAD, _utc(end) - _utc(start))
    begin = _local(after, zone)
    days = max((begin.date() - start.date()).days, 0)
    for _ in range(366 + 7):  # bounded as Calendar.next_send_day is
        a, b = _move(start, end, timedelta(days=days), zone) if days else (start, end)
        days += 1
        if not calendar.is_send_day(a.date()):
            continue
        a = _latest(a, begin)
        if _utc(b) - _utc(a) >= need:
            return Window(a, b)
    raise ValueError("no send day within a year: check the send days and holidays")
