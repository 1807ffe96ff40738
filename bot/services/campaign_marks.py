"""The campaign message's "may be out of date" marker. Every write that changes what a campaign's
message in Slack shows (a send recorded, a reply, bounce or out-of-office, a pause or resume, a
step planned, a candidate added or changed, a share, a sequence's steps) adds one to
campaigns.message_version, in the writer's own transaction. The refresher
(handlers.campaigns.refresh_campaign_messages) draws only campaigns whose message_version moved
past the one it last drew, so a tick with nothing changed costs one SELECT."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import Campaign, Enrollment


def mark_stale(session: Session, campaign_ids: Iterable[int]) -> None:
    """One UPDATE, rows in id order (two writers marking the same campaigns never deadlock)."""
    ids = sorted(set(campaign_ids))
    if ids:
        session.execute(update(Campaign).where(Campaign.id.in_(ids))
                        .values(message_version=Campaign.message_version + 1)
                        .execution_options(synchronize_session=False))


def mark_stale_enrollments(session: Session, enrollment_ids: Iterable[int]) -> None:
    ids = sorted(set(enrollment_ids))
    if ids:
        mark_stale(session, session.scalars(select(Enrollment.campaign_id).where(Enrollment.id.in_(ids)).distinct()))


def mark_stale_sequence(session: Session, sequence_id: int) -> None:
    mark_stale(session, session.scalars(select(Campaign.id).where(Campaign.sequence_id == sequence_id)))
