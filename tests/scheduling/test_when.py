"""SPEC's "When to send" table, row by row, in New York (the property tests over many zones and DST
days come with the send-engine issue)."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.rules.when import Calendar, Preference, first_window, later_window, plan, wall

NY = ZoneInfo("America/New_York")


def at(hh: int, mm: int, day: date = date(2026, 11, 23)) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NY)


def test_when_started_first_window_is_twenty_to_forty_minutes_after_start() -> None:
    w = first_window(Preference.STARTED, NY, at(13, 5))
    assert (w.start, w.end) == (at(13, 25), at(13, 45))


@pytest.mark.parametrize(("started", "expected"), [
    ((8, 0), at(9, 30)),            # T is at least 20 minutes away: today
    ((9, 15), at(9, 30, date(2026, 11, 24))),  # only 15 minutes before T: tomorrow
])
def test_specific_time_first_day_is_when_t_is_twenty_minutes_after_start(started: tuple[int, int], expected: datetime) -> None:
    w = first_window(Preference.SPECIFIC, NY, at(*started), specific=time(9, 30))
    assert (w.start, w.end) == (expected, expected + timedelta(minutes=20))


@pytest.mark.parametrize(("started", "window_start"), [
    ((19, 0), at(7, 0, date(2026, 11, 24))),   # overnight, evening: next morning
    ((2, 30), at(7, 0)),                        # overnight, after midnight: this morning
    ((5, 59), at(7, 0)),
    ((6, 0), at(6, 20)),                        # morning: as "when started"
    ((9, 59), at(10, 19)),
    ((10, 0), at(16, 0)),                       # day: 16:00 …
    ((15, 50), at(16, 10)),                     # … or 20 minutes after Start when later
    ((18, 59), at(19, 19)),
])
def test_best_time_first_window(started: tuple[int, int], window_start: datetime) -> None:
    w = first_window(Preference.BEST, NY, at(*started))
    assert w.start == window_start
    assert w.end == window_start + timedelta(minutes=20)


def test_later_steps_keep_the_first_message_time_of_day_plus_or_minus_twenty() -> None:
    first = at(13, 31)
    w = later_window(Preference.STARTED, NY, started=at(13, 5), first_send=first, previous_send=first, delay_days=3)
    assert (w.start, w.end) == (at(13, 11, date(2026, 11, 26)), at(13, 51, date(2026, 11, 26)))


def test_best_time_started_during_the_day_sends_later_steps_between_seven_and_nine() -> None:
    first = at(16, 5)
    w = later_window(Preference.BEST, NY, started=at(12, 0), first_send=first, previous_send=first, delay_days=2)
    assert (w.start, w.end) == (at(7, 0, date(2026, 11, 25)), at(9, 0, date(2026, 11, 25)))


def test_wall_clock_time_survives_dst_and_a_missing_time_moves_forward() -> None:
    before = at(7, 10, date(2026, 3, 7))
    w = later_window(Preference.STARTED, NY, started=before, first_send=before, previous_send=before, delay_days=2)
    assert w.start.astimezone(NY).time() == time(6, 50)  # still 06:50–07:30 wall time after the change
    assert w.start.utcoffset() != before.utcoffset()
    assert wall(date(2026, 3, 8), time(2, 30), NY) == datetime(2026, 3, 8, 3, 0, tzinfo=NY)


def test_a_step_on_a_day_off_moves_to_the_next_send_day_at_the_same_time() -> None:
    weekdays = Calendar(send_days=frozenset(range(5)), holidays=frozenset({date(2026, 11, 30)}))
    friday = at(10, 0, date(2026, 11, 27))
    w = later_window(Preference.STARTED, NY, started=friday, first_send=friday, previous_send=friday,
                     delay_days=1, calendar=weekdays)
    assert w.start == at(9, 40, date(2026, 12, 1))  # Saturday → Monday is a holiday → Tuesday


def test_same_seed_same_plan_and_sends_fall_inside_their_windows() -> None:
    one = plan(Preference.BEST, NY, at(12, 0), [1, 3], random.Random(5))
    two = plan(Preference.BEST, NY, at(12, 0), [1, 3], random.Random(5))
    assert one == two
    for step in one:
        assert step.window.start <= step.send_at <= step.window.end
