"""`outreach plan`: print when each step of a campaign would go out, as JSON, without a database.

    outreach plan --preference {started,specific,best} [--at HH:MM] --tz ZONE
                  --start YYYY-MM-DDTHH:MM [--delays D2,D3,...] [--seed N]
                  [--send-days 0123456] [--holidays YYYY-MM-DD,...]

`--start` is a wall-clock time in ZONE (one that does not exist, in a spring-forward gap, moves
forward to the first minute that does; one that happens twice means the first time). Output: a JSON
array, one object per step, times in ZONE with their UTC offset. The same seed (default 0) gives
the same output. Any bad input ends with exit code 2 and one line on stderr that names the argument
and what it expects, including the errors argparse itself finds.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.command import Command

from bot.rules import when

PROG = "outreach plan"
EXIT_USAGE = 2
MAX_DELAY_DAYS = 365
_OPTIONS = ("--preference", "--at", "--tz", "--start", "--delays", "--seed", "--send-days", "--holidays")


class BadInput(Exception):
    """One argument is wrong; str() is the line to print after the program's name."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")


class _ArgumentError(Exception):
    pass


class _PlanParser(argparse.ArgumentParser):
    """argparse for this sub-command, whose own errors (a missing value, an unknown option) become
    one line and exit code 2 like every other bad input, instead of usage text."""

    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(message)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        try:
            parsed, extras = super().parse_known_args(args, namespace)
        except _ArgumentError as exc:
            return _failed(_argparse_line(str(exc))), []
        if extras:  # left to the top-level parser, they would come out as usage text
            return _failed(f"{extras[0]}: unknown argument; expected only {', '.join(_OPTIONS)}"), []
        return parsed, []


def _argparse_line(message: str) -> str:
    # "argument --tz: expected one argument" → "--tz: expected one argument; ..."
    line = message.removeprefix("argument ")
    option, _, problem = line.partition(": ")
    if problem == "expected one argument":
        return f"{option}: missing its value; expected {option} VALUE ({option}=VALUE when VALUE starts with '-')"
    return line


def _failed(line: str) -> argparse.Namespace:
    return argparse.Namespace(run=lambda args, settings: _report(line), no_settings=True)


def _report(line: str) -> int:
    print(f"{PROG}: {line}", file=sys.stderr)
    return EXIT_USAGE


def _arguments(parser: argparse.ArgumentParser) -> None:
    # Every value is read as text and checked by _options(), so each mistake gets its own one line.
    parser.add_argument("--preference", metavar="{started,specific,best}",
                        help="when to send: started (default rule), specific (needs --at) or best")
    parser.add_argument("--at", metavar="HH:MM", help="the time of day for --preference specific")
    parser.add_argument("--tz", metavar="ZONE", help="the campaign's IANA time zone, e.g. Europe/Paris")
    parser.add_argument("--start", metavar="YYYY-MM-DDTHH:MM", help="when Start is pressed, wall clock in ZONE")
    parser.add_argument("--delays", metavar="D2,D3,...", default="",
                        help="days after the previous step, for steps 2, 3, ... (default: one step only)")
    parser.add_argument("--seed", metavar="N", default="0", help="random seed (default 0)")
    parser.add_argument("--send-days", metavar="0123456", default="0123456",
                        help="weekdays that may carry sends, Monday=0 (default: all seven)")
    parser.add_argument("--holidays", metavar="YYYY-MM-DD,...", default="", help="dates that carry no sends")


def run(args: argparse.Namespace, settings: Any) -> int:
    try:
        options = _options(args)
        steps = _plan(**options)
    except BadInput as exc:
        return _report(str(exc))
    zone = options["zone"]
    rows = [{"step": s.step, "send_at": _iso(s.send_at, zone), "window_start": _iso(s.window.start, zone),
             "window_end": _iso(s.window.end, zone)} for s in steps]
    print(json.dumps(rows, indent=2))
    return 0


