"""Properties of SPEC's "When to send" table over many zones, with start times that favour the days
the zones actually change their clocks (found by scanning utcoffset changes) and the minutes around
the gaps and folds. The rules for DST corners these tests hold are written at the top of
bot/rules/when.py.

Datetimes of one zone are compared through UTC: Python compares two datetimes that share a tzinfo
by wall clock alone, which is wrong across a fall-back."""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.rules.when import (
    GRACE,
    SPREAD,
    Calendar,
    PlannedStep,
    Preference,
    Window,
    first_window,
    later_window,
    plan,
    wall,
)

UTC = timezone.utc
ZONE_NAMES = [
    "UTC", "America/New_York", "America/Sao_Paulo", "America/St_Johns", "America/Santiago",
    "America/Havana", "Europe/London", "Europe/Berlin", "Europe/Dublin", "Africa/Casablanca",
    "Asia/Beirut", "Asia/Tehran", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide",
    "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Auckland", "Pacific/Apia",
]
SCAN_FROM, SCAN_TO = datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
INTERESTING = [  # bucket boundaries, 16:00 against Start + 20, midnight, the usual DST hours
    time(0, 0), time(0, 5), time(0, 30), time(1, 0), time(1, 30), time(1, 59, 59), time(2, 0), time(2, 30),
    time(2, 45), time(3, 0), time(5, 40), time(5, 59, 59), time(6, 0), time(6, 40), time(9, 59, 59),
    time(10, 0), time(15, 39, 59), time(15, 40), time(15, 40, 1), time(16, 0), time(18, 59, 59),
    time(19, 0), time(23, 0), time(23, 30), time(23, 40), time(23, 45), time(23, 59, 59),
]
NY = ZoneInfo("America/New_York")
WEEKDAYS = Calendar(frozenset(range(5)))
PROPERTIES = settings(max_examples=100, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])


# --- the zones' real clock changes ----------------------------------------------------------------

@functools.cache
def transitions(name: str) -> tuple[datetime, ...]:
    """Every UTC instant in 2025–2027 at which the zone's offset changes, to the second."""
    zone, found = ZoneInfo(name), []
    step = timedelta(hours=6)  # changes are weeks apart in every zone here
    moment, before = SCAN_FROM, SCAN_FROM.astimezone(zone).utcoffset()
    while moment < SCAN_TO:
        following = moment + step
        after = following.astimezone(zone).utcoffset()
        if after != before:
            lo, hi = int(moment.timestamp()), int(following.timestamp())
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            found.append(datetime.fromtimestamp(hi, UTC))
        moment, before = following, after
    return tuple(found)


def test_the_transition_scan_finds_the_real_changes() -> None:
    ny = transitions("America/New_York")
    assert datetime(2026, 3, 8, 7, tzinfo=UTC) in ny and datetime(2026, 11, 1, 6, tzinfo=UTC) in ny
    assert len(transitions("Australia/Lord_Howe")) == 6  # half-hour changes
    assert transitions("Asia/Kolkata") == () and transitions("UTC") == ()
    assert sum(bool(transitions(name)) for name in ZONE_NAMES) >= 12


# --- helpers --------------------------------------------------------------------------------------

def u(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def naive(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def exists(wall_time: datetime, zone: ZoneInfo, fold: int = 0) -> bool:
    aware = wall_time.replace(tzinfo=zone, fold=fold)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall_time


def is_real_local(moment: datetime, zone: ZoneInfo) -> bool:
    """In the zone, and the zone's own name for that instant (no time in a gap, the right fold)."""
    again = u(moment).astimezone(zone)
    return (moment.tzinfo is zone and moment.replace(tzinfo=None) == again.replace(tzinfo=None)
            and moment.utcoffset() == again.utcoffset())


def real_width(window: Window) -> timedelta:
    return u(window.end) - u(window.start)


def wall_width(window: Window, zone: ZoneInfo) -> timedelta:
    return naive(window.end, zone) - naive(window.start, zone)


def ceil_second(moment: datetime) -> datetime:
    return moment + timedelta(microseconds=(1_000_000 - moment.microsecond) % 1_000_000)


def assert_wall_window(window: Window, zone: ZoneInfo, nominal: timedelta) -> None:
    """A window set by wall-clock times: both widths at least nominal, the smaller one exactly it;
    with no clock change inside, both exactly it."""
    real, clock = real_width(window), wall_width(window, zone)
    assert real >= nominal and clock >= nominal and min(real, clock) == nominal, (real, clock)
    if window.start.utcoffset() == window.end.utcoffset():
        assert real == clock == nominal


def first_occurrence_after(day: date, at: time, zone: ZoneInfo, earliest: datetime) -> datetime:
    """The first moment on `day` or later that the wall clock shows `at` (or the first minute after
    a gap swallowing it) and that is not before `earliest`: specific time T, written out again."""
    for offset in range(4):
        moment = datetime.combine(day + timedelta(days=offset), at)
        candidates = [wall(moment.date(), at, zone)]
        second = moment.replace(tzinfo=zone, fold=1)
        if exists(moment, zone, fold=1) and second.utcoffset() != candidates[0].utcoffset():
            candidates.append(second)  # the clock falls back over T: its second time counts too
        for candidate in candidates:
            if u(candidate) >= u(earliest):
                return candidate
    raise AssertionError("no qualifying day")


# --- strategies -----------------------------------------------------------------------------------

zones = st.sampled_from(ZONE_NAMES).map(ZoneInfo)


@st.composite
def days(draw: st.DrawFn, zone: ZoneInfo) -> date:
    found = transitions(zone.key)
    if found and draw(st.integers(0, 3)):  # mostly a change day, or a few days before one
        change = u(draw(st.sampled_from(found))).astimezone(zone).date()
        return change - timedelta(days=draw(st.integers(0, 4)))
    return date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 3 * 365 - 1)))


