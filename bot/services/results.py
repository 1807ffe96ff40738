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


# ---- TEMPORARY (helper "charts"): replaced by helper "stats"'s queries at merge ----
def _temporary_results(session, scope: str, campaign_filter, *, until: datetime,  # type: ignore[no-untyped-def]
                       since: datetime | None) -> Results:
    from collections import Counter

    from sqlalchemy import select

    from bot.models import Campaign, Enrollment, InboundEvent, InboundKind, OutboundMessage, OutboundStatus

    query = (select(OutboundMessage.id, OutboundMessage.step_position).join(Enrollment)
             .join(Campaign, Campaign.id == Enrollment.campaign_id).where(campaign_filter)
             .where(OutboundMessage.status == OutboundStatus.SENT, OutboundMessage.sent_at <= until))
    if since is not None:
        query = query.where(OutboundMessage.sent_at >= since)
    sent_rows = session.execute(query).all()
    step_of = {row_id: position for row_id, position in sent_rows}
    replies = session.execute(
        select(InboundEvent.outbound_message_id, InboundEvent.received_at)
        .where(InboundEvent.kind == InboundKind.REPLY, InboundEvent.outbound_message_id.in_(list(step_of) or [0]))
        .where(InboundEvent.received_at <= until)).all()
    first: dict[int, datetime] = {}
    for message_id, at in replies:  # a send's replies count once
        first[message_id] = min(at, first.get(message_id, at))
    sent = Counter(step_of.values())
    replied = Counter(step_of[m] for m in first)
    steps = tuple(StepResult(p, sent[p], 0, 0, replied[p]) for p in sorted(sent))
    total = StepResult(0, sum(sent.values()), 0, 0, sum(replied.values()))
    by_day = Counter(at.date() for at in first.values())
    return Results(scope, since, until, steps, total, tuple(sorted(by_day.items())))


def campaign_results(session, campaign_id: int, *, until: datetime,  # type: ignore[no-untyped-def]
                     since: datetime | None = None) -> Results:
    from bot.models import Campaign

    campaign = session.get(Campaign, campaign_id)
    return _temporary_results(session, campaign.name if campaign else "campaign", Campaign.id == campaign_id,
                              until=until, since=since)


def owner_results(session, owner_id: int, *, until: datetime,  # type: ignore[no-untyped-def]
                  since: datetime | None = None) -> Results:
    from bot.models import Campaign, User

    user = session.get(User, owner_id)
    return _temporary_results(session, f"{user.name}'s campaigns" if user else "your campaigns",
                              Campaign.owner_id == owner_id, until=until, since=since)
