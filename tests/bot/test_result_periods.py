"""The period of `/outreach stats`, read from the words typed: a table of what each form means, in
the asker's time zone, and of what is refused (with what to write)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UserError
from bot.services.result_periods import HOW, parse_period, split_period

NOW = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)  # Saturday 5 December, 9:00 in New York
NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


@pytest.mark.parametrize("words, since, until, label", [
    ("", None, NOW, "since the first send"),
    ("all", None, NOW, "since the first send"),
    ("7d", NOW - timedelta(days=7), NOW, "the last 7 days"),
    ("30D", NOW - timedelta(days=30), NOW, "the last 30 days"),
    ("90 days", NOW - timedelta(days=90), NOW, "the last 90 days"),
    ("1d", NOW - timedelta(days=1), NOW, "the last day"),
    ("this month", ny(2026, 12, 1), NOW, "December 2026"),
    ("last  Month", ny(2026, 11, 1), ny(2026, 12, 1) - timedelta(microseconds=1), "November 2026"),
    ("2026-11", ny(2026, 11, 1), ny(2026, 12, 1) - timedelta(microseconds=1), "November 2026"),
    ("2026-2", ny(2026, 2, 1), ny(2026, 3, 1) - timedelta(microseconds=1), "February 2026"),
    ("2026-12", ny(2026, 12, 1), NOW, "December 2026"),  # the current month: to now
    ("since 2026-11-01", ny(2026, 11, 1), NOW, "since Sun 1 Nov 2026"),
])
def test_what_a_period_means(words: str, since: datetime | None, until: datetime, label: str) -> None:
    period = parse_period(words, now=NOW, zone=NY)
    assert (period.since, period.until, period.label) == (since, until, label)


def test_last_month_in_january_is_the_previous_december() -> None:
    period = parse_period("last month", now=datetime(2027, 1, 10, tzinfo=timezone.utc), zone=NY)
    assert period.since == ny(2026, 12, 1) and period.label == "December 2026"


@pytest.mark.parametrize("words, says", [
    ("0d", "Count 1 to 3650 days, not 0."),
    ("99999d", "Count 1 to 3650 days"),
    ("2026-13", "`2026-13` is no month."),
    ("2027-01", "January 2027 has not begun yet."),
    ("since 2026-02-30", "`2026-02-30` is no date."),
    ("since 2026-12-06", "Sun 6 Dec 2026 is still to come."),
    ("since yesterday", "I can't read `since yesterday` as a period."),
    ("last week", "I can't read `last week` as a period."),
])
def test_an_unreadable_period_says_what_to_write(words: str, says: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_period(words, now=NOW, zone=NY)
    assert refused.value.message.startswith(says) and refused.value.message.endswith(HOW)


@pytest.mark.parametrize("args, split", [
    ("", ("", "")),
    ("30d", ("", "30d")),
    ("Backend Q4", ("Backend Q4", "")),
    ("Backend Q4 30d", ("Backend Q4", "30d")),
    ("Backend Q4 last month", ("Backend Q4", "last month")),
    ("team since 2026-11-01", ("team", "since 2026-11-01")),
    ("<@U0RITA|rita> 2026-11", ("<@U0RITA|rita>", "2026-11")),
    ("team since yesterday", ("team", "since yesterday")),  # read, and refused with what to write
    ("Q4 plan", ("Q4 plan", "")),
])
def test_the_period_is_the_end_of_the_command(args: str, split: tuple[str, str]) -> None:
    assert split_period(args) == split
