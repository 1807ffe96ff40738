"""A page of the campaigns a person sees, each with its candidates counted by status: what
`/outreach status` with no argument lists.

Two statements whatever the number of campaigns (the page, with the total as a window count; then
the counts per status of that page's campaigns), so the answer fits Slack's 3-second ack at
hundreds of campaigns. Read-only and Slack-free; handlers/views/campaigns.py draws it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Campaign, CampaignStatus, Enrollment, EnrollmentStatus, User
from bot.services.campaigns import PAUSE_REASONS

PAGE_SIZE = 20
MAX_PAGE_SIZE = 40  # a campaign is one block, and a message holds 50


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    name: str
    status: CampaignStatus
    pause_reason: str | None  # how PAUSE_REASONS says it
    counts: dict[EnrollmentStatus, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[CampaignSummary]
    offset: int  # of the first campaign shown, from 0
    limit: int
    total: int  # every campaign the person sees

    @property
    def first(self) -> int:
        """The first shown, counted from 1 ("Campaigns 1–20 of 57"); 0 when there is none."""
        return self.offset + 1 if self.campaigns else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.campaigns)

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.last if self.last < self.total else None


def campaign_page(session: Session, *, user: User, offset: int, limit: int = PAGE_SIZE) -> CampaignPage:
    """The person's campaigns from `offset` (newest first), at most `limit` of them. An offset past
    the end gives the last page, and a negative one the first: offsets come back from buttons."""
    limit = min(max(limit, 1), MAX_PAGE_SIZE)
    offset = min(max(offset, 0), 2**31 - 1)  # any number a button may bring back is a valid SQL OFFSET
    # Who sees which campaign: the same selection as campaigns_of (bot/services/campaigns.py). When
    # the access policy changes, this WHERE clause is the one place to change here.
    visible = Campaign.owner_id == user.id
    page = select(Campaign.id, Campaign.name, Campaign.status, Campaign.pause_reason,
                  func.count().over().label("total")).where(visible) \
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    rows = session.execute(page.offset(offset).limit(limit)).all()
    if not rows and offset > 0:  # past the end (campaigns deleted meanwhile, or a made-up offset)
        total = session.scalar(select(func.count()).select_from(Campaign).where(visible)) or 0
        offset = max(0, (total - 1) // limit * limit)
        rows = session.execute(page.offset(offset).limit(limit)).all() if total else []
    counts: dict[int, dict[EnrollmentStatus, int]] = {row.id: {} for row in rows}
    if rows:
        for campaign_id, status, n in session.execute(
                select(Enrollment.campaign_id, Enrollment.status, func.count())
                .where(Enrollment.campaign_id.in_(list(counts)))
                .group_by(Enrollment.campaign_id, Enrollment.status)):
            counts[campaign_id][status] = int(n)
    return CampaignPage(
        campaigns=[CampaignSummary(id=row.id, name=row.name, status=row.status,
                                   pause_reason=PAUSE_REASONS.get(row.pause_reason) if row.pause_reason else None,
                                   counts=counts[row.id]) for row in rows],
        offset=offset, limit=limit, total=int(rows[0].total) if rows else 0)
