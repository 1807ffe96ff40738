"""The results chart (issue 19 §2): a `Results` drawn as one PNG, for the campaign message and the
App Home. Pure: no queries, no Slack (handlers/result_charts.py uploads it).

Two panels in one image of WIDTH × HEIGHT pixels (1200 × 600 at 100 dpi): on the left a funnel per
step (for each step, horizontal bars for sent, opened where tracked, and replied, each labelled with
its count), on the right replies per day. Matplotlib's Agg backend through `Figure` objects, never
pyplot's global state, so charts may be drawn on several threads at once; each figure is freed when
drawn. The bytes are deterministic: the PNG carries no software or time metadata, so the same
numbers give the same bytes. `digest()` hashes the numbers (not the bytes), to skip charts whose
numbers did not change without drawing them.
"""
from __future__ import annotations

import hashlib
import io
import json

import matplotlib

matplotlib.use("Agg")  # no display, ever: the bot runs on servers

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bot.services.results import Results, StepResult  # noqa: E402

WIDTH, HEIGHT, DPI = 1200, 600, 100  # pixels; the PNG's IHDR says exactly this
DIGEST_VERSION = "1"  # bump when the drawing changes, so every chart is drawn again
_SENT, _OPENED, _REPLIED = "#9bb7d4", "#f2b25c", "#3c8d5a"


def digest(results: Results) -> str:
    """SHA-256 (hex, 64 characters) of what the chart shows: the title, each step's sent, opened
    and replied, and the replies per day. Equal digests draw equal charts."""
    shown = {
        "v": DIGEST_VERSION, "scope": results.scope, "tracked": results.tracked,
        "steps": [[s.position, s.sent, s.opened if results.tracked else None, s.replied] for s in results.steps],
        "days": [[day.isoformat(), count] for day, count in results.replies_by_day],
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def alt_text(results: Results) -> str:
    """What the chart says, in words, for the image block's alt_text (Slack: up to 2,000 characters)."""
    total = results.total
    if total.sent == 0:
        return f"Results chart for {results.scope}: nothing sent yet."
    parts = [f"Results chart for {results.scope}: {_counts(total, results.tracked)} in total"]
    parts += [f"step {s.position}: {_counts(s, results.tracked)}" for s in results.steps]
    days = sum(1 for _, count in results.replies_by_day if count)
    if days:
        parts.append(f"replies arrived on {days} day{'s' if days != 1 else ''}")
    text = "; ".join(parts) + "."
    return text if len(text) <= 2000 else text[:1999] + "…"


def _counts(step: StepResult, tracked: bool) -> str:
    opened = f", {step.opened} opened" if tracked and step.opened is not None else ""
    return f"{step.sent} sent{opened}, {step.replied} replied"


def draw(results: Results) -> bytes:
    """The chart as PNG bytes, WIDTH × HEIGHT pixels."""
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    try:
        FigureCanvasAgg(figure)
        funnel, by_day = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        figure.suptitle(_title(results), fontsize=14)
        _funnel(funnel, results)
        _replies_by_day(by_day, results)
        figure.subplots_adjust(left=0.08, right=0.97, top=0.86, bottom=0.14, wspace=0.25)
        out = io.BytesIO()
        # no "Software" text chunk and no time: the same numbers give the same bytes
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
        return out.getvalue()
    finally:
        figure.clear()


def _title(results: Results) -> str:
    scope = results.scope if len(results.scope) <= 60 else results.scope[:59] + "…"
    period = f"{results.since:%d %b %Y} – {results.until:%d %b %Y}" if results.since else f"to {results.until:%d %b %Y}"
    return f"{scope} · {period}"


def _funnel(ax, results: Results) -> None:  # type: ignore[no-untyped-def]
    ax.set_title("Per step: sent, opened, replied" if results.tracked else "Per step: sent and replied",
                 fontsize=11)
    steps = [s for s in results.steps if s.sent or s.replied]
    if not steps:
        _empty(ax, "Nothing sent yet")
        return
    bars = [("sent", _SENT, lambda s: s.sent)]
    if results.tracked:
        bars.append(("opened", _OPENED, lambda s: s.opened or 0))
    bars.append(("replied", _REPLIED, lambda s: s.replied))
    height = 0.8 / len(bars)
    top = max(s.sent for s in steps) or 1
    for i, (label, colour, value) in enumerate(bars):
        ys = [row + (i - (len(bars) - 1) / 2) * height for row in range(len(steps))]
        values = [value(s) for s in steps]
        drawn = ax.barh(ys, values, height=height * 0.95, color=colour, label=label)
        fontsize = 9 if len(steps) <= 5 else 7
        ax.bar_label(drawn, labels=[f"{v:,}" for v in values], padding=3, fontsize=fontsize)
    ax.set_yticks(range(len(steps)), [f"Step {s.position}" for s in steps], fontsize=9)
    ax.invert_yaxis()  # step 1 on top
    ax.set_xlim(0, top * 1.18)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)


def _replies_by_day(ax, results: Results) -> None:  # type: ignore[no-untyped-def]
    ax.set_title("Replies per day", fontsize=11)
    days = results.replies_by_day
    if not days or not any(count for _, count in days):
        _empty(ax, "No replies yet")
        return
    xs = list(range(len(days)))
    drawn = ax.bar(xs, [count for _, count in days], color=_REPLIED, width=0.8)
    if len(days) <= 31:
        ax.bar_label(drawn, labels=[f"{c:,}" if c else "" for _, c in days], padding=2, fontsize=7)
    every = max(1, len(days) // 8)  # at most about eight dates under the bars
    ticks = xs[::every]
    ax.set_xticks(ticks, [f"{days[i][0]:%d %b}" for i in ticks], fontsize=8, rotation=30, ha="right")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)


def _empty(ax, message: str) -> None:  # type: ignore[no-untyped-def]
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="#666666", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
