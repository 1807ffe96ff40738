"""Turns the when-to-send rules into durable outbound rows: one per step, planned when the step
before it has gone out (or at Start for step 1), with its Message-ID made up front."""
from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
    SequenceStep,
)
from bot.services.recipients import choose_address
from providers.base import new_message_id
from scheduling import when


def _calendar(enrollment: Enrollment) -> when.Calendar:
    campaign = enrollment.campaign
    return when.calendar_from(campaign.send_days, campaign.holidays)


def plan_step(
    session: Session, *, enrollment: Enrollment, position: int, rng: random.Random, now: datetime
) -> OutboundMessage | None:
    """Plan step `position` for an enrollment; None when there is no such step or no address."""
    campaign = enrollment.campaign
    step = session.scalar(select(SequenceStep).where(
        SequenceStep.sequence_id == campaign.sequence_id, SequenceStep.position == position))
    if step is None:
        return None
    to_address = enrollment.address_override or choose_address(
        enrollment.candidate.addresses, preferred=campaign.email_preference,
        strict=campaign.strict_preference, user_id=campaign.owner_id, exclude=enrollment.tried_addresses,
    )
    if to_address is None:
        return None
    zone = ZoneInfo(campaign.timezone)
    preference = when.Preference(campaign.send_preference.value)
    previous = _sent_steps(session, enrollment)
    if not previous:
        window = when.first_window(preference, zone, now,
                                   specific=campaign.specific_time, calendar=_calendar(enrollment))
    else:
        window = when.later_window(
            preference, zone, started=campaign.started_at, first_send=previous[0].sent_at,
            previous_send=previous[-1].sent_at, delay_days=step.delay_days, calendar=_calendar(enrollment),
        )
    threaded = campaign.same_thread and previous
    row = OutboundMessage(
        enrollment_id=enrollment.id, mailbox_id=campaign.mailbox_id, step_position=position,
        to_address=to_address, message_id=new_message_id(campaign.mailbox.address),
        in_reply_to=previous[-1].message_id if threaded else None,
        references=" ".join(p.message_id for p in previous) if threaded else None,
        status=OutboundStatus.PENDING, window_start=window.start, window_end=window.end,
        due_at=window.pick(rng), created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _sent_steps(session: Session, enrollment: Enrollment) -> list[OutboundMessage]:
    return list(session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.enrollment_id == enrollment.id, OutboundMessage.status == OutboundStatus.SENT)
        .order_by(OutboundMessage.step_position, OutboundMessage.sent_at)
    ))


def after_sent(session: Session, *, enrollment: Enrollment, sent: OutboundMessage, rng: random.Random,
               now: datetime, total_steps: int) -> OutboundMessage | None:
    """Record progress and plan the next step, or finish the enrollment after the last one."""
    enrollment.steps_sent = max(enrollment.steps_sent, sent.step_position)
    if enrollment.status == EnrollmentStatus.NOT_STARTED:
        enrollment.status = EnrollmentStatus.IN_PROGRESS
    if sent.step_position == 1:
        enrollment.thread_id = sent.provider_thread_id
        enrollment.first_send_local = sent.sent_at.astimezone(ZoneInfo(enrollment.campaign.timezone)).time()
    if sent.step_position >= total_steps:
        enrollment.status = EnrollmentStatus.FINISHED
        enrollment.ended_at = now
        return None
    return plan_step(session, enrollment=enrollment, position=sent.step_position + 1, rng=rng, now=now)