@st.composite
def starts(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    """The moment Start was pressed: near a change, some days before one, at a telling wall time on
    a change day, or anywhere; in UTC or in the zone, sometimes with microseconds."""
    found = transitions(zone.key)
    kind = draw(st.sampled_from(["near", "before", "wall", "wall", "any"] if found else ["wall", "any"]))
    if kind == "near":
        moment = draw(st.sampled_from(found)) + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))
    elif kind == "before":
        moment = draw(st.sampled_from(found)) - timedelta(days=draw(st.integers(0, 4)),
                                                          seconds=draw(st.integers(-43200, 43200)))
    elif kind == "wall":
        clock = draw(st.one_of(st.sampled_from(INTERESTING), st.times()))
        local = datetime.combine(draw(days(zone)), clock).replace(tzinfo=zone, fold=draw(st.integers(0, 1)))
        moment = u(local)
    else:
        moment = SCAN_FROM + timedelta(seconds=draw(st.integers(0, 3 * 365 * 86400 - 1)))
    moment = u(moment).replace(microsecond=draw(st.sampled_from([0, 0, 0, 1, 500_000, 999_999])))
    return moment if draw(st.booleans()) else moment.astimezone(zone)


@st.composite
def specific_times(draw: st.DrawFn, zone: ZoneInfo, started: datetime) -> time:
    """T: at a change's wall times, just around Start + 20 minutes, at a telling time, or any."""
    found = transitions(zone.key)
    local = started.astimezone(zone)
    choices = ["grace", "interesting", "any"] + (["change", "change"] if found else [])
    kind = draw(st.sampled_from(choices))
    if kind == "change":
        change = draw(st.sampled_from(found))
        edge = draw(st.sampled_from([change - timedelta(seconds=1), change])).astimezone(zone)
        moment = edge.replace(tzinfo=None) + timedelta(minutes=draw(st.integers(-40, 40)))
    elif kind == "grace":
        moment = local.replace(tzinfo=None) + GRACE + timedelta(minutes=draw(st.integers(-2, 2)))
    elif kind == "interesting":
        moment = datetime.combine(date.min, draw(st.sampled_from(INTERESTING)))
    else:
        moment = datetime.combine(date.min, draw(st.times()))
    return moment.time().replace(second=0, microsecond=0)


@st.composite
def calendars(draw: st.DrawFn, around: date) -> Calendar:
    if not draw(st.integers(0, 2)):
        return Calendar()
    send_days = draw(st.one_of(st.just(frozenset(range(5))), st.frozensets(st.integers(0, 6), min_size=1)))
    offsets = draw(st.frozensets(st.integers(-1, 14), max_size=5))
    return Calendar(send_days, frozenset(around + timedelta(days=k) for k in offsets))


@dataclass(frozen=True)
class Case:
    zone: ZoneInfo
    started: datetime
    preference: Preference
    specific: time | None
    delays: list[int]
    calendar: Calendar
    seed: int

    def plan(self) -> list[PlannedStep]:
        return plan(self.preference, self.zone, self.started, self.delays, random.Random(self.seed),
                    specific=self.specific, calendar=self.calendar)

    def first_window(self, calendar: Calendar | None = None) -> Window:
        return first_window(self.preference, self.zone, self.started, specific=self.specific,
                            calendar=self.calendar if calendar is None else calendar)


