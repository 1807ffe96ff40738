"""Editing a campaign's settings (`/outreach campaign edit`, the Edit button): check, apply, re-plan.

| setting | draft | started (scheduled, active, paused, finished) |
|---|---|---|
| name (unique per owner, ignoring case) | yes | yes |
| when to send, specific time, time zone, send days, holidays | yes: the preview follows | yes: pending sends re-planned (bot.services.replan) |
| address preference, strict | yes | yes: pending first emails readdressed (none allowed under strict: cancelled, as Start plans none) |
| follow-ups in the thread | yes | yes: pending follow-ups threaded or not |
| alert channel | yes | yes (the surface checks the bot is in it) |
| open tracking (only where the organisation allows it) | yes | yes: the emails sent from then on |
| sequence, mailbox | owner only | no: emails already went out from that mailbox, in threads of that sequence |

Who: the owner and teammates it is shared with to edit (access.Need.CHANGE).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import AddressKind, Campaign, CampaignStatus, OutboundMessage, OutboundStatus, SendPreference
from bot.services import access as access_policy, transitions
from bot.services.access import Access, Need
from bot.services.campaign_marks import mark_stale
from bot.services.campaigns import check_timezone
from bot.services.holidays import check_calendar
from bot.services.mailboxes import sending_mailboxes
from bot.services.recipients import choose_address
from bot.services.replan import movable_rows, replan_campaign
from bot.services.sequences import sequences_of
from bot.services.tracking_settings import check_campaign_switch
from bot.services.unique_names import ensure_free

SOURCES_FIXED = ("The sequence and the mailbox stay as they are once a campaign has started: its emails went out "
                 "from that mailbox, and follow-ups continue those threads. Start a new campaign to use others.")
SOURCES_OWNER_ONLY = "Only the campaign's owner picks its sequence and mailbox, from their own."
RE_PLANNED = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED)


@dataclass(frozen=True)
class CampaignEdit:
    """The modal's answers (the surface reads them; this module checks them)."""

    name: str
    preference: SendPreference
    specific_time: time | None
    timezone: str
    send_days: str
    holidays: tuple[date, ...]
    email_preference: AddressKind
    strict_preference: bool
    alert_channel_id: str | None
    same_thread: bool
    sequence_id: int | None = None  # only where may_change_sources: a draft, its owner
    mailbox_id: int | None = None
    track_opens: bool | None = None  # None: not offered (the organisation does not allow it), unchanged


@dataclass(frozen=True)
class EditOutcome:
    moved: int  # pending sends re-planned
    readdressed: int  # pending first emails sent to another address (or cancelled: none allowed)


def may_change_sources(access: Access) -> bool:
    return access.campaign.status == CampaignStatus.DRAFT and access.is_owner


def sources_note(access: Access) -> str | None:
    """Why the modal does not offer the sequence and mailbox, or None when it does."""
    if access.campaign.status != CampaignStatus.DRAFT:
        return SOURCES_FIXED
    return None if access.is_owner else SOURCES_OWNER_ONLY


def check_editable(session: Session, access: Access) -> None:
    """Who may edit (access.Need.CHANGE, checked again here beside the edit) and what: not an archived one."""
    access_policy.check(session, user=access.user, campaign=access.campaign, need=Need.CHANGE)
    if access.campaign.archived_at is not None:
        raise UserError(f"'{access.campaign.name}' is archived: it can no longer be changed.")


@dataclass(frozen=True)
class _Checked:
    name: str
    timezone: str
    sequence_id: int
    mailbox_id: int


def check_edit(session: Session, *, access: Access, edit: CampaignEdit, now: datetime) -> _Checked:
    """Every answer checked, nothing written: a UserError on the field at fault. The surface calls it
    before acknowledging the modal (its errors go back on the fields), edit_campaign again after."""
    check_editable(session, access)
    campaign = access.campaign
    name = edit.name.strip()
    if not name:
        raise UserError("Give the campaign a name.", field="name")
    ensure_free(session, Campaign, owner_id=campaign.owner_id, name=name, exclude_id=campaign.id)
    if edit.preference == SendPreference.SPECIFIC and edit.specific_time is None:
        raise UserError("Pick the time of day for 'At a specific time'.", field="specific_time")
    zone = check_timezone(edit.timezone)
    if not edit.send_days:
        raise UserError("Pick at least one day to send on.", field="send_days")
    check_calendar(edit.send_days, edit.holidays, today=now.date())
    check_campaign_switch(session, organisation_id=campaign.organisation_id, track_opens=bool(edit.track_opens))
    return _Checked(name, zone, *_sources(session, access, edit))


