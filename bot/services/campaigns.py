"""Campaigns: a sequence run from one mailbox for a set of candidates."""
from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    Mailbox,
    MailboxStatus,
    SendPreference,
    Sequence,
    User,
)
from scheduling import planner


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


def campaigns_of(session: Session, user: User) -> list[Campaign]:
    return list(session.scalars(
        select(Campaign).where(Campaign.owner_id == user.id).order_by(Campaign.created_at.desc())
    ))
