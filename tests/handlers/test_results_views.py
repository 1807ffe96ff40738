"""The results tables within Slack's limits (/work/shared/specs/slack_limits.json: 50 blocks a
message, 3,000 characters a section's text): ten steps, sixty steps, three hundred recruiters; and
times to reply as people say them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.local.slack import render_blocks
from bot.services.result_periods import Period
from bot.services.results import Results, StepResult
from handlers.views.results import COMPACT_STEPS, duration, results_blocks, stats_blocks

# api.slack.com/reference/block-kit/blocks: a message holds 50 blocks, a section's text 3,000 characters
LIMITS = {"message_blocks_max": 50, "section_text_max": 3000}
NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)


def _results(steps: int, *, tracked: bool = True) -> Results:
    each = [StepResult(n, 12_345, 123, 45, 678, 1_234 if tracked else None, 99 if tracked else None,
                       timedelta(days=2, hours=4)) for n in range(1, steps + 1)]
    total = StepResult(0, 12_345 * steps, 123 * steps, 45 * steps, 678 * steps, 1_234 * steps if tracked else None,
                       99 * steps if tracked else None, timedelta(days=2, hours=4))
    return Results(scope="A campaign with a long name " * 5, since=None, until=NOW, steps=tuple(each), total=total,
                   tracked=tracked)


def _within_limits(blocks: list) -> None:
    dicts = [b.to_dict() for b in blocks]  # slack_sdk validates each block's own limits here
    assert len(dicts) <= LIMITS["message_blocks_max"]
    for block in dicts:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= LIMITS["section_text_max"]


@pytest.mark.parametrize("steps", [1, 10, 60])
def test_many_steps_stay_within_slacks_limits(steps: int) -> None:
    results = _results(steps)
    command = stats_blocks(results, Period(None, NOW, "since the first send"))
    _within_limits(command)
    shown = render_blocks([b.to_dict() for b in command])
    assert f"Step {steps}" in shown and "1,234 (+99 machine)" in shown and "2 d 4 h" in shown
    message = results_blocks(results)
    _within_limits(message)
    compact = render_blocks([b.to_dict() for b in message])
    assert "Total" in compact and (f"Step {steps}" in compact) == (steps <= COMPACT_STEPS)
    if steps > COMPACT_STEPS:
        assert f"{steps - COMPACT_STEPS} more steps" in compact


def test_three_hundred_recruiters_stay_within_slacks_limits() -> None:
    people = [(f"Recruiter with a rather long name {n:03d}", StepResult(0, 100, 1, 2, 3)) for n in range(300)]
    blocks = stats_blocks(_results(3, tracked=False), Period(None, NOW, "since the first send"), recruiters=people)
    _within_limits(blocks)
    shown = render_blocks([b.to_dict() for b in blocks])
    assert "Opened" not in shown and "and 180 more recruiters" in shown


def test_nothing_sent_shows_no_results_section() -> None:
    empty = Results(scope="x", since=None, until=NOW, steps=(StepResult(1, 0, 0, 0, 0),),
                    total=StepResult(0, 0, 0, 0, 0))
    assert results_blocks(empty) == []
    assert "Nothing was sent" in render_blocks([b.to_dict() for b in stats_blocks(empty, Period(None, NOW, "x"))])


@pytest.mark.parametrize("wait, said", [
    (None, "–"), (timedelta(seconds=20), "< 1 min"), (timedelta(minutes=12), "12 min"), (timedelta(hours=3), "3 h"),
    (timedelta(hours=3, minutes=20), "3 h 20 min"), (timedelta(days=2, hours=4, minutes=59), "2 d 4 h"),
    (timedelta(days=1), "1 d"),
])
def test_a_time_to_reply_as_people_say_it(wait: timedelta | None, said: str) -> None:
    assert duration(wait) == said
