"""Results per step (issue 19 §2): what a campaign, a recruiter or the team sent and what came back,
per step and in total, for `/outreach stats`, the Results section of a campaign message, the admins'
summaries and the results chart (bot.services.result_chart draws a `Results`, it never queries).

A number counts sends (one email to one address for one step): a step's replies, bounces and
out-of-office answers are the inbound events that answer that step's sends; a reply's time to reply
is from that send to the reply.

What is counted, for one scope (a campaign, the campaigns a user owns, an organisation's campaigns)
and a period [since, until] (both ends included; since None: from the first send):
- sent: campaign sends (OutboundKind.CAMPAIGN) with status SENT and sent_at in the period, by step.
- bounced / out of office / replied: of those sends, the ones an inbound event (BOUNCE, AUTO_REPLY,
  REPLY) answers, whenever it arrived (the period chooses sends, so last month's sends count the
  replies that came this month): counted once per send, however many events it has. An event
  names the send it answers (outbound_message_id, set by bot.services.replies); where that is null
  (the send was deleted, or an event recorded without it) it answers the enrollment's latest send
  before it. A reply after the last step answers the last step's send, so it counts there.
- opened: sends with at least one open by a person (EmailOpen.machine false), whenever;
  machine_opened: sends opened, but only ever by a machine (proxy, relay, at once). Both None for a
  step none of whose sends was tracked (its campaign's track_opens, or an open recorded).
- median_reply: the median of (first reply's received_at - the send's sent_at) over replied sends.
- replies_by_day: replied sends by the day their first reply was received (in the period, by
  received_at, whenever the send went), in the campaign's zone for one campaign, UTC otherwise;
  every day from the period's first (or the first send's) to `until`, the last DAYS_SHOWN at most."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from statistics import median
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, case, false, func, select, true
from sqlalchemy.orm import Session, aliased

from bot.errors import NotFound
from bot.models import (Campaign, EmailOpen, Enrollment, InboundEvent, InboundKind, OutboundKind, OutboundMessage,
                        OutboundStatus, SequenceStep, User)


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


# ---- the queries ---------------------------------------------------------------------------------
DAYS_SHOWN = 90
O = OutboundMessage
E = InboundEvent
ANSWERS = (InboundKind.BOUNCE, InboundKind.AUTO_REPLY, InboundKind.REPLY)


@dataclass
class _Tally:
    """One key's numbers while they are added up (a step, or a recruiter)."""

    sent: int = 0
    tracked: int = 0
    bounced: int = 0
    out_of_office: int = 0
    replied: int = 0
    opened: int = 0
    machine_opened: int = 0
    waits: list[timedelta] = field(default_factory=list)

    def add(self, other: _Tally) -> None:
        for name in ("sent", "tracked", "bounced", "out_of_office", "replied", "opened", "machine_opened"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.waits.extend(other.waits)

    def result(self, position: int) -> StepResult:
        tracked = self.tracked > 0 or self.opened > 0 or self.machine_opened > 0
        return StepResult(position=position, sent=self.sent, bounced=self.bounced, out_of_office=self.out_of_office,
                          replied=self.replied, opened=self.opened if tracked else None,
                          machine_opened=self.machine_opened if tracked else None,
                          median_reply=median(self.waits) if self.waits else None)


def _sends(since: datetime | None, until: datetime) -> list[ColumnElement[bool]]:
    """The campaign sends that went in the period."""
    period = [O.sent_at >= since] if since is not None else []
    return [O.kind == OutboundKind.CAMPAIGN, O.status == OutboundStatus.SENT, O.sent_at <= until, *period]


def _tally(session: Session, scope: ColumnElement[bool], key: ColumnElement[int], *, since: datetime | None,
           until: datetime, zone: ZoneInfo) -> tuple[dict[int, _Tally], Counter[date], datetime | None]:
    """Each key's numbers (key: the step's position, or the campaign's owner), the first replies per
    day (received in the period) and the period's first send: three grouped statements."""
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    first_send: datetime | None = None
    in_scope = (lambda query: query.join(Enrollment, Enrollment.id == O.enrollment_id)
                .join(Campaign, Campaign.id == Enrollment.campaign_id).where(scope))
    for value, sent, tracked, first in session.execute(in_scope(
            select(key, func.count(), func.sum(case((Campaign.track_opens == true(), 1), else_=0)), func.min(O.sent_at))
            .select_from(O)).where(*_sends(since, until)).group_by(key)):
        tallies[value].sent, tallies[value].tracked = int(sent), int(tracked or 0)
        first_send = first if first_send is None or first < first_send else first_send

    # An event without its send answers the enrollment's latest send before it. Only the enrollment
    # and sent_at are compared, so the enrollment's index is used (not the send queue's); the join
    # below keeps it only if it is a campaign send that went (SENT).
    latest = aliased(O)
    before = (select(latest.id).where(latest.enrollment_id == E.enrollment_id, latest.sent_at <= E.received_at)
              .order_by(latest.sent_at.desc(), latest.id.desc()).limit(1).correlate(E).scalar_subquery())
    send_id = func.coalesce(E.outbound_message_id, before)
    # Grouped by send before the join: one row per answered send (and a plan that reads events once)
    answers = (select(send_id.label("send_id"),
                      func.max(case((E.kind == InboundKind.BOUNCE, 1), else_=0)).label("bounced"),
                      func.max(case((E.kind == InboundKind.AUTO_REPLY, 1), else_=0)).label("away"),
                      func.min(case((E.kind == InboundKind.REPLY, E.received_at))).label("replied_at"))
               .join(Enrollment, Enrollment.id == E.enrollment_id).join(Campaign, Campaign.id == Enrollment.campaign_id)
               .where(scope, E.kind.in_(ANSWERS)).group_by(send_id).subquery())
    answered = (select(key, O.sent_at, answers.c.bounced, answers.c.away, answers.c.replied_at)
                .select_from(answers).join(O, O.id == answers.c.send_id)
                .join(Enrollment, Enrollment.id == O.enrollment_id).join(Campaign, Campaign.id == Enrollment.campaign_id)
                .where(*_sends(None, until)))
    by_day: Counter[date] = Counter()
    for value, sent_at, bounced, away, replied_at in session.execute(answered):
        replied_at = _aware(replied_at)
        if replied_at is not None and (since is None or replied_at >= since) and replied_at <= until:
            by_day[replied_at.astimezone(zone).date()] += 1
        if since is not None and sent_at < since:
            continue  # answers a send of before the period: only its reply's day counts
        tally = tallies[value]
        tally.bounced += int(bounced or 0)
        tally.out_of_office += int(away or 0)
        if replied_at is not None:
            tally.replied += 1
            tally.waits.append(max(replied_at - sent_at, timedelta(0)))

    opens = (select(EmailOpen.outbound_message_id.label("send_id"),
                    func.sum(case((EmailOpen.machine == false(), 1), else_=0)).label("people"))
             .where(EmailOpen.campaign_id.in_(select(Campaign.id).where(scope)))
             .group_by(EmailOpen.outbound_message_id).subquery())
    for value, people, machines in session.execute(in_scope(
            select(key, func.count(case((opens.c.people > 0, 1))), func.count(case((opens.c.people == 0, 1))))
            .select_from(opens).join(O, O.id == opens.c.send_id)).where(*_sends(since, until)).group_by(key)):
        tallies[value].opened, tallies[value].machine_opened = int(people), int(machines)
    return tallies, by_day, first_send


def _aware(moment: datetime | str | None) -> datetime | None:
    """A min() over a CASE comes back as the column's type on PostgreSQL, as text on SQLite."""
    if moment is None or isinstance(moment, datetime):
        return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(moment).replace(tzinfo=timezone.utc)


def _days(by_day: Counter[date], *, first: date | None, last: date) -> tuple[tuple[date, int], ...]:
    """Every day from `first` to `last`, a day without a reply as 0; the last DAYS_SHOWN at most."""
    if first is None or first > last:
        return ()
    first = max(first, last - timedelta(days=DAYS_SHOWN - 1))
    return tuple((first + timedelta(days=n), by_day.get(first + timedelta(days=n), 0))
                 for n in range((last - first).days + 1))


def _results(session: Session, scope: ColumnElement[bool], *, name: str, until: datetime, since: datetime | None,
             zone: ZoneInfo = ZoneInfo("UTC"), steps: int = 0) -> Results:
    tallies, by_day, first_send = _tally(session, scope, O.step_position, since=since, until=until, zone=zone)
    for position in range(1, steps + 1):  # a campaign shows each of its steps, sent or not yet
        tallies[position]
    total = _Tally()
    for tally in tallies.values():
        total.add(tally)
    first = since or first_send or (min(by_day) if by_day else None)
    first_day = first.astimezone(zone).date() if isinstance(first, datetime) else first
    overall = total.result(0)
    return Results(scope=name, since=since, until=until,
                   steps=tuple(tallies[p].result(p) for p in sorted(tallies)), total=overall,
                   replies_by_day=_days(by_day, first=first_day, last=until.astimezone(zone).date()),
                   tracked=overall.opened is not None)


def campaign_results(session: Session, campaign_id: int, *, until: datetime, since: datetime | None = None) -> Results:
    """One campaign's results (each step of its sequence, sent or not), days in the campaign's zone.
    Five statements: the campaign, its step count, sends, answers, opens."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("That campaign no longer exists.")
    steps = session.scalar(select(func.max(SequenceStep.position))
                           .where(SequenceStep.sequence_id == campaign.sequence_id)) or 0
    return _results(session, Campaign.id == campaign_id, name=campaign.name, until=until, since=since,
                    zone=_zone(campaign.timezone), steps=steps)


def owner_results(session: Session, owner_id: int, *, until: datetime, since: datetime | None = None) -> Results:
    """The results of every campaign a user owns (archived ones too), by step position, days in UTC."""
    owner = session.get(User, owner_id)
    name = f"{owner.name}'s campaigns" if owner is not None and owner.name else "Their campaigns"
    return _results(session, Campaign.owner_id == owner_id, name=name, until=until, since=since)


def team_results(session: Session, organisation_id: int, *, until: datetime, since: datetime | None = None) -> Results:
    """The results of every campaign of the organisation, by step position, days in UTC."""
    return _results(session, Campaign.organisation_id == organisation_id, name="the team", until=until, since=since)


def recruiter_summaries(session: Session, organisation_id: int, *, until: datetime,
                        since: datetime | None = None) -> list[tuple[str, StepResult]]:
    """For admins: each recruiter's total over the campaigns they own (those who sent in the
    period), by name; the same counting as above, grouped by owner."""
    tallies, _, _ = _tally(session, Campaign.organisation_id == organisation_id, Campaign.owner_id,
                           since=since, until=until, zone=ZoneInfo("UTC"))
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(list(tallies)))).all()) \
        if tallies else {}
    return sorted(((names.get(owner) or "(someone)", tally.result(0)) for owner, tally in tallies.items()),
                  key=lambda pair: (pair[0].lower(), pair[0]))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