@st.composite
def cases(draw: st.DrawFn, preference: Preference | None = None, with_calendar: bool = True) -> Case:
    zone = draw(zones)
    started = draw(starts(zone))
    chosen = preference if preference is not None else draw(st.sampled_from(list(Preference)))
    specific = draw(specific_times(zone, started)) if chosen is Preference.SPECIFIC else None
    delays = draw(st.lists(st.one_of(st.sampled_from([0, 1, 1, 2, 3]), st.integers(0, 9)), max_size=4))
    calendar = draw(calendars(started.astimezone(zone).date())) if with_calendar else Calendar()
    return Case(zone, started, chosen, specific, delays, calendar, draw(st.integers(0, 2**32)))


# --- wall ----------------------------------------------------------------------------------------

@PROPERTIES
@given(data=st.data())
def test_wall_is_that_wall_time_or_the_first_minute_after_a_gap(data: st.DataObject) -> None:
    zone = data.draw(zones)
    local = naive(data.draw(starts(zone)), zone).replace(microsecond=0)
    moment = wall(local.date(), local.time(), zone)
    assert exists(naive(moment, zone), zone)
    if exists(local, zone):
        assert naive(moment, zone) == local
        assert u(moment) <= u(local.replace(tzinfo=zone, fold=1))  # the first occurrence
    else:
        after = naive(moment, zone)
        assert after > local and after.second == 0
        missing = local.replace(second=0) + MINUTE
        while missing < after:
            assert not exists(missing, zone)
            missing += MINUTE


# --- every step, every preference ----------------------------------------------------------------

def _case(zone: str | ZoneInfo, started: datetime, preference: Preference, specific: time | None = None,
          delays: tuple[int, ...] = (), calendar: Calendar = Calendar()) -> Case:
    return Case(ZoneInfo(zone) if isinstance(zone, str) else zone, started, preference, specific,
                list(delays), calendar, 0)


# Examples each of which the first version of when.py got wrong:
FOUND = [
    # Start pressed in the repeated hour (the second 01:30): step 1 came 40 minutes BEFORE Start
    _case(NY, datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), Preference.STARTED),
    _case("Australia/Adelaide", datetime(2025, 4, 5, 16, 30, tzinfo=UTC), Preference.STARTED),
    # T in the spring-forward gap moved to 03:00, one second after Start: the grace was broken
    _case(NY, datetime(2025, 3, 9, 1, 59, 59, tzinfo=NY), Preference.SPECIFIC, time(2, 19)),
    # a window across the gap: the pick added wall-clock minutes and landed at a 02:49 that does
    # not exist, 49 minutes after the window's end
    _case(NY, datetime(2025, 3, 8, 12, 0, tzinfo=NY), Preference.SPECIFIC, time(1, 50)),
    # Friday 23:30, weekdays only: step 1 went out on Saturday at 00:09
    _case(NY, datetime(2026, 11, 20, 23, 30, tzinfo=NY), Preference.STARTED, calendar=WEEKDAYS),
    # ±20 minutes across midnight: "one day later" went out two calendar days later
    _case(NY, datetime(2026, 11, 23, 9, 0, tzinfo=NY), Preference.SPECIFIC, time(23, 45), (1, 1)),
]


def with_examples(test):  # type: ignore[no-untyped-def]
    for found in FOUND:
        test = example(case=found)(test)
    return test


@PROPERTIES
@given(case=cases())
@with_examples
def test_every_send_is_a_whole_second_inside_its_window_on_a_send_day_after_the_grace(case: Case) -> None:
    steps = case.plan()
    assert [s.step for s in steps] == list(range(1, len(case.delays) + 2))
    assert u(steps[0].window.start) >= u(case.started) + GRACE
    assert u(steps[0].send_at) >= u(case.started) + GRACE
    for step in steps:
        for moment in (step.window.start, step.window.end, step.send_at):
            assert is_real_local(moment, case.zone), moment
        assert u(step.window.start) <= u(step.send_at) <= u(step.window.end)
        assert step.send_at.microsecond == 0
        assert case.calendar.is_send_day(step.send_at.astimezone(case.zone).date())


@PROPERTIES
@given(case=cases())
@with_examples
def test_sends_strictly_increase_and_a_seed_gives_the_same_plan(case: Case) -> None:
    steps = case.plan()
    sends = [u(s.send_at) for s in steps]
    assert sends == sorted(sends) and len(set(sends)) == len(sends)

    def frozen(plan_: list[PlannedStep]) -> list[tuple[str, ...]]:  # isoformat keeps fold
        return [(s.window.start.isoformat(), s.window.end.isoformat(), s.send_at.isoformat()) for s in plan_]

    assert frozen(case.plan()) == frozen(steps)


