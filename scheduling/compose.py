"""Builds the email for each claimed row: templates rendered with the candidate's fields (and the
campaign's overrides), follow-ups threaded under step 1."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot import templates
from bot.models import Campaign, Candidate, Enrollment, OutboundMessage, SequenceStep
from providers.base import OutgoingEmail


def load_rows(session: Session, ids: Sequence[int]) -> list[OutboundMessage]:
    """The rows with everything composing and recording them touch, in a handful of queries."""
    enrollment = selectinload(OutboundMessage.enrollment)
    return list(session.scalars(
        select(OutboundMessage).where(OutboundMessage.id.in_(ids)).order_by(OutboundMessage.id).options(
            enrollment.selectinload(Enrollment.candidate).selectinload(Candidate.addresses),
            enrollment.selectinload(Enrollment.campaign).selectinload(Campaign.mailbox),
            enrollment.selectinload(Enrollment.campaign).selectinload(Campaign.owner),
        )))


def compose(row: OutboundMessage, steps: dict[int, SequenceStep], now: datetime) -> OutgoingEmail:
    """Raises templates.TemplateProblem when a template no longer renders for this candidate."""
    enrollment = row.enrollment
    campaign, candidate = enrollment.campaign, enrollment.candidate
    values = templates.candidate_values(candidate.name, candidate.fields, enrollment.fields_override)
    step = steps[row.step_position]
    subject = templates.render(step.subject, values, field="subject")
    if row.in_reply_to:  # a follow-up in the same thread carries step 1's subject
        subject = "Re: " + templates.render(steps[1].subject, values, field="subject")
    return OutgoingEmail(
        from_address=campaign.mailbox.address, from_name=campaign.owner.name or None,
        to_address=row.to_address, subject=subject, body=templates.render(step.body, values, field="body"),
        message_id=row.message_id, in_reply_to=row.in_reply_to,
        references=tuple((row.references or "").split()),
        thread_id=enrollment.thread_id if row.in_reply_to else None, date=now,
    )
