"""Turns the when-to-send rules into durable outbound rows: one per step, planned when the step
before it has gone out (or at Start for step 1), with its Message-ID made up front.

The enrollment carries what a follow-up needs (thread id, Message-IDs sent so far, the time of day
of the first send, when the last step went out; kept by scheduling.record_sent), so planning reads
no message history; a Planner caches each sequence's steps, so a batch plans with few queries.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, time

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from bot.models import (
    Campaign,
    Candidate,
    Enrollment,
    Mailbox,
    Organisation,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    SequenceStep,
    UTCDateTime,
)
from bot.services import away
from bot.services.recipients import choose_address
from bot.services.time_zones import zone_of
from providers.base import new_message_id
from bot.rules import when


def calendar_of(session: Session, campaign: Campaign) -> when.Calendar:
    """The days the campaign may send on: its send days, minus its own holidays and its
    organisation's (`/outreach admin holidays`)."""
    organisation = session.get(Organisation, campaign.organisation_id)  # the identity map, most often
    return _calendar(campaign.send_days, campaign.holidays, organisation.holidays if organisation else None)


def _calendar(send_days: str, holidays: Sequence[str] | None, organisation_holidays: Sequence[str] | None) -> when.Calendar:
    return when.calendar_from(send_days, {*(holidays or ()), *(organisation_holidays or ())})


class Planner:
    def __init__(self, session: Session, *, rng: random.Random, now: datetime) -> None:
        self.session = session
        self.rng = rng
        self.now = now
        self._steps: dict[int, dict[int, SequenceStep]] = {}
        self._calendars: dict[int, when.Calendar] = {}

    def steps(self, sequence_id: int) -> dict[int, SequenceStep]:
        if sequence_id not in self._steps:
            rows = self.session.scalars(select(SequenceStep).where(SequenceStep.sequence_id == sequence_id))
            self._steps[sequence_id] = {step.position: step for step in rows}
        return self._steps[sequence_id]

    def plan(self, enrollment: Enrollment, position: int) -> OutboundMessage | None:
        """Plan step `position`; None when there is no such step or no address the rules allow."""
        campaign: Campaign = enrollment.campaign
        step = self.steps(campaign.sequence_id).get(position)
        if step is None:
            return None
        to_address = enrollment.address_override or choose_address(
            enrollment.candidate.addresses, preferred=campaign.email_preference,
            strict=campaign.strict_preference, user_id=campaign.owner_id, exclude=enrollment.tried_addresses,
        )
        if to_address is None:
            return None
        window = self._window(enrollment, campaign, step)
        if enrollment.away_until is not None:  # out of office: never before their stated return
            window = away.after_return(window, zone_of(campaign.timezone, enrollment.candidate.time_zone),
                                       away_until=enrollment.away_until, calendar=self._calendar(campaign))
        threaded = campaign.same_thread and bool(enrollment.thread_references)
        references = (enrollment.thread_references or "").split()
        row = OutboundMessage(
            enrollment_id=enrollment.id, mailbox_id=campaign.mailbox_id, step_position=position,
            to_address=to_address, message_id=new_message_id(campaign.mailbox.address),
            in_reply_to=references[-1] if threaded else None,
            references=" ".join(references) if threaded else None,
            status=OutboundStatus.PENDING, window_start=window.start, window_end=window.end,
            due_at=window.pick(self.rng), created_at=self.now,
        )
        self.session.add(row)
        return row

    def replan_overdue(self, row: OutboundMessage, campaign: Campaign, candidate_zone: str | None = None) -> None:
        """A step that fell due while its campaign was paused goes out from the resume time by the
        same rules as a first send (20 minutes' grace, the campaign's preferred time), never in a burst."""
        window = self.fresh_window(campaign, candidate_zone)
        row.window_start, row.window_end, row.due_at = window.start, window.end, window.pick(self.rng)

    def fresh_window(self, campaign: Campaign, candidate_zone: str | None = None) -> when.Window:
        """A first send's window from now: where a step that cannot keep its own time goes."""
        return when.first_window(when.Preference(campaign.send_preference.value),
                                 zone_of(campaign.timezone, candidate_zone),
                                 self.now, specific=campaign.specific_time, calendar=self._calendar(campaign))

    def window_of(self, campaign: Campaign, *, position: int, planned_at: datetime, last_sent_at: datetime | None,
                  first_send_local: time | None, candidate_zone: str | None = None) -> when.Window | None:
        """The window the rules give an already planned step under the campaign's settings as they are
        now (None: the step is gone): a first send as if planned when it was (`planned_at`), a later
        step from its candidate's anchor (`first_send_local`, `last_sent_at`), as when it was planned.
        A re-plan (bot.services.replan) compares it with the row's."""
        step = self.steps(campaign.sequence_id).get(position)
        if step is None:
            return None
        return self._rule_window(campaign, step, planned_at, last_sent_at, first_send_local, candidate_zone)

    def _window(self, enrollment: Enrollment, campaign: Campaign, step: SequenceStep) -> when.Window:
        return self._rule_window(campaign, step, self.now, enrollment.last_sent_at, enrollment.first_send_local,
                                 enrollment.candidate.time_zone)

    def _calendar(self, campaign: Campaign) -> when.Calendar:
        if campaign.id not in self._calendars:  # a Planner lives for one batch: the settings hold meanwhile
            self._calendars[campaign.id] = calendar_of(self.session, campaign)
        return self._calendars[campaign.id]

    def _rule_window(self, campaign: Campaign, step: SequenceStep, planned_at: datetime, last_sent_at: datetime | None,
                     first_send_local: time | None, candidate_zone: str | None) -> when.Window:
        zone = zone_of(campaign.timezone, candidate_zone)  # a send day is a day in this zone too
        preference = when.Preference(campaign.send_preference.value)
        calendar = self._calendar(campaign)
        if last_sent_at is None or first_send_local is None:
            return when.first_window(preference, zone, planned_at, specific=campaign.specific_time, calendar=calendar)
        last = last_sent_at.astimezone(zone)
        first_send = datetime.combine(last.date(), first_send_local, tzinfo=zone)
        return when.later_window(preference, zone, started=campaign.started_at or self.now,
                                 first_send=first_send, previous_send=last, delay_days=step.delay_days,
                                 calendar=calendar)


