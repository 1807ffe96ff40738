"""The period of `/outreach stats … [period]`, read from what the person typed: a pure function of
the words, the time now and their time zone (months and days begin at their midnight).

    ""                 since the first send          "7d", "30 days"  the last N days (1 to 3650)
    "this month"       from the 1st, to now          "last month"     the whole previous month
    "2026-11"          that month (to now if current) "since 2026-11-01"  from that day, to now
    "all"              since the first send
A month or day still to come, or anything else, is a UserError saying what to write."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UserError

MAX_DAYS = 3650
HOW = ("Write the period as `7d`, `30d`, `90d`, `this month`, `last month`, a month such as `2026-11`, "
       "`since 2026-11-01`, or nothing for everything since the first send.")
DAYS = re.compile(r"^(\d{1,5})\s*(?:d|days?)$")
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
SINCE = re.compile(r"^since\s+(\d{4})-(\d{1,2})-(\d{1,2})$")
# The end of a command's text that is meant as a period (read or refused), not as part of a name.
TAIL = re.compile(r"(?:^|\s)((?:this|last)\s+month|since\s+\S+|\d{4}-\d{1,2}|\d{1,5}\s*(?:d|days?)|all)\s*$",
                  re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    since: datetime | None  # None: since the first send
    until: datetime
    label: str  # as shown: "the last 30 days", "November 2026", "since Sun 1 Nov 2026"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _month(year: int, month: int, *, now: datetime, zone: ZoneInfo) -> Period:
    start = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    if _midnight(start, zone) > now:
        raise UserError(f"{start:%B %Y} has not begun yet. " + HOW)
    end = min(_midnight(following, zone) - timedelta(microseconds=1), now)
    return Period(_midnight(start, zone), end, f"{start:%B %Y}")


def parse_period(text: str, *, now: datetime, zone: ZoneInfo) -> Period:
    """What the words mean, `now` being the end of every period that has not ended yet."""
    words = " ".join(text.lower().split())
    local = now.astimezone(zone)
    if words in ("", "all", "all time", "ever"):
        return Period(None, now, "since the first send")
    if found := DAYS.match(words):
        days = int(found.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise UserError(f"Count 1 to {MAX_DAYS} days, not {days}. " + HOW)
        return Period(now - timedelta(days=days), now, "the last day" if days == 1 else f"the last {days} days")
    if words == "this month":
        return _month(local.year, local.month, now=now, zone=zone)
    if words == "last month":
        return _month(local.year - (local.month == 1), (local.month - 2) % 12 + 1, now=now, zone=zone)
    if found := MONTH.match(words):
        year, month = int(found.group(1)), int(found.group(2))
        if not 1 <= month <= 12 or year < 2000:
            raise UserError(f"`{words}` is no month. " + HOW)
        return _month(year, month, now=now, zone=zone)
    if found := SINCE.match(words):
        try:
            day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError:
            raise UserError(f"`{words[6:]}` is no date. " + HOW) from None
        if _midnight(day, zone) > now:
            raise UserError(f"{day:%a} {day.day} {day:%b %Y} is still to come. " + HOW)
        return Period(_midnight(day, zone), now, f"since {day:%a} {day.day} {day:%b %Y}")
    raise UserError(f"I can't read `{words[:40]}` as a period. " + HOW)


def split_period(args: str) -> tuple[str, str]:
    """(what the results are of, the period's words): the period is the end of the text when it looks
    like one (`30d`, `last month`, `since …`, `2026-11`), so it is read, or refused with what to write."""
    found = TAIL.search(args.strip())
    if found is None:
        return args.strip(), ""
    return args.strip()[:found.start(1)].strip(), found.group(1)