def _iso(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _plan(*, preference: when.Preference, zone: ZoneInfo, started: datetime, specific: time | None,
          delays: list[int], seed: int, calendar: when.Calendar) -> list[when.PlannedStep]:
    try:
        return when.plan(preference, zone, started, delays, random.Random(seed), specific=specific,
                         calendar=calendar)
    except OverflowError:
        raise BadInput("--delays", "the plan runs past the year 9999; expected a start and delays that end sooner")
    except ValueError as exc:  # only a calendar without a send day for a year gets here
        raise BadInput("--holidays", f"{exc}; expected fewer holidays") from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Check every argument, in the order they are listed, and stop at the first that is wrong."""
    preference = _preference(args.preference)
    if preference is when.Preference.SPECIFIC and args.at is None:
        raise BadInput("--at", "missing; --preference specific needs the time of day, as HH:MM such as 09:30")
    if preference is not when.Preference.SPECIFIC and args.at is not None:
        raise BadInput("--at", f"only goes with --preference specific, not {preference.value}; expected no --at")
    specific = _clock(args.at) if args.at is not None else None
    zone = _zone(args.tz)
    return {
        "preference": preference, "specific": specific, "zone": zone, "started": _start(args.start, zone),
        "delays": _delays(args.delays), "seed": _seed(args.seed),
        "calendar": when.Calendar(_send_days(args.send_days), _holidays(args.holidays)),
    }


def _preference(value: str | None) -> when.Preference:
    names = ", ".join(p.value for p in when.Preference)
    if value is None:
        raise BadInput("--preference", f"missing; expected one of {names}")
    try:
        return when.Preference(value)
    except ValueError:
        raise BadInput("--preference", f"unknown preference {value!r}; expected one of {names}") from None


def _clock(value: str) -> time:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise BadInput("--at", f"{value!r} is not a time of day; expected HH:MM (24-hour) such as 09:30")
    return time(int(value[:2]), int(value[3:]))


def _zone(value: str | None) -> ZoneInfo:
    expected = "expected an IANA name such as Europe/Paris"
    if value is None:
        raise BadInput("--tz", f"missing; {expected}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadInput("--tz", f"unknown time zone {value!r}; {expected}") from None


def _start(value: str | None, zone: ZoneInfo) -> datetime:
    expected = "expected YYYY-MM-DDTHH:MM, the wall-clock time in --tz, such as 2026-11-23T09:00"
    if value is None:
        raise BadInput("--start", f"missing; {expected}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        raise BadInput("--start", f"{value!r} is not a date and time; {expected}")
    try:
        local = datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise BadInput("--start", f"{value!r} is not a real date and time; {expected}") from None
    if not 1900 <= local.year <= 9000:
        raise BadInput("--start", f"{value!r} is out of range; expected a year from 1900 to 9000")
    return when.wall(local.date(), local.time(), zone)


def _delays(value: str) -> list[int]:
    expected = f"expected whole numbers of days from 0 to {MAX_DELAY_DAYS}, comma-separated, such as 3,4,7"
    if not value.strip():
        return []
    delays = []
    for item in value.split(","):
        item = item.strip()
        if re.fullmatch(r"-\d+", item):
            raise BadInput("--delays", f"{item} is negative; {expected}")
        if not re.fullmatch(r"\d+", item):
            raise BadInput("--delays", f"{item!r} is not a whole number of days; {expected}")
        if int(item) > MAX_DELAY_DAYS:
            raise BadInput("--delays", f"{item} is more than a year; {expected}")
        delays.append(int(item))
    return delays


def _seed(value: str) -> int:
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise BadInput("--seed", f"{value!r} is not a whole number; expected an integer such as 7")
    return int(value)


def _send_days(value: str) -> frozenset[int]:
    expected = "expected the weekday digits that may carry sends, Monday=0 to Sunday=6, such as 01234"
    if not value:
        raise BadInput("--send-days", f"no days given; {expected}")
    if not re.fullmatch(r"[0-6]+", value):
        raise BadInput("--send-days", f"{value!r} has characters other than 0-6; {expected}")
    if len(set(value)) != len(value):
        raise BadInput("--send-days", f"{value!r} names a day twice; {expected}")
    return frozenset(int(d) for d in value)


def _holidays(value: str) -> frozenset[date]:
    expected = "expected dates as YYYY-MM-DD, comma-separated, such as 2026-12-25,2027-01-01"
    holidays = set()
    for item in (i.strip() for i in value.split(",") if value.strip()):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", item):
            raise BadInput("--holidays", f"{item!r} is not a date; {expected}")
        try:
            holidays.add(date.fromisoformat(item))
        except ValueError:
            raise BadInput("--holidays", f"{item!r} is not a real date; {expected}") from None
    return frozenset(holidays)


COMMAND = Command(
    "plan", "print when each step would be sent (JSON), for a preference, zone and start", run, _arguments,
    needs_settings=False, parser_class=_PlanParser,
    parser={"description": "Print the send plan of a campaign's steps as JSON: step, send_at, window_start, "
                           "window_end, in the campaign's zone with UTC offsets.", "allow_abbrev": False})
