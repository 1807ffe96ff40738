"""Planned sends moved when a campaign's timing changes: its edit (when to send, the time zone, the
send days, its holidays) or a holiday of its organisation.

Which rows move: pending rows no worker holds (no claimed_by, no live lease), exactly the rows the
claim could take (transitions.claimable) but for the due test. A row `sending` or `sent` is never
touched. Each one left is given the window the when-to-send rules give it under the new settings
(planner.Planner.window_of): a first send as if planned again when it was planned, a later step
from its candidate's anchor (the time of day of their first send, the day of their last), as the
rules say. A row whose window is the same keeps its time. A new window that opens within the
20-minute grace from now, or has passed, becomes a first-send window from now (as a resume does):
moved rows spread over 20 minutes, as a Start spreads them, never in a burst.

Against a concurrent claim: the rows are read FOR UPDATE (PostgreSQL), so a claim holding one makes
this wait, and PostgreSQL re-tests the row as committed: one the claim took (now `sending`) is no
longer read. Rows held here are skipped by the claim (SKIP LOCKED) until this commits, then claimed
at their new time. SQLite serialises writers.
"""
from __future__ import annotations

import random
from collections.abc import Collection
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session, selectinload

from bot.models import Campaign, Candidate, Enrollment, OutboundMessage, OutboundStatus
from bot.services import away, planner
from bot.services.campaign_marks import mark_stale
from bot.services.time_zones import zone_of
from bot.rules import when

O = OutboundMessage
_DAY = timedelta(days=1)
WRITE_BATCH = 1_000  # rows an UPDATE statement carries (one executemany each)


def _movable(query: Select[Any], campaign: Campaign, now: datetime, on_days: Collection[date]) -> Select[Any]:
    """The campaign's pending rows no worker holds, locked, in id order (two re-plans never deadlock);
    with `on_days`, only those due around those dates (a day either side covers any time zone)."""
    query = (query.join(Enrollment, Enrollment.id == O.enrollment_id)
             .where(Enrollment.campaign_id == campaign.id, O.status == OutboundStatus.PENDING,
                    O.claimed_by.is_(None), or_(O.lease_expires_at.is_(None), O.lease_expires_at < now))
             .order_by(O.id).with_for_update(of=O))
    if on_days:
        query = query.where(or_(*(and_(O.due_at >= _midnight(day) - _DAY, O.due_at < _midnight(day) + 2 * _DAY)
                                  for day in sorted(set(on_days)))))
    return query


def movable_rows(session: Session, campaign: Campaign, *, now: datetime) -> list[OutboundMessage]:
    """The movable rows as objects, with their candidates' addresses (to readdress or rethread them)."""
    return list(session.scalars(_movable(select(O), campaign, now, ()).options(
        selectinload(O.enrollment).selectinload(Enrollment.candidate).selectinload(Candidate.addresses))))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


def replan_campaign(session: Session, campaign: Campaign, *, now: datetime, rng: random.Random,
                    on_days: Collection[date] = ()) -> int:
    """Give each movable row (all, or those around `on_days`) its window under the campaign's settings
    now; returns how many moved. Read as columns and written in batches of WRITE_BATCH: a campaign of
    100,000 candidates is re-planned without loading an object per row."""
    rows = session.execute(_movable(select(O.id, O.step_position, O.created_at, O.window_start, O.window_end,
                                           Enrollment.last_sent_at, Enrollment.first_send_local, Candidate.time_zone,
                                           Enrollment.away_until),
                                     campaign, now, on_days).join(Candidate, Candidate.id == Enrollment.candidate_id)).all()
    plans = planner.Planner(session, rng=rng, now=now)
    fresh: dict[str | None, when.Window] = {}  # the first-send window from now, one per zone
    moves: list[dict[str, Any]] = []
    calendar = planner.calendar_of(session, campaign)
    for row_id, position, planned_at, start, end, last_sent_at, first_send_local, zone, away_until in rows:
        window = plans.window_of(campaign, position=position, planned_at=planned_at, last_sent_at=last_sent_at,
                                 first_send_local=first_send_local, candidate_zone=zone)
        if window is None:
            continue
        if away_until is not None:  # out of office: an edit never brings a step before their stated return
            window = away.after_return(window, zone_of(campaign.timezone, zone), away_until=away_until,
                                       calendar=calendar)
        if (_utc(window.start), _utc(window.end)) == (_utc(start), _utc(end)):
            continue
        if _utc(window.start) < now + when.GRACE:  # type: ignore[operator]
            if zone not in fresh:
                fresh[zone] = plans.fresh_window(campaign, zone)
            window = fresh[zone]
        moves.append({"id": row_id, "window_start": window.start, "window_end": window.end,
                      "due_at": window.pick(rng)})
    for first in range(0, len(moves), WRITE_BATCH):  # by primary key: rows locked above, so no guard is needed
        session.execute(update(O), moves[first:first + WRITE_BATCH])
    if moves:
        mark_stale(session, [campaign.id])
    return len(moves)
