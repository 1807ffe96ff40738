"""Results per step (issue 19 §2): what a campaign, a recruiter or the team sent and what came back,
per step and in total, for `/outreach stats`, the Results section of a campaign message, the admins'
summaries and the results chart (bot.services.result_chart draws a `Results`, it never queries).

A number counts sends (one email to one address for one step): a step's replies, bounces and
out-of-office answers are the inbound events that answer that step's sends; a reply's time to reply
is from that send to the reply."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class StepResult:
    """One step's numbers (position 1, 2, …), or the total (position 0)."""

    position: int
    sent: int
    bounced: int
    out_of_office: int
    replied: int
    opened: int | None = None  # sends a person opened; None where no send of it was tracked
    machine_opened: int | None = None  # sends fetched only by proxies, relays or at once: never "opened"
    median_reply: timedelta | None = None  # None without a reply

    @property
    def reply_rate(self) -> float | None:
        """Replies per send delivered (sent minus bounced); None before anything was delivered."""
        delivered = self.sent - self.bounced
        return self.replied / delivered if delivered > 0 else None


@dataclass(frozen=True)
class Results:
    """The numbers of one scope (a campaign, a recruiter's campaigns, the team) over one period."""

    scope: str  # what the numbers are of, as shown: "Platform Q2", "Rita's campaigns", "the team"
    since: datetime | None  # None: since the first send
    until: datetime
    steps: tuple[StepResult, ...]
    total: StepResult
    replies_by_day: tuple[tuple[date, int], ...] = ()  # replies received per day, oldest first
    tracked: bool = False  # some send in scope carried the open-tracking image
