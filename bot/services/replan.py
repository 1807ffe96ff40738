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
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.models import Campaign, Candidate, Enrollment, OutboundMessage, OutboundStatus
from bot.services import planner
from bot.services.campaign_marks import mark_stale
from bot.rules import when

O = OutboundMessage
_DAY = timedelta(days=1)


def movable_rows(session: Session, campaign: Campaign, *, now: datetime,
                 on_days: Collection[date] = ()) -> list[OutboundMessage]:
    """The campaign's pending rows no worker holds, locked, in id order (two re-plans never deadlock);
    with `on_days`, only those due around those dates (a day either side covers any time zone)."""
    query = (select(O).join(Enrollment, Enrollment.id == O.enrollment_id)
             .where(Enrollment.campaign_id == campaign.id, O.status == OutboundStatus.PENDING,
                    O.claimed_by.is_(None), or_(O.lease_expires_at.is_(None), O.lease_expires_at < now))
             .options(selectinload(O.enrollment).selectinload(Enrollment.candidate)
                      .selectinload(Candidate.addresses))
             .order_by(O.id).with_for_update(of=O))
    if on_days:
        query = query.where(or_(*(and_(O.due_at >= _midnight(day) - _DAY, O.due_at < _midnight(day) + 2 * _DAY)
                                  for day in sorted(set(on_days)))))
    return list(session.scalars(query))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


def replan_rows(session: Session, campaign: Campaign, rows: Sequence[OutboundMessage], *, now: datetime,
                rng: random.Random) -> int:
    """Give each row (from movable_rows) its window under the campaign's settings now; returns how many moved."""
    plans = planner.Planner(session, rng=rng, now=now)
    moved = 0
    for row in rows:
        enrollment = row.enrollment
        if enrollment is None:
            continue
        window = plans.window_of(row, enrollment, campaign)
        if window is None or (_utc(window.start), _utc(window.end)) == (_utc(row.window_start), _utc(row.window_end)):
            continue
        if _utc(window.start) < now + when.GRACE:  # type: ignore[operator]
            plans.replan_overdue(row, campaign)
        else:
            row.window_start, row.window_end, row.due_at = window.start, window.end, window.pick(rng)
        moved += 1
    if moved:
        mark_stale(session, [campaign.id])
    session.flush()
    return moved


def replan_campaign(session: Session, campaign: Campaign, *, now: datetime, rng: random.Random,
                    on_days: Collection[date] = ()) -> int:
    """Re-plan a campaign's movable rows (all, or those around `on_days`); returns how many moved."""
    return replan_rows(session, campaign, movable_rows(session, campaign, now=now, on_days=on_days), now=now, rng=rng)
