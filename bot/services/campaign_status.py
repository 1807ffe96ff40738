"""Where a campaign stands: counts by candidate status, one page of candidates, the next sends.

Read-only and Slack-free; handlers/views/campaigns.py draws it. Queries are per page and per
aggregate, so a campaign of thousands costs the same few statements as one of ten.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
    SequenceStep,
)
from bot.services import access
from bot.services.campaigns import PlannedSend, pause_reason, upcoming_sends

PAGE_SIZE = 15
# SPEC "Campaign life": the statuses a recruiter sees, in the order a campaign moves through them.
STATUS_LABELS = {
    EnrollmentStatus.NOT_STARTED: "Not Started",
    EnrollmentStatus.IN_PROGRESS: "In progress",
    EnrollmentStatus.OUT_OF_OFFICE: "Out of office",
    EnrollmentStatus.PAUSED: "Paused",
    EnrollmentStatus.REPLIED: "Replied (ended)",
    EnrollmentStatus.BOUNCED: "Bounced (ended)",
    EnrollmentStatus.FINISHED: "Finished",
    EnrollmentStatus.REMOVED: "Removed",  # taken out by the recruiter; what was sent stays
}


@dataclass(frozen=True)
class CandidateLine:
    enrollment_id: int
    name: str
    status: EnrollmentStatus
    label: str  # "In progress (step 2 of 3)", "Not Started · step 1 Pending", ...
    address: str | None  # where the next (or last) step goes; None when the viewer may not see it
    next_due: datetime | None
    reason: str | None


@dataclass(frozen=True)
class CampaignStatusView:
    id: int
    name: str
    status: CampaignStatus
    pause_reason: str | None
    sequence: str
    steps: int
    mailbox: str
    timezone: str
    alert_channel: str | None
    counts: dict[EnrollmentStatus, int]
    candidates: list[CandidateLine]
    page: int
    pages: int
    next_sends: list[PlannedSend]
    planned: int
    # What the viewer may do and whom it is shared with (access.py decides; the view only draws it).
    owner: str = ""
    role: access.Role = access.Role.OWNER
    may_pause: bool = True
    may_change: bool = True
    shares: tuple[access.ShareLine, ...] = ()
    archived: bool = False  # a finished campaign its owner archived: shown without buttons

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _label(status: EnrollmentStatus, steps_sent: int, steps: int, pending_step: int | None) -> str:
    if status == EnrollmentStatus.IN_PROGRESS:
        return f"In progress (step {steps_sent} of {steps} sent)"
    if status == EnrollmentStatus.OUT_OF_OFFICE:
        return f"Out of office (step {steps_sent} of {steps} sent, sequence goes on)"
    if status == EnrollmentStatus.NOT_STARTED and pending_step is not None:
        return f"Not Started · step {pending_step} Pending"
    return STATUS_LABELS[status]


def campaign_status(session: Session, campaign: Campaign, *, page: int = 0,
                    viewer: access.Access | None = None) -> CampaignStatusView:
    """The campaign as `viewer` may see it (its owner when None: the campaign message in their DM)."""
    viewer = viewer or access.Access(campaign, campaign.owner, access.Role.OWNER)
    counts = Counter({status: int(n) for status, n in session.execute(
        select(Enrollment.status, func.count()).where(Enrollment.campaign_id == campaign.id)
        .group_by(Enrollment.status)).all()})
    total = sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    steps = session.scalar(select(func.count()).where(SequenceStep.sequence_id == campaign.sequence_id)) or 0
    rows = session.execute(
        select(Enrollment.id, Candidate.name, Enrollment.status, Enrollment.steps_sent, Enrollment.status_reason,
               Candidate.id)
        .join(Candidate, Candidate.id == Enrollment.candidate_id).where(Enrollment.campaign_id == campaign.id)
        .order_by(Candidate.name, Enrollment.id).offset(page * PAGE_SIZE).limit(PAGE_SIZE)).all()
    latest: dict[int, tuple[str, int, datetime, OutboundStatus]] = {}
    O = OutboundMessage
    for enrollment_id, address, step, due, status in session.execute(
            select(O.enrollment_id, O.to_address, O.step_position, O.due_at, O.status)
            .where(O.enrollment_id.in_([r[0] for r in rows]),
                   O.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING, OutboundStatus.SENT]))
            .order_by(O.step_position)).all():
        latest[enrollment_id] = (address, step, due, status)  # the highest step wins
    hidden = access.hidden_addresses(session, candidate_ids=[r[5] for r in rows], viewer_id=viewer.user.id)
    lines = []
    for enrollment_id, name, status, steps_sent, reason, candidate_id in rows:
        address, step, due, row_status = latest.get(enrollment_id, (None, None, None, None))
        if (candidate_id, address) in hidden:
            address = None
        pending = step if row_status == OutboundStatus.PENDING else None
        lines.append(CandidateLine(enrollment_id=enrollment_id, name=name, status=status,
                                   label=_label(status, steps_sent, steps, pending), address=address,
                                   next_due=due if pending and status.sends else None, reason=reason))
    sends, planned = upcoming_sends(session, campaign, viewer_id=viewer.user.id, limit=5) \
        if campaign.status != CampaignStatus.DRAFT else ([], 0)
    return CampaignStatusView(
        id=campaign.id, name=campaign.name, status=campaign.status,
        pause_reason=pause_reason(campaign, viewer_id=viewer.user.id),
        sequence=campaign.sequence.name, steps=steps, mailbox=campaign.mailbox.address,
        timezone=campaign.timezone, alert_channel=campaign.alert_channel_id, counts=dict(counts),
        candidates=lines, page=page, pages=pages, next_sends=sends, planned=planned,
        owner=campaign.owner.name, role=viewer.role, may_pause=viewer.may(access.Need.PAUSE),
        may_change=viewer.may(access.Need.CHANGE),
        shares=tuple(access.shares_of(session, campaign)) if viewer.may(access.Need.SHARE) else (),
        archived=campaign.archived_at is not None)
