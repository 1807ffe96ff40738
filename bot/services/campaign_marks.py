"""The campaign message's "may be out of date" marker. Every write that changes what a campaign's
message in Slack shows (a send recorded, a reply, bounce or out-of-office, a pause or resume, a
step planned, a candidate added or changed, a share, a sequence's steps) adds one to
campaigns.message_version, in the writer's own transaction. The refresher
(handlers.campaign_message.refresh_campaign_messages) draws only campaigns whose message_version moved
past the one it last drew, so a tick with nothing changed costs one SELECT."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import Campaign, CampaignStatus, Enrollment


def mark_stale(session: Session, campaign_ids: Iterable[int], **also: Any) -> None:
    """One UPDATE, rows in id order (two writers marking the same campaigns never deadlock); `also`:
    more columns the writer sets on the same rows in the same statement."""
    ids = sorted(set(campaign_ids))
    if ids:
        session.execute(update(Campaign).where(Campaign.id.in_(ids))
                        .values(message_version=Campaign.message_version + 1, **also)
                        .execution_options(synchronize_session=False))


def mark_stale_enrollments(session: Session, enrollment_ids: Iterable[int]) -> None:
    ids = sorted(set(enrollment_ids))
    if ids:
        mark_stale(session, session.scalars(select(Enrollment.campaign_id).where(Enrollment.id.in_(ids)).distinct()))


def mark_stale_sequence(session: Session, sequence_id: int) -> None:
    mark_stale(session, session.scalars(select(Campaign.id).where(Campaign.sequence_id == sequence_id)))


# ---- the refresher's reads and writes (handlers.campaign_message: read, Slack outside, record) ---
def stale_messages(session: Session) -> list[Campaign]:
    """Campaigns with a message in Slack marked stale since it was last drawn (message_version
    past message_drawn_version), a finished one only until its last message is recorded."""
    return list(session.scalars(select(Campaign).where(Campaign.status_ts.is_not(None)).where(
        (Campaign.status != CampaignStatus.FINISHED) | ~Campaign.status_hash.startswith("finished:")).where(
        Campaign.message_drawn_version.is_(None) | (Campaign.message_drawn_version != Campaign.message_version))))


def record_message(session: Session, *, campaign_id: int, read_ts: str | None, channel: str, ts: str, key: str,
                   version: int) -> bool:
    """Where the campaign's message is and what it shows, only if its ts is still `read_ts` (the one
    read before Slack was called): one guarded UPDATE. True when recorded."""
    seen = Campaign.status_ts.is_(None) if read_ts is None else Campaign.status_ts == read_ts
    return session.execute(update(Campaign).where(Campaign.id == campaign_id, seen).values(
        status_channel=channel, status_ts=ts, status_hash=key, message_drawn_version=version)).rowcount == 1


def record_drawn(session: Session, versions: Iterable[tuple[int, int]]) -> None:
    """Drawn and showing the same: only the version read is recorded, per (campaign id, version)."""
    for campaign_id, version in versions:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(message_drawn_version=version))
