"""A page of the campaigns a person sees, each with its candidates counted by status: what
`/outreach status` with no argument and `/outreach campaigns [status]` list. A filter keeps one
status, or the archived ones; without one, every campaign but the archived.

Two statements whatever the number of campaigns (the page, with the total as a window count; then
the counts per status of that page's campaigns), so the answer fits Slack's 3-second ack at
hundreds of campaigns. Read-only and Slack-free; handlers/views/campaigns.py draws it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot.errors import UserError
from bot.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
    PauseReason,
    User,
)
from bot.services import access
from bot.services.campaigns import PAUSE_REASONS

PAGE_SIZE = 20
MAX_PAGE_SIZE = 40  # a campaign is one block, and a message holds 50

# What a list may keep (none: every campaign but the archived ones).
Show = Literal["draft", "scheduled", "active", "paused", "finished", "archived"]
SHOWS: tuple[str, ...] = get_args(Show)


def read_show(word: str) -> Show | None:
    """The filter typed after `/outreach campaigns`: a status, `archived`, or nothing (or `all`)."""
    word = word.strip().lower()
    if word in ("", "all"):
        return None
    if word not in SHOWS:
        shown = word if len(word) <= 40 else word[:40] + "…"
        raise UserError(f"'{shown}' is not a campaign status: use one of {', '.join(SHOWS)}, or nothing for all "
                        "but the archived.")
    return word  # type: ignore[return-value]


def _kept(show: Show | None) -> ColumnElement[bool]:
    live = Campaign.archived_at.is_(None)
    if show is None:
        return live
    if show == "archived":
        return Campaign.archived_at.is_not(None)
    return live & (Campaign.status == CampaignStatus(show))


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    name: str
    status: CampaignStatus
    pause_reason: str | None  # how PAUSE_REASONS says it
    counts: dict[EnrollmentStatus, int]
    owner: str | None = None  # whose it is, when not the reader's own (shared, or sent from their mailbox)
    archived: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[CampaignSummary]
    offset: int  # of the first campaign shown, from 0
    limit: int
    total: int  # every campaign the person sees (that the filter keeps)
    show: Show | None = None  # the filter

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


def campaign_page(session: Session, *, user: User, offset: int, limit: int = PAGE_SIZE,
                  show: Show | None = None) -> CampaignPage:
    """The person's campaigns from `offset` (newest first), at most `limit` of them, kept by `show`
    (every one but the archived when None). An offset past the end gives the last page, and a
    negative one the first: offsets come back from buttons."""
    limit = min(max(limit, 1), MAX_PAGE_SIZE)
    offset = min(max(offset, 0), 2**31 - 1)  # any number a button may bring back is a valid SQL OFFSET
    visible = access.visible_to(user) & _kept(show)  # theirs, shared with them, or sent from their mailbox
    page = select(Campaign.id, Campaign.name, Campaign.status, Campaign.pause_reason, Campaign.owner_id,
                  Campaign.paused_by_id, Campaign.archived_at, User.name.label("owner"),
                  func.count().over().label("total")) \
        .join(User, User.id == Campaign.owner_id).where(visible) \
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
                                   pause_reason=_pause_reason(row, user), counts=counts[row.id],
                                   owner=row.owner if row.owner_id != user.id else None,
                                   archived=row.archived_at is not None) for row in rows],
        offset=offset, limit=limit, total=int(rows[0].total) if rows else 0, show=show)


def _pause_reason(row: Any, user: User) -> str | None:
    if row.pause_reason is None:
        return None
    if row.pause_reason == PauseReason.BY_USER and (row.paused_by_id or row.owner_id) != user.id:
        return "paused"  # by someone else: `/outreach status <campaign>` names who
    return PAUSE_REASONS.get(row.pause_reason)


@dataclass(frozen=True)
class CampaignCounts:
    candidates: int = 0
    sent: int = 0  # emails sent
    replied: int = 0  # candidates who replied


def counts_of(session: Session, campaign_ids: list[int]) -> dict[int, CampaignCounts]:
    """Candidates, emails sent and replies of each campaign, in three grouped queries (Home, the admin list)."""
    if not campaign_ids:
        return {}
    enrolled = dict(session.execute(select(Enrollment.campaign_id, func.count()).where(
        Enrollment.campaign_id.in_(campaign_ids)).group_by(Enrollment.campaign_id)).all())
    replied = dict(session.execute(select(Enrollment.campaign_id, func.count()).where(
        Enrollment.campaign_id.in_(campaign_ids), Enrollment.status == EnrollmentStatus.REPLIED)
        .group_by(Enrollment.campaign_id)).all())
    sent = dict(session.execute(select(Enrollment.campaign_id, func.count()).select_from(OutboundMessage)
                                .join(Enrollment, Enrollment.id == OutboundMessage.enrollment_id)
                                .where(Enrollment.campaign_id.in_(campaign_ids),
                                       OutboundMessage.status == OutboundStatus.SENT)
                                .group_by(Enrollment.campaign_id)).all())
    return {i: CampaignCounts(int(enrolled.get(i, 0)), int(sent.get(i, 0)), int(replied.get(i, 0)))
            for i in campaign_ids}


# ---- workspace admins ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdminLine:
    id: int
    name: str
    owner: str
    status: str
    candidates: int
    sent: int
    replied: int


def admin_listing(session: Session, *, user: User, offset: int = 0, limit: int = 50) -> tuple[list[AdminLine], int]:
    """Every campaign of the admin's workspace, newest first: names, owners and counts only."""
    access.require_admin(user)
    where = Campaign.organisation_id == user.organisation_id
    total = session.scalar(select(func.count()).select_from(Campaign).where(where)) or 0
    campaigns = session.execute(select(Campaign.id, Campaign.name, User.name, Campaign.status)
                                .join(User, User.id == Campaign.owner_id).where(where)
                                .order_by(Campaign.created_at.desc(), Campaign.id.desc())
                                .offset(offset).limit(limit)).all()
    counts = counts_of(session, [row[0] for row in campaigns])
    return [AdminLine(id=i, name=n, owner=o or "", status=s.value, candidates=counts[i].candidates,
                      sent=counts[i].sent, replied=counts[i].replied) for i, n, o, s in campaigns], total
