"""Results views: the per-step table of `/outreach stats` and of the campaign message's Results
section, and the admins' per-recruiter table. Pure Block Kit builders: a `Results` in, blocks out.

A table is preformatted text (monospace columns line up on every client) in section blocks of at
most SECTION_LIMIT characters (Slack: 3,000 per section text, 50 blocks per message), split by
whole lines; the campaign message shows at most COMPACT_STEPS steps, the command all of them."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.services.result_periods import Period
from bot.services.results import Results, StepResult
from bot.wording import counted

SECTION_LIMIT = 2_900  # Slack's section text is 3,000 characters; the fence and a title fit in the rest
COMPACT_STEPS = 12  # the campaign message's table: the first steps, then the total
RECRUITERS_SHOWN = 120  # the admins' table: a message holds 50 blocks, a block about 30 lines
HOME_RECRUITERS = 40  # on admins' App Home, which holds the rest of the Home tab too
NAME_WIDTH = 18
EXPLAINED = ("Sent: emails that went in the period. Bounced, out of office, replied: those sends answered so (once "
             "per send). Reply rate: replies per delivered send (sent − bounced). Median reply: from the send to "
             "its first reply.")


def duration(wait: timedelta | None) -> str:
    """A time to reply as people say it: "2 d 4 h", "3 h 20 min", "12 min"; "–" without one."""
    if wait is None:
        return "–"
    minutes = int(wait.total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "< 1 min"


def rate(step: StepResult) -> str:
    value = step.reply_rate
    return "–" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def opened(step: StepResult) -> str:
    """Opens by people, machine opens apart: "12 (+5 machine)"; "–" where the step was not tracked."""
    if step.opened is None:
        return "–"
    return f"{step.opened:,}" + (f" (+{step.machine_opened:,} machine)" if step.machine_opened else "")


def _row(label: str, step: StepResult, tracked: bool) -> list[str]:
    return [label, f"{step.sent:,}", f"{step.bounced:,}", f"{step.out_of_office:,}",
            *([opened(step)] if tracked else []), f"{step.replied:,}", rate(step), duration(step.median_reply)]


def _lines(first: str, rows: Sequence[tuple[str, StepResult]], tracked: bool) -> list[str]:
    """The table as text lines: a heading, one line a row, columns padded to their widest cell."""
    heading = [first, "Sent", "Bounced", "OOO", *(["Opened"] if tracked else []), "Replied", "Rate", "Median reply"]
    cells = [heading] + [_row(label, step, tracked) for label, step in rows]
    widths = [max(len(row[n]) for row in cells) for n in range(len(heading))]
    return ["  ".join(cell.ljust(widths[n]) if n in (0, len(heading) - 1) else cell.rjust(widths[n])
                      for n, cell in enumerate(row)).rstrip() for row in cells]


def _sections(lines: list[str], title: str = "") -> list[Block]:
    """Lines in fenced section blocks, each under SECTION_LIMIT characters, cut between lines."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        line = line[:SECTION_LIMIT - 100]
        if chunk and sum(len(each) + 1 for each in chunk) + len(line) + len(title) + 10 > SECTION_LIMIT:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=f"{title}```{chr(10).join(chunk)}```")))
            chunk, title = [], ""
        chunk.append(line)
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"{title}```{chr(10).join(chunk)}```")))
    return blocks


def _step_rows(results: Results, limit: int | None = None) -> list[tuple[str, StepResult]]:
    steps = list(results.steps if limit is None else results.steps[:limit])
    return [(f"Step {s.position}", s) for s in steps] + [("Total", results.total)]


def results_blocks(results: Results) -> list[Block]:
    """The Results section of a campaign message: nothing before the first send, then the compact
    table (the first COMPACT_STEPS steps and the total) and where to see more."""
    if results.total.sent == 0:
        return []
    more = len(results.steps) - COMPACT_STEPS
    note = (f"{counted(more, 'more step')}: `/outreach stats {results.scope[:80]}`. " if more > 0 else "") + \
        "Reply rate: replies per delivered send. `/outreach stats` shows a period."
    return [DividerBlock(), *_sections(_lines("", _step_rows(results, COMPACT_STEPS), results.tracked), "*Results*\n"),
            ContextBlock(elements=[MarkdownTextObject(text=note)])]


def stats_text(results: Results, period: Period) -> str:
    total = results.total
    return (f"Results of {results.scope}, {period.label}: {total.sent:,} sent, {total.replied:,} replied "
            f"({rate(total)}).")


def stats_blocks(results: Results, period: Period, *, recruiters: Sequence[tuple[str, StepResult]] | None = None
                 ) -> list[Block]:
    """`/outreach stats`: the scope and period, the per-step table with its total, what the numbers
    count; for the team, each recruiter's total under it (at most RECRUITERS_SHOWN, by name)."""
    blocks: list[Block] = [HeaderBlock(text=f"Results: {results.scope}"[:150]),
                           ContextBlock(elements=[MarkdownTextObject(text=f"{period.label.capitalize()}"[:2000])])]
    if results.total.sent == 0 and not recruiters:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing was sent in this period.")))
        return blocks
    blocks += _sections(_lines("", _step_rows(results), results.tracked))
    if recruiters:
        blocks += [DividerBlock(), *_recruiter_table(recruiters, results.tracked, RECRUITERS_SHOWN, "*Per recruiter*\n",
                                                    "`/outreach stats @name` shows one.")]
    tracked = " Opened: sends a person opened; machine opens (privacy relays, image proxies, fetches at once) " \
              "are shown apart." if results.tracked else ""
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=EXPLAINED + tracked)]))
    return blocks


def team_home_blocks(recruiters: Sequence[tuple[str, StepResult]], tracked: bool) -> list[Block]:
    """Admins' App Home: each recruiter's total over the last 30 days (the first HOME_RECRUITERS by name)."""
    if not recruiters:
        return [ContextBlock(elements=[MarkdownTextObject(text="Nobody on the team sent anything in the last 30 days.")])]
    return _recruiter_table(recruiters, tracked, HOME_RECRUITERS, "*Per recruiter, last 30 days*\n",
                            "`/outreach stats team` shows everyone.")


def _recruiter_table(recruiters: Sequence[tuple[str, StepResult]], tracked: bool, limit: int, title: str,
                     more: str) -> list[Block]:
    """Each recruiter's total, a name cut to NAME_WIDTH; past `limit`, how many more and where to see them."""
    shown = [((name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 1] + "…"), total)
             for name, total in recruiters[:limit]]
    blocks = _sections(_lines("Recruiter", shown, tracked), title)
    if len(recruiters) > limit:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"and {counted(len(recruiters) - limit, 'more recruiter')}: {more}")]))
    return blocks
