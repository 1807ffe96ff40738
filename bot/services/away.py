"""An out-of-office candidate's next step waits for their return (issue 19 §4).

An auto-reply that states a return date (providers.return_date) holds the candidate's planned step
until the first send day after that date, at the same wall-clock time as it was planned (their
usual time of day, by the when-to-send rules): when.next_open_window, from midnight after the
return date, on the campaign's calendar (send days, holidays). A step already planned after that
stays as it is. Only pending rows no worker holds move, each in one guarded UPDATE, as a daily-cap
hold moves them (planner.move_held_follow_ups): a row a claim took meanwhile goes as planned.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.models import Enrollment, OutboundMessage, OutboundStatus
from bot.rules import when
from bot.services.campaign_marks import mark_stale
from bot.services.time_zones import zone_of
from bot.services import planner  # the module: planner asks after_return when it plans a step

O = OutboundMessage
MOVED_BY_AWAY = "waits for the candidate's return from out of office"


def _back(away_until: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(away_until + timedelta(days=1), time(0), tzinfo=zone)


def after_return(window: when.Window, zone: ZoneInfo, *, away_until: date, calendar: when.Calendar) -> when.Window:
    """`window`, or the same wall-clock times on the first send day after `away_until` if it opens before."""
    back = _back(away_until, zone)
    if window.start.astimezone(zone) >= back:
        return window
    return when.next_open_window(window, zone, after=back, calendar=calendar)


def hold_until_back(session: Session, enrollment: Enrollment, *, away_until: date, now: datetime,
                    rng: random.Random) -> int:
    """Record the return date and move the candidate's planned steps after it; returns how many moved."""
    enrollment.away_until = away_until
    campaign = enrollment.campaign
    zone = zone_of(campaign.timezone, enrollment.candidate.time_zone)  # their return, in their own days
    back = _back(away_until, zone)
    calendar = planner.calendar_of(session, campaign)
    rows = session.execute(select(O.id, O.window_start, O.window_end).where(
        O.enrollment_id == enrollment.id, O.status == OutboundStatus.PENDING, O.claimed_by.is_(None),
        O.due_at < back, or_(O.lease_expires_at.is_(None), O.lease_expires_at < now))).all()
    moved = 0
    for row_id, start, end in rows:
        window = after_return(when.Window((start or end).astimezone(zone), end.astimezone(zone)), zone,
                              away_until=away_until, calendar=calendar)
        result = session.execute(
            update(O).where(O.id == row_id, O.status == OutboundStatus.PENDING, O.claimed_by.is_(None))
            .values(window_start=window.start, window_end=window.end, due_at=window.pick(rng), error=MOVED_BY_AWAY)
            .execution_options(synchronize_session=False))
        moved += result.rowcount  # type: ignore[attr-defined]
    if moved:
        mark_stale(session, [campaign.id])
    return moved
