"""Campaigns: a sequence run from one mailbox for a set of candidates."""
from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    OutboundStatus,
    SendPreference,
    Sequence,
    User,
)
from scheduling import planner, when


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"'{name}' is not a time zone: expected an IANA name such as Europe/Paris",
                        field="timezone") from None
    return name


def create_campaign(
    session: Session,
    *,
    owner: User,
    sequence: Sequence,
    mailbox: Mailbox,
    name: str,
    clock: Clock,
    timezone: str | None = None,
    preference: SendPreference = SendPreference.STARTED,
    specific_time: time | None = None,
    send_days: str = "0123456",
    email_preference: AddressKind = AddressKind.WORK,
    strict_preference: bool = False,
    alert_channel_id: str | None = None,
    same_thread: bool = True,
) -> Campaign:
    if preference == SendPreference.SPECIFIC and specific_time is None:
        raise UserError("Pick the time of day for 'Specific time'.", field="specific_time")
    campaign = Campaign(
        organisation_id=owner.organisation_id, owner_id=owner.id, sequence_id=sequence.id,
        mailbox_id=mailbox.id, name=name.strip() or sequence.name, status=CampaignStatus.DRAFT,
        send_preference=preference, specific_time=specific_time,
        timezone=check_timezone(timezone or owner.tz), send_days=send_days,
        email_preference=email_preference, strict_preference=strict_preference,
        alert_channel_id=alert_channel_id, same_thread=same_thread, created_at=clock.now(),
    )
    session.add(campaign)
    session.flush()
    return campaign


def enroll(session: Session, *, campaign: Campaign, candidates: Iterable[Candidate], clock: Clock) -> list[Enrollment]:
    enrollments = [Enrollment(campaign_id=campaign.id, candidate_id=c.id, created_at=clock.now()) for c in candidates]
    session.add_all(enrollments)
    session.flush()
    return enrollments


def start_campaign(session: Session, *, campaign: Campaign, clock: Clock, rng: random.Random) -> int:
    """Start: nothing leaves for 20 minutes (seed 002). Returns how many first steps were planned."""
    if campaign.status != CampaignStatus.DRAFT:
        raise UserError(f"'{campaign.name}' has already been started.")
    if campaign.mailbox.status != MailboxStatus.CONNECTED:
        raise UserError(f"The mailbox {campaign.mailbox.address} cannot send right now: reconnect it first.")
    enrollments = list(session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)))
    if not enrollments:
        raise UserError(f"'{campaign.name}' has no candidates yet: add some before starting.")
    campaign.status = CampaignStatus.SCHEDULED
    campaign.started_at = clock.now()
    planned = 0
    for enrollment in enrollments:
        planned += planner.plan_step(session, enrollment=enrollment, position=1, rng=rng, now=clock.now()) is not None
    session.flush()
    return planned


def resume_campaign(session: Session, *, campaign: Campaign, clock: Clock, rng: random.Random) -> int:
    """Resume "from where it left off" (seed 001): steps that fell due meanwhile are re-planned from
    now, so nothing is skipped and nothing fires in a burst. Returns how many were re-planned."""
    if campaign.status != CampaignStatus.PAUSED:
        raise UserError(f"'{campaign.name}' is not paused.")
    if campaign.mailbox.status != MailboxStatus.CONNECTED:
        raise UserError(f"The mailbox {campaign.mailbox.address} cannot send right now: reconnect it first.")
    now = clock.now()
    sent_any = session.scalar(select(OutboundMessage.id).join(Enrollment).where(
        Enrollment.campaign_id == campaign.id, OutboundMessage.status == OutboundStatus.SENT).limit(1))
    campaign.status = CampaignStatus.ACTIVE if sent_any else CampaignStatus.SCHEDULED
    campaign.pause_reason = campaign.paused_at = None
    overdue = list(session.scalars(select(OutboundMessage).join(Enrollment).where(
        Enrollment.campaign_id == campaign.id, OutboundMessage.status == OutboundStatus.PENDING,
        OutboundMessage.due_at < now + when.GRACE)))
    replanner = planner.Planner(session, rng=rng, now=now)
    for row in overdue:
        replanner.replan_overdue(row, campaign)
    session.flush()
    return len(overdue)


def campaigns_of(session: Session, user: User) -> list[Campaign]:
    return list(session.scalars(
        select(Campaign).where(Campaign.owner_id == user.id).order_by(Campaign.created_at.desc())
    ))


def find_campaign(session: Session, *, user: User, name: str) -> Campaign:
    """A campaign of the user's organisation by name (case-insensitive) or number."""
    name = name.strip()
    if not name:
        raise UserError("Name the campaign, e.g. `/outreach when Backend Q4`.")
    query = select(Campaign).where(Campaign.organisation_id == user.organisation_id)
    found = session.scalar(query.where(Campaign.id == int(name))) if name.isdigit() else None
    if found is None:
        found = session.scalar(query.where(func.lower(Campaign.name) == name.lower()).order_by(Campaign.id.desc()))
    if found is None:
        raise NotFound(f"No campaign called '{name}'. Your campaigns are on the Home tab.")
    return found


@dataclass(frozen=True)
class PlannedSend:
    candidate: str
    step: int
    to_address: str
    due_at: datetime


def upcoming_sends(session: Session, campaign: Campaign, limit: int = 10) -> tuple[list[PlannedSend], int]:
    """The next planned sends, soonest first, and how many are planned in all."""
    O = OutboundMessage
    base = (select(Candidate.name, O.step_position, O.to_address, O.due_at).select_from(O)
            .join(Enrollment, Enrollment.id == O.enrollment_id).join(Candidate, Candidate.id == Enrollment.candidate_id)
            .where(Enrollment.campaign_id == campaign.id, O.status == OutboundStatus.PENDING))
    rows = session.execute(base.order_by(O.due_at).limit(limit)).all()
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    return [PlannedSend(*row) for row in rows], total


def preview_plan(session: Session, campaign: Campaign, *, now: datetime, rng: random.Random) -> list[when.PlannedStep]:
    """What starting the campaign now would plan for one candidate (for a campaign not started yet)."""
    steps = sorted(campaign.sequence.steps, key=lambda s: s.position)
    return when.plan(when.Preference(campaign.send_preference.value), ZoneInfo(campaign.timezone), now,
                     [s.delay_days for s in steps[1:]], rng, specific=campaign.specific_time,
                     calendar=when.calendar_from(campaign.send_days, campaign.holidays))
