"""`outreach plan`: the When-to-send table as a command. Windows below are worked out by hand from
SPEC's table; the send times are what seed 0 picks inside them (pinned: the same seed gives the
same output)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

NY = ["--tz", "America/New_York"]


def plan(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    code = main(["plan", *args])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    return json.loads(out)


def step(n: int, send_at: str, window_start: str, window_end: str) -> dict[str, Any]:
    return {"step": n, "send_at": send_at, "window_start": window_start, "window_end": window_end}


def wall(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=None)


def assert_around_first_send(rows: list[dict[str, Any]]) -> None:
    """Later steps: the first send's wall-clock time of day, ±20 minutes."""
    first = wall(rows[0]["send_at"]).time()
    for row in rows[1:]:
        centre = datetime.combine(wall(row["window_start"]).date(), first)
        assert wall(row["window_start"]) == centre - timedelta(minutes=20)
        assert wall(row["window_end"]) == centre + timedelta(minutes=20)


# --- each preference ------------------------------------------------------------------------------

def test_when_started_first_window_is_20_to_40_minutes_after_start_then_same_time_two_days_later(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert plan(capsys, "--preference", "started", *NY, "--start", "2026-11-23T09:00", "--delays", "2") == [
        step(1, "2026-11-23T09:33:08-05:00", "2026-11-23T09:20:00-05:00", "2026-11-23T09:40:00-05:00"),
        step(2, "2026-11-25T09:41:50-05:00", "2026-11-25T09:13:08-05:00", "2026-11-25T09:53:08-05:00"),
    ]


def test_best_time_started_during_the_day_sends_at_four_then_between_seven_and_nine(
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = plan(capsys, "--preference", "best", "--tz", "Europe/Paris", "--start", "2026-11-23T12:00",
                "--delays", "1,3")
    assert rows == [
        step(1, "2026-11-23T16:13:08+01:00", "2026-11-23T16:00:00+01:00", "2026-11-23T16:20:00+01:00"),
        step(2, "2026-11-24T08:43:29+01:00", "2026-11-24T07:00:00+01:00", "2026-11-24T09:00:00+01:00"),
        step(3, "2026-11-27T07:57:25+01:00", "2026-11-27T07:00:00+01:00", "2026-11-27T09:00:00+01:00"),
    ]


@pytest.mark.parametrize(("start", "window_start", "window_end"), [
    ("2026-11-23T22:00", "2026-11-24T07:00:00-05:00", "2026-11-24T07:20:00-05:00"),  # overnight: next morning
    ("2026-11-23T05:59", "2026-11-23T07:00:00-05:00", "2026-11-23T07:20:00-05:00"),  # after midnight: this morning
    ("2026-11-23T06:00", "2026-11-23T06:20:00-05:00", "2026-11-23T06:40:00-05:00"),  # morning: as "when started"
    ("2026-11-23T10:00", "2026-11-23T16:00:00-05:00", "2026-11-23T16:20:00-05:00"),  # day: 16:00
    ("2026-11-23T15:50", "2026-11-23T16:10:00-05:00", "2026-11-23T16:30:00-05:00"),  # … or Start + 20 if later
    ("2026-11-23T19:00", "2026-11-24T07:00:00-05:00", "2026-11-24T07:20:00-05:00"),
])
def test_best_time_first_window_per_start_bucket(capsys: pytest.CaptureFixture[str], start: str,
                                                 window_start: str, window_end: str) -> None:
    [first] = plan(capsys, "--preference", "best", *NY, "--start", start)
    assert (first["window_start"], first["window_end"]) == (window_start, window_end)
    assert window_start <= first["send_at"] <= window_end  # same day and offset: text order is time order


def test_specific_time_only_15_minutes_after_start_waits_for_tomorrow(capsys: pytest.CaptureFixture[str]) -> None:
    rows = plan(capsys, "--preference", "specific", "--at", "09:30", "--tz", "Asia/Kolkata",
                "--start", "2026-11-23T09:15", "--delays", "1")
    assert rows == [
        step(1, "2026-11-24T09:43:08+05:30", "2026-11-24T09:30:00+05:30", "2026-11-24T09:50:00+05:30"),
        step(2, "2026-11-25T09:51:50+05:30", "2026-11-25T09:23:08+05:30", "2026-11-25T10:03:08+05:30"),
    ]
    assert_around_first_send(rows)


def test_specific_time_at_least_20_minutes_after_start_is_today(capsys: pytest.CaptureFixture[str]) -> None:
    [first] = plan(capsys, "--preference", "specific", "--at", "09:30", *NY, "--start", "2026-11-23T09:10")
    assert (first["window_start"], first["window_end"]) == ("2026-11-23T09:30:00-05:00", "2026-11-23T09:50:00-05:00")


# --- determinism ---------------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_output_and_the_default_seed_is_zero(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--preference", "started", *NY, "--start", "2026-11-23T09:00", "--delays", "1,2,3"]
    once = plan(capsys, *args, "--seed", "42")
    assert plan(capsys, *args, "--seed", "42") == once
    assert plan(capsys, *args, "--seed", "43") != once
    assert plan(capsys, *args) == plan(capsys, *args, "--seed", "0")


# --- daylight saving -----------------------------------------------------------------------------

def test_a_best_time_morning_send_keeps_its_wall_clock_time_across_the_spring_change(
        capsys: pytest.CaptureFixture[str]) -> None:
    """New York moves its clocks forward on Sunday 2026-03-08: the 07:13 send stays about 07:13."""
    rows = plan(capsys, "--preference", "best", *NY, "--start", "2026-03-06T22:00", "--delays", "1,1")
    assert rows == [
        step(1, "2026-03-07T07:13:08-05:00", "2026-03-07T07:00:00-05:00", "2026-03-07T07:20:00-05:00"),
        step(2, "2026-03-08T07:21:50-04:00", "2026-03-08T06:53:08-04:00", "2026-03-08T07:33:08-04:00"),
        step(3, "2026-03-09T06:55:53-04:00", "2026-03-09T06:53:08-04:00", "2026-03-09T07:33:08-04:00"),
    ]
    assert_around_first_send(rows)


def test_a_start_in_the_spring_gap_moves_to_the_first_minute_that_exists(capsys: pytest.CaptureFixture[str]) -> None:
    [first] = plan(capsys, "--preference", "started", *NY, "--start", "2026-03-08T02:30")  # 02:30 never happens
    assert (first["window_start"], first["window_end"]) == ("2026-03-08T03:20:00-04:00", "2026-03-08T03:40:00-04:00")


def test_a_specific_time_in_the_spring_gap_starts_at_the_first_minute_after_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = plan(capsys, "--preference", "specific", "--at", "02:10", *NY, "--start", "2026-03-07T23:00",
                "--delays", "1")
    assert rows[0]["window_start"] == "2026-03-08T03:00:00-04:00"
    assert rows[0]["window_end"] == "2026-03-08T03:20:00-04:00"  # still 20 minutes wide
    assert_around_first_send(rows)


def test_a_start_in_the_repeated_hour_is_the_first_one_and_its_window_is_20_elapsed_minutes(
        capsys: pytest.CaptureFixture[str]) -> None:
    [first] = plan(capsys, "--preference", "started", *NY, "--start", "2026-11-01T01:30")
    assert first == step(1, "2026-11-01T01:03:08-05:00", "2026-11-01T01:50:00-04:00", "2026-11-01T01:10:00-05:00")
    start, end = (datetime.fromisoformat(first[k]) for k in ("window_start", "window_end"))
    assert end - start == timedelta(minutes=20)  # aware, different offsets: elapsed time


# --- send days and holidays ----------------------------------------------------------------------

def test_a_step_on_a_weekend_and_then_a_holiday_moves_to_the_next_send_day(capsys: pytest.CaptureFixture[str]) -> None:
    rows = plan(capsys, "--preference", "started", *NY, "--start", "2026-11-27T10:00", "--delays", "1",
                "--send-days", "01234", "--holidays", "2026-11-30")
    assert rows == [  # Friday; one day later is Saturday → Monday is a holiday → Tuesday
        step(1, "2026-11-27T10:33:08-05:00", "2026-11-27T10:20:00-05:00", "2026-11-27T10:40:00-05:00"),
        step(2, "2026-12-01T10:41:50-05:00", "2026-12-01T10:13:08-05:00", "2026-12-01T10:53:08-05:00"),
    ]


def test_started_on_a_day_off_the_first_message_waits_for_the_next_send_day_at_the_same_time(
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = plan(capsys, "--preference", "started", *NY, "--start", "2026-11-28T10:00", "--send-days", "01234",
                "--holidays", "2026-12-25,2027-01-01", "--delays", "0")
    assert rows[0]["window_start"] == "2026-11-30T10:20:00-05:00"  # Saturday → Monday, same wall time
    assert rows[0]["window_end"] == "2026-11-30T10:40:00-05:00"
    assert rows[0]["send_at"] < rows[1]["window_start"] <= rows[1]["send_at"]  # zero-day delay: after it
    assert rows[1]["send_at"].startswith("2026-11-30T")


# --- bad input -----------------------------------------------------------------------------------

GOOD = {"--preference": "started", "--tz": "America/New_York", "--start": "2026-11-23T09:00"}


def argv(**changes: str | None) -> list[str]:
    options = dict(GOOD)
    for key, value in changes.items():
        options[f"--{key.replace('_', '-')}"] = value
    return ["plan", *(part for k, v in options.items() if v is not None for part in (k, v))]


@pytest.mark.parametrize(("args", "option", "says"), [
    (argv(tz="Mars/Base"), "--tz",
     "outreach plan: --tz: unknown time zone 'Mars/Base'; expected an IANA name such as Europe/Paris"),
    (argv(tz="../../etc/passwd"), "--tz", "unknown time zone"),
    (argv(tz=None), "--tz", "missing"),
    (argv(start=None), "--start", "missing"),
    (argv(preference=None), "--preference", "missing"),
    (argv(preference="sometimes"), "--preference", "expected one of started, specific, best"),
    (argv(start="2026-11-23 09:00"), "--start", "expected YYYY-MM-DDTHH:MM"),
    (argv(start="2026-11-23"), "--start", "expected YYYY-MM-DDTHH:MM"),
    (argv(start="2026-02-30T09:00"), "--start", "not a real date and time"),
    (argv(start="2026-11-23T24:00"), "--start", "not a real date and time"),
    (argv(preference="specific"), "--at", "needs the time of day"),
    (argv(at="09:30"), "--at", "only goes with --preference specific"),
    (argv(preference="specific", at="9:30"), "--at", "expected HH:MM"),
    (argv(preference="specific", at="24:00"), "--at", "expected HH:MM"),
    (argv(delays="1,-2"), "--delays", "-2 is negative"),
    (argv(delays="1.5"), "--delays", "not a whole number of days"),
    (argv(delays="2,,3"), "--delays", "not a whole number of days"),
    (argv(delays="400"), "--delays", "more than a year"),
    (argv(seed="abc"), "--seed", "expected an integer"),
    (argv(send_days="0127"), "--send-days", "other than 0-6"),
    (argv(send_days="mon"), "--send-days", "other than 0-6"),
    (argv(send_days=""), "--send-days", "no days given"),
    (argv(send_days="001"), "--send-days", "names a day twice"),
    (argv(holidays="2026-13-01"), "--holidays", "not a real date"),
    (argv(holidays="tomorrow"), "--holidays", "expected dates as YYYY-MM-DD"),
    # errors argparse itself finds come out as one line too
    (["plan", "--preference", "started", "--start", "2026-11-23T09:00", "--tz"], "--tz", "missing its value"),
    (argv(delays="-1,2"), "--delays", "--delays=VALUE when VALUE starts with '-'"),
    ([*argv(), "--bogus", "1"], "--bogus", "unknown argument; expected only --preference"),
    ([*argv(), "--pref", "best"], "--pref", "unknown argument"),  # no abbreviations
    (["plan", "stray"], "stray", "unknown argument"),
])
def test_bad_input_exits_2_with_one_line_naming_the_argument(
        capsys: pytest.CaptureFixture[str], args: list[str], option: str, says: str) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"outreach plan: {option}: ") and says in err, err


def test_the_same_delays_with_a_negative_value_written_with_equals_is_checked_by_us(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv(), "--delays=-1,2"]) == 2
    assert capsys.readouterr().err == (
        "outreach plan: --delays: -1 is negative; expected whole numbers of days from 0 to 365, "
        "comma-separated, such as 3,4,7\n")


def test_help_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--help"])
    assert exit_.value.code == 0
    assert "--preference {started,specific,best}" in capsys.readouterr().out


# --- the real entry point ------------------------------------------------------------------------

def test_python_m_bot_cli_plan_prints_json_and_fails_with_exit_2(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "plan", *args], env={"PATH": "/usr/bin:/bin"},
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    good = run("--preference", "best", "--tz", "Europe/Paris", "--start", "2026-11-23T12:00", "--delays", "1,3")
    assert good.returncode == 0, good.stderr
    assert [row["window_start"] for row in json.loads(good.stdout)] == [
        "2026-11-23T16:00:00+01:00", "2026-11-24T07:00:00+01:00", "2026-11-27T07:00:00+01:00"]
    bad = run("--preference", "best", "--tz", "Mars/Base", "--start", "2026-11-23T12:00")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.splitlines() == [
        "outreach plan: --tz: unknown time zone 'Mars/Base'; expected an IANA name such as Europe/Paris"]
