"""Where a campaign stands: counts by candidate status, one page of candidates, the next sends.

Read-only and Slack-free; handlers/views/campaigns.py draws it. Queries are per page and per
aggregate, so a campaign of thousands costs the same few statements as one of ten.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    InboundKind,
    OutboundMessage,
    OutboundStatus,
    SequenceStep,
)
from bot.rules import when
from bot.services import access, planner
from bot.services.campaigns import PlannedSend, pause_reason, upcoming_sends
from bot.services.direct_send import PROVIDER_NAME

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
    EnrollmentStatus.DO_NOT_CONTACT: "Do not contact (ended)",  # on the do-not-contact list
    EnrollmentStatus.COMPLAINED: "Marked as spam (ended)",  # a complaint: on the list too
}


@dataclass(frozen=True)
class CandidateLine:
    enrollment_id: int
    name: str
    status: EnrollmentStatus
    label: str  # "In progress (step 2 of 3)", "Not Started · step 1 Pending", ...
    # Where the next (or last) step goes, never one that bounced; for a candidate who replied, the
    # address the reply came from. None when the viewer may not see it.
    address: str | None
    next_due: datetime | None
    reason: str | None
    bounced: tuple[str, ...] = ()  # addresses that bounced (the bot moved on), as the viewer may see them


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


def away_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _label(status: EnrollmentStatus, steps_sent: int, steps: int, pending_step: int | None,
           away_until: date | None = None) -> str:
    if status == EnrollmentStatus.IN_PROGRESS:
        return f"In progress (step {steps_sent} of {steps} sent)"
    if status == EnrollmentStatus.OUT_OF_OFFICE and away_until is not None:  # the auto-reply stated a return
        return (f"Out of office until {away_text(away_until)} (step {steps_sent} of {steps} sent, "
                "the next waits for their return)")
    if status == EnrollmentStatus.OUT_OF_OFFICE:
        return f"Out of office (step {steps_sent} of {steps} sent, sequence goes on)"
    if status == EnrollmentStatus.NOT_STARTED and pending_step is not None:
        return f"Not Started · step {pending_step} Pending"
    return STATUS_LABELS[status]


status_label = _label  # a candidate's status as the campaign message words it (also for exports)


def _addresses_in_use(session: Session, tried: dict[int, Sequence[str]]
                      ) -> dict[int, tuple[str, int, datetime, OutboundStatus]]:
    """Each enrollment's latest planned, sending or sent step (address, step, due, status), to an
    address that has not bounced: after a bounce the bot moved on to another address and planned
    the step again, so the latest row to a live address is where the candidate is written to now."""
    latest: dict[int, tuple[str, int, datetime, OutboundStatus]] = {}
    O = OutboundMessage
    for enrollment_id, address, step, due, status in session.execute(
            select(O.enrollment_id, O.to_address, O.step_position, O.due_at, O.status)
            .where(O.enrollment_id.in_(list(tried)),
                   O.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING, OutboundStatus.SENT]))
            .order_by(O.step_position, O.id)).all():
        if address not in tried[enrollment_id]:
            latest[enrollment_id] = (address, step, due, status)  # the highest step, then the newest row, wins
    return latest


def _replied_from(session: Session, enrollment_ids: Sequence[int]) -> dict[int, str]:
    """The address each candidate replied from (the latest reply's From), which may not be the one
    written to: a reply from another of their addresses counts too (bot.services.replies)."""
    if not enrollment_ids:
        return {}
    found: dict[int, str] = {}
    for enrollment_id, address in session.execute(
            select(InboundEvent.enrollment_id, InboundEvent.from_address)
            .where(InboundEvent.enrollment_id.in_(list(enrollment_ids)), InboundEvent.kind == InboundKind.REPLY,
                   InboundEvent.from_address.is_not(None))
            .order_by(InboundEvent.received_at, InboundEvent.id)).all():
        found[enrollment_id] = address
    return found


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
               Candidate.id, Enrollment.tried_addresses, Enrollment.away_until)
        .join(Candidate, Candidate.id == Enrollment.candidate_id).where(Enrollment.campaign_id == campaign.id)
        .order_by(Candidate.name, Enrollment.id).offset(page * PAGE_SIZE).limit(PAGE_SIZE)).all()
    addresses = _addresses_in_use(session, {r[0]: r[6] or () for r in rows})
    replied_from = _replied_from(session, [r[0] for r in rows if r[2] == EnrollmentStatus.REPLIED])
    hidden = {(c, a.lower()) for c, a in access.hidden_addresses(session, candidate_ids=[r[5] for r in rows],
                                                                  viewer_id=viewer.user.id)}
    lines = []
    for enrollment_id, name, status, steps_sent, reason, candidate_id, tried, away_until in rows:
        address, step, due, row_status = addresses.get(enrollment_id, (None, None, None, None))
        address = replied_from.get(enrollment_id) or address
        if address is not None and (candidate_id, address.lower()) in hidden:
            address = None
        pending = step if row_status == OutboundStatus.PENDING else None
        lines.append(CandidateLine(enrollment_id=enrollment_id, name=name, status=status,
                                   label=_label(status, steps_sent, steps, pending, away_until),
                                   address=address,
                                   next_due=due if pending and status.sends else None, reason=reason,
                                   bounced=tuple(a for a in tried or () if (candidate_id, a.lower()) not in hidden)))
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


# ---- why sends wait (`/outreach when`) -----------------------------------------------------------
@dataclass(frozen=True)
class Wait:
    """One reason the campaign's next sends wait. kind: "paused"; a mailbox hold ("spacing",
    "daily_cap", "rate_limit", or "held" for one written before holds kept their reason); or
    "send_days" (today, and maybe more days, carry no sends)."""
    kind: str
    until: datetime | None = None  # the hold's end, or the next send day's start
    detail: str = ""  # the pause's reason, the provider's name, the days off ("Sat, Sun", "Fri 25 Dec")
    mailbox: str = ""
    number: int = 0  # the spacing in seconds, or the daily cap


def send_waits(session: Session, campaign: Campaign, *, now: datetime, viewer_id: int) -> list[Wait]:
    """Why the campaign's next sends wait now, most binding first: a pause, the mailbox's hold
    (not_before and the reason written with it), the campaign's send days and holidays."""
    if campaign.status == CampaignStatus.PAUSED:
        return [Wait("paused", detail=pause_reason(campaign, viewer_id=viewer_id) or "paused")]
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
        return []
    waits: list[Wait] = []
    mailbox = campaign.mailbox
    if mailbox.not_before is not None and mailbox.not_before > now:
        kind = mailbox.not_before_reason or "held"
        number = {"spacing": mailbox.min_spacing_seconds, "daily_cap": mailbox.daily_cap}.get(kind, 0)
        waits.append(Wait(kind, mailbox.not_before, PROVIDER_NAME.get(mailbox.provider, "The mail provider"),
                          mailbox.address, number))
    zone = ZoneInfo(campaign.timezone)
    calendar = planner.calendar_of(session, campaign)
    today = now.astimezone(zone).date()
    if not calendar.is_send_day(today):
        day = calendar.next_send_day(today)
        off = [today + timedelta(days=n) for n in range((day - today).days)]
        words = ", ".join(f"{d:%a %d %b}" + (" (a holiday)" if d in calendar.holidays else "") for d in off)
        waits.append(Wait("send_days", when.wall(day, time(0, 0), zone), words))
    return waits


def current_and_bounced(session: Session, enrollment: Enrollment, *, viewer_id: int) -> tuple[str | None, tuple[str, ...]]:
    """The address the candidate is written to now in this campaign, and the ones that bounced, as
    `viewer_id` may see them (for the candidate modal)."""
    tried = tuple(enrollment.tried_addresses or ())
    in_use = _addresses_in_use(session, {enrollment.id: tried}).get(enrollment.id)
    addresses = enrollment.candidate.addresses
    current = access.shown_address(addresses, in_use[0], viewer_id) if in_use else None
    return current, tuple(a for a in tried if access.shown_address(addresses, a, viewer_id))
