"""The results chart as an image (bot/services/result_chart.py): a real PNG of the stated size for
no data, a normal campaign and ten steps with large numbers; the same numbers give the same bytes and
digest; drawing is safe on several threads at once."""
from __future__ import annotations

import io
import struct
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest
from PIL import Image

from bot.services import result_chart
from bot.services.results import Results, StepResult

UNTIL = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)


def results(steps: int, *, scale: int = 1, tracked: bool = False, replies: int = 30) -> Results:
    rows = tuple(StepResult(n + 1, (40 - 3 * n) * scale, 0, 0, (5 + n) * scale, opened=(20 if tracked else None))
                 for n in range(steps))
    total = StepResult(0, sum(r.sent for r in rows), 0, 0, sum(r.replied for r in rows),
                       opened=(20 * steps if tracked else None))
    days = tuple((date(2026, 11, 1) + timedelta(days=d), d % 4) for d in range(replies if steps else 0))
    return Results("Platform Q2", None, UNTIL, rows, total, days, tracked)


def ihdr_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize("case", [results(0), results(3, tracked=True), results(10, scale=250_000)],
                         ids=["nothing-sent", "three-steps-tracked", "ten-steps-large-numbers"])
def test_the_chart_is_a_real_png_of_the_stated_size(case: Results) -> None:
    png = result_chart.draw(case)
    assert ihdr_size(png) == (result_chart.WIDTH, result_chart.HEIGHT) == (1200, 600)
    with Image.open(io.BytesIO(png)) as image:
        image.load()  # decodes every pixel: a truncated or corrupt file fails here
        assert (image.format, image.size) == ("PNG", (1200, 600))
        assert image.getextrema() != ((255, 255), (255, 255), (255, 255), (255, 255))  # something is drawn
        assert "Software" not in image.info and "Creation Time" not in image.info


def test_the_same_numbers_give_the_same_bytes_and_digest() -> None:
    a, b = results(3, tracked=True), results(3, tracked=True)
    assert result_chart.draw(a) == result_chart.draw(b)
    assert result_chart.digest(a) == result_chart.digest(b) and len(result_chart.digest(a)) == 64


def test_a_changed_number_changes_the_digest_and_the_picture() -> None:
    before = results(3)
    more = StepResult(1, before.steps[0].sent, 0, 0, before.steps[0].replied + 1)
    after = Results(before.scope, None, before.until, (more, *before.steps[1:]), before.total, before.replies_by_day)
    assert result_chart.digest(after) != result_chart.digest(before)
    assert result_chart.draw(after) != result_chart.draw(before)
    # what the chart does not show (bounces, the period's end) draws the same chart
    later = Results(before.scope, None, before.until + timedelta(hours=1), before.steps, before.total,
                    before.replies_by_day)
    assert result_chart.digest(later) == result_chart.digest(before)


def test_the_alt_text_says_the_numbers() -> None:
    assert result_chart.alt_text(results(0)) == "Results chart for Platform Q2: nothing sent yet."
    text = result_chart.alt_text(results(2, tracked=True))
    assert text.startswith("Results chart for Platform Q2: 77 sent, 40 opened, 11 replied in total; "
                           "step 1: 40 sent, 20 opened, 5 replied; step 2: 37 sent, 20 opened, 6 replied")
    assert len(result_chart.alt_text(results(10, scale=10**9))) <= 2000


def test_charts_drawn_on_several_threads_at_once_are_each_right() -> None:
    cases = [results(n) for n in (1, 2, 3, 4)]
    expected = [result_chart.draw(c) for c in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(result_chart.draw, cases * 2)) == expected * 2