# --- first message, row by row -------------------------------------------------------------------

def assert_twenty_minutes_after_start(window: Window, started: datetime) -> None:
    assert u(window.start) == ceil_second(u(started) + GRACE)
    assert real_width(window) == SPREAD


@PROPERTIES
@given(case=cases(Preference.STARTED, with_calendar=False))
def test_when_started_the_first_window_is_twenty_to_forty_elapsed_minutes_after_start(case: Case) -> None:
    assert_twenty_minutes_after_start(case.first_window(), case.started)


@PROPERTIES
@given(case=cases(Preference.SPECIFIC, with_calendar=False))
def test_specific_time_starts_at_t_on_the_first_day_it_is_twenty_minutes_after_start(case: Case) -> None:
    assert case.specific is not None
    window = case.first_window()
    local = case.started.astimezone(case.zone)
    expected = first_occurrence_after(local.date(), case.specific, case.zone, u(case.started) + GRACE)
    assert u(window.start) == u(expected)
    shown = naive(window.start, case.zone)
    if exists(datetime.combine(shown.date(), case.specific), case.zone):
        assert shown.time() == case.specific
    else:  # T fell in a gap: the first minute that exists after it
        assert window.start == wall(shown.date(), case.specific, case.zone)
    assert shown.date() - local.date() <= timedelta(days=2)
    assert_wall_window(window, case.zone, SPREAD)


@PROPERTIES
@given(case=cases(Preference.BEST, with_calendar=False))
def test_best_time_maps_each_start_bucket_to_its_first_window(case: Case) -> None:
    window = case.first_window()
    local = case.started.astimezone(case.zone)
    t, today = local.time(), local.date()
    if t >= time(19, 0) or t < time(6, 0):  # overnight: 07:00–07:20, this morning or the next
        morning = today if t < time(6, 0) else today + timedelta(days=1)
        assert naive(window.start, case.zone) == datetime.combine(morning, time(7, 0))
        assert_wall_window(window, case.zone, SPREAD)
    elif t < time(10, 0):  # morning: exactly as "when started"
        assert window == first_window(Preference.STARTED, case.zone, case.started)
        assert_twenty_minutes_after_start(window, case.started)
    else:  # day: 16:00, or 20 minutes after Start when that is later
        four_pm = wall(today, time(16, 0), case.zone)
        if u(four_pm) >= u(case.started) + GRACE:
            assert naive(window.start, case.zone) == datetime.combine(today, time(16, 0))
            assert_wall_window(window, case.zone, SPREAD)
        else:
            assert_twenty_minutes_after_start(window, case.started)


@PROPERTIES
@given(case=cases())
# Sunday, in the repeated hour: the 20 elapsed minutes end before they start on the wall clock
@example(case=Case(NY, datetime(2026, 11, 1, 5, 35, tzinfo=UTC), Preference.STARTED, None, [], WEEKDAYS, 0))
# Sunday 23:30: the window reaches Monday, so it begins at Monday's midnight
@example(case=Case(NY, datetime(2026, 11, 22, 23, 30, tzinfo=NY), Preference.STARTED, None, [], WEEKDAYS, 0))
# Friday 23:30: the window would run into Saturday, so it ends at Friday's last second
@example(case=Case(NY, datetime(2026, 11, 20, 23, 30, tzinfo=NY), Preference.STARTED, None, [], WEEKDAYS, 0))
def test_a_first_window_on_a_day_off_moves_to_the_next_send_day_at_the_same_wall_time(case: Case) -> None:
    free = case.first_window(Calendar())
    window = case.first_window()
    start_day = free.start.astimezone(case.zone).date()
    end_day = free.end.astimezone(case.zone).date()
    assert u(window.start) >= u(free.start)
    if all(case.calendar.is_send_day(start_day + timedelta(days=k)) for k in range((end_day - start_day).days + 1)):
        assert window == free and u(window.start) == u(free.start) and u(window.end) == u(free.end)
        return
    for edge in (window.start, window.end):
        assert case.calendar.is_send_day(edge.astimezone(case.zone).date())
    if case.calendar.is_send_day(start_day):  # it ran into a day off: cut at that midnight
        assert u(window.start) == u(free.start)
        assert u(window.end) == u(wall(start_day + timedelta(days=1), time(0, 0), case.zone)) - timedelta(seconds=1)
    else:
        send_day = case.calendar.next_send_day(start_day)
        assert window.start.astimezone(case.zone).date() == send_day
        moved = datetime.combine(send_day, naive(free.start, case.zone).time())
        if send_day > end_day and exists(moved, case.zone):
            assert naive(window.start, case.zone) == moved  # same wall time, the next send day
        elif send_day <= end_day:  # it reaches into the send day: from that day's first minute
            assert u(window.start) == u(wall(send_day, time(0, 0), case.zone))