def plan_step(session: Session, *, enrollment: Enrollment, position: int, rng: random.Random,
              now: datetime) -> OutboundMessage | None:
    """One step for one enrollment (Start, resume, a bounce moving to another address)."""
    row = Planner(session, rng=rng, now=now).plan(enrollment, position)
    session.flush()
    return row


PLAN_BATCH = 5_000  # enrollments read a query


def plan_first_steps(session: Session, enrollment_ids: Sequence[int], *, rng: random.Random, now: datetime) -> int:
    """Step 1 for each enrollment, as plan_step plans it one by one (Start, a CSV confirm into a
    started campaign), in id order; returns how many were planned. One Planner for all (the steps
    are read once); the rows it makes are then written in one batch, since the ORM would insert them
    one by one on SQLite to learn their ids, which nothing here needs."""
    batch = Planner(session, rng=rng, now=now)
    planned_count = 0
    ordered = sorted(enrollment_ids)
    for start in range(0, len(ordered), PLAN_BATCH):
        enrollments = session.scalars(
            select(Enrollment).where(Enrollment.id.in_(ordered[start:start + PLAN_BATCH]))
            .options(selectinload(Enrollment.candidate).selectinload(Candidate.addresses))
            .execution_options(populate_existing=True).order_by(Enrollment.id)).all()
        with session.no_autoflush:
            planned = [row for enrollment in enrollments if (row := batch.plan(enrollment, 1)) is not None]
            unflushed = {id(obj) for obj in session.new}  # not already flushed by the planner
            pending = [row for row in planned if id(row) in unflushed]
            for row in pending:
                session.expunge(row)
        session.bulk_save_objects(pending)
        planned_count += len(planned)
    session.flush()
    return planned_count


# A follow-up the daily cap held past its window is moved, not sent late (issue 17 §5). The note
# stays on the pending row (as a rate limit's reason does) so `/outreach when` can say why it moved.
MOVED_BY_CAP = "moved to its next window: the daily cap held it past its own"
MOVE_BATCH = 1_000  # rows moved a call; the dispatcher's upkeep calls again within a second


def move_held_follow_ups(session: Session, *, now: datetime, rng: random.Random,
                         mailbox_ids: Sequence[int] | None = None) -> list[int]:
    """Follow-ups due before their mailbox's daily-cap hold ends, in windows that end by then, move
    to their next allowed window (when.next_open_window: the same wall-clock times, on a send day
    that is not a holiday, none before the hold ends), at a time picked inside it, so they spread
    over it. Step 1 keeps its time and goes when the cap allows, as before. Each row moves only
    while pending and unclaimed, in one guarded UPDATE: a row a claim took meanwhile is left alone.
    Returns the ids it tried to move. (A campaign edit's re-plan of pending rows is bot.services.replan.)"""
    O, M = OutboundMessage, Mailbox
    query = (select(O.id, O.window_start, O.window_end, M.not_before, Campaign.timezone, Candidate.time_zone,
                    Campaign.send_days, Campaign.holidays, Organisation.holidays)
             .join(M, M.id == O.mailbox_id).join(Enrollment, Enrollment.id == O.enrollment_id)
             .join(Candidate, Candidate.id == Enrollment.candidate_id)
             .join(Campaign, Campaign.id == Enrollment.campaign_id)
             .join(Organisation, Organisation.id == Campaign.organisation_id)
             .where(M.not_before_reason == "daily_cap", M.not_before > now, O.status == OutboundStatus.PENDING,
                    O.kind == OutboundKind.CAMPAIGN, O.step_position > 1, O.claimed_by.is_(None),
                    O.due_at < M.not_before, O.window_end <= M.not_before)
             .order_by(O.id).limit(MOVE_BATCH))
    if mailbox_ids is not None:
        query = query.where(M.id.in_(list(mailbox_ids)))
    moves = []
    for row_id, start, end, held_until, zone_name, candidate_zone, send_days, holidays, organisation_holidays \
            in session.execute(query).all():
        if start is None:
            start = end
        zone = zone_of(zone_name, candidate_zone)
        window = when.next_open_window(when.Window(start.astimezone(zone), end.astimezone(zone)), zone,
                                       after=held_until,
                                       calendar=_calendar(send_days, holidays, organisation_holidays))
        moves.append({"b_id": row_id, "b_start": window.start, "b_end": window.end, "b_due": window.pick(rng)})
    if moves:
        OT = O.__table__
        moment = UTCDateTime()
        session.execute(
            update(OT).where(OT.c.id == bindparam("b_id"), OT.c.status == OutboundStatus.PENDING.value,
                             OT.c.claimed_by.is_(None))
            .values(window_start=bindparam("b_start", type_=moment), window_end=bindparam("b_end", type_=moment),
                    due_at=bindparam("b_due", type_=moment), error=MOVED_BY_CAP),
            moves)
    return [m["b_id"] for m in moves]