def edit_campaign(session: Session, *, access: Access, edit: CampaignEdit, now: datetime,
                  rng: random.Random) -> EditOutcome:
    """Check every answer (check_edit), apply them, and re-plan: a campaign of many candidates takes
    seconds, so a surface acknowledges Slack before calling this (after check_edit)."""
    checked = check_edit(session, access=access, edit=edit, now=now)
    campaign = access.campaign
    campaign.sequence_id, campaign.mailbox_id = checked.sequence_id, checked.mailbox_id
    timing_before = _timing(campaign)
    addressing_before = (campaign.email_preference, campaign.strict_preference)
    threading_before = campaign.same_thread
    campaign.name, campaign.send_preference, campaign.specific_time = checked.name, edit.preference, edit.specific_time
    campaign.timezone, campaign.send_days = checked.timezone, edit.send_days
    campaign.holidays = [d.isoformat() for d in sorted(set(edit.holidays))]
    campaign.email_preference, campaign.strict_preference = edit.email_preference, edit.strict_preference
    campaign.alert_channel_id, campaign.same_thread = edit.alert_channel_id or None, edit.same_thread
    if edit.track_opens is not None:  # read at each send: applies to the emails sent from now on
        campaign.track_opens = edit.track_opens
    session.flush()
    session.expire(campaign, ["sequence", "mailbox"])  # a draft's new ones, read again when next used
    mark_stale(session, [campaign.id])

    moved = readdressed = 0
    if campaign.status in RE_PLANNED:
        addressing = addressing_before != (campaign.email_preference, campaign.strict_preference)
        threading = threading_before != campaign.same_thread
        if addressing or threading:
            rows = movable_rows(session, campaign, now=now)
            readdressed = _readdress(session, campaign, rows) if addressing else 0
            if threading:
                _rethread(campaign, [row for row in rows if row.status == OutboundStatus.PENDING])
            session.flush()
        if timing_before != _timing(campaign):
            moved = replan_campaign(session, campaign, now=now, rng=rng)
    session.flush()
    return EditOutcome(moved, readdressed)


def _timing(campaign: Campaign) -> tuple[object, ...]:
    return (campaign.send_preference, campaign.specific_time, campaign.timezone, campaign.send_days,
            sorted(campaign.holidays or []))


def _sources(session: Session, access: Access, edit: CampaignEdit) -> tuple[int, int]:
    """The sequence and mailbox after the edit: a draft's may change, picked by its owner among their
    own (as at creation); otherwise they stay."""
    campaign = access.campaign
    wants_sequence = edit.sequence_id is not None and edit.sequence_id != campaign.sequence_id
    wants_mailbox = edit.mailbox_id is not None and edit.mailbox_id != campaign.mailbox_id
    if (wants_sequence or wants_mailbox) and not may_change_sources(access):
        raise UserError(sources_note(access) or SOURCES_FIXED, field="sequence" if wants_sequence else "mailbox")
    if wants_sequence and not any(s.id == edit.sequence_id for s in sequences_of(session, user=access.user)):
        raise UserError("That sequence is gone: pick another.", field="sequence")
    if wants_mailbox and not any(m.id == edit.mailbox_id for m in sending_mailboxes(session, access.user)):
        raise UserError("You can no longer send from that mailbox: pick another.", field="mailbox")
    return (edit.sequence_id if wants_sequence else campaign.sequence_id,  # type: ignore[return-value]
            edit.mailbox_id if wants_mailbox else campaign.mailbox_id)


def _readdress(session: Session, campaign: Campaign, rows: list[OutboundMessage]) -> int:
    """Pending first emails of candidates nothing was sent to yet, on no address picked by hand, go to
    the address the new preference picks; none allowed (strict): the email is cancelled, as Start
    would have planned none. Mid-sequence candidates keep their thread's address."""
    changed = 0
    for row in rows:
        enrollment = row.enrollment
        if enrollment is None or row.step_position != 1 or enrollment.steps_sent or enrollment.address_override:
            continue
        address = choose_address(enrollment.candidate.addresses, preferred=campaign.email_preference,
                                 strict=campaign.strict_preference, user_id=campaign.owner_id,
                                 exclude=enrollment.tried_addresses)
        if address is None:
            transitions.cancel_planned(session, enrollment.id)
            session.refresh(row, ["status"])
            changed += 1
        elif address != row.to_address:
            row.to_address = address
            changed += 1
    return changed


def _rethread(campaign: Campaign, rows: list[OutboundMessage]) -> None:
    """Pending follow-ups answer the thread or not, as the planner would plan them now."""
    for row in rows:
        enrollment = row.enrollment
        if enrollment is None or row.step_position == 1:
            continue
        references = (enrollment.thread_references or "").split()
        threaded = campaign.same_thread and bool(references)
        row.in_reply_to = references[-1] if threaded else None
        row.references = " ".join(references) if threaded else None