# --- later steps ---------------------------------------------------------------------------------

@PROPERTIES
@given(case=cases())
@with_examples
def test_later_steps_land_on_previous_day_plus_delay_at_the_first_send_time_give_or_take_twenty(case: Case) -> None:
    zone = case.zone
    steps = case.plan()
    first_local = naive(steps[0].send_at, zone)
    day_start_rule = (case.preference is Preference.BEST
                      and time(10, 0) <= case.started.astimezone(zone).time() < time(19, 0))
    for previous, step, delay in zip(steps, steps[1:], case.delays):
        day = case.calendar.next_send_day(previous.send_at.astimezone(zone).date() + timedelta(days=delay))
        if day_start_rule:
            a, b = datetime.combine(day, time(7, 0)), datetime.combine(day, time(9, 0))
        else:
            centre = datetime.combine(day, first_local.time())
            a = max(centre - SPREAD, datetime.combine(day, time(0, 0)))
            b = min(centre + SPREAD, datetime.combine(day, time(23, 59, 59)))
        if u(wall(a.date(), a.time(), zone)) <= u(previous.send_at):
            # Zero-day delay and the time has passed: right after the step it follows.
            assert delay == 0
            assert u(step.send_at) >= u(previous.send_at) + MINUTE
            continue
        local = naive(step.send_at, zone)
        assert local.date() == day
        assert u(step.window.start) == u(wall(a.date(), a.time(), zone))
        assert_wall_window(step.window, zone, b - a)
        if exists(a, zone) and exists(b, zone) and step.window.start.utcoffset() == step.window.end.utcoffset():
            assert a <= local <= b and naive(step.window.end, zone) == b  # no clock change near


@PROPERTIES
@given(zone=zones, data=st.data())
def test_later_window_straight_from_the_first_send_keeps_its_wall_time(zone: ZoneInfo, data: st.DataObject) -> None:
    """later_window alone, with the first send anywhere (a gap's wall time given in the zone
    included): the step's day is the previous day + delay and its window is the first send's
    wall time ±20 minutes, cut at that day's midnights."""
    started = data.draw(starts(zone))
    first = datetime.combine(data.draw(days(zone)), data.draw(st.sampled_from(INTERESTING)).replace(second=0))
    first_send = first.replace(tzinfo=zone)  # possibly a wall time inside a gap: it still names the time
    previous = u(wall(first.date(), first.time(), zone))
    delay = data.draw(st.integers(1, 4))
    window = later_window(Preference.STARTED, zone, started=started, first_send=first_send,
                          previous_send=previous, delay_days=delay)
    day = previous.astimezone(zone).date() + timedelta(days=delay)
    centre = datetime.combine(day, first.time())
    a = max(centre - SPREAD, datetime.combine(day, time(0, 0)))
    b = min(centre + SPREAD, datetime.combine(day, time(23, 59, 59)))
    assert u(window.start) == u(wall(a.date(), a.time(), zone))
    assert_wall_window(window, zone, b - a)
    pick = window.pick(random.Random(data.draw(st.integers(0, 99))))
    assert naive(pick, zone).date() == day


@pytest.mark.parametrize("zone_name", ZONE_NAMES)
def test_a_window_across_each_real_change_holds_its_widths(zone_name: str) -> None:
    """Deterministic sweep: a specific-time T at every minute around each change of the zone."""
    zone = ZoneInfo(zone_name)
    for change in transitions(zone_name)[:2]:
        edge = (change - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        started = change - timedelta(hours=6)
        for minutes in range(-30, 75, 5):
            at = (edge + timedelta(minutes=minutes)).time().replace(second=0)
            window = first_window(Preference.SPECIFIC, zone, started, specific=at)
            assert u(window.start) == u(first_occurrence_after(
                started.astimezone(zone).date(), at, zone, started + GRACE))
            assert_wall_window(window, zone, SPREAD)
            send = window.pick(random.Random(minutes))
            assert u(window.start) <= u(send) <= u(window.end) and is_real_local(send, zone)
