"""A mailbox's connection over its life: connected, lost (needs reconnect), reconnected, disconnected.
Slack-free: callers pass a session and a clock; people are told through the notifications outbox.

Lost connection (seed 000, 002): the mailbox becomes *needs reconnect*, every campaign sending from
it pauses, and its owner gets one DM with a Reconnect button (however many sends or syncs fail).
Reconnecting leaves campaigns paused (seed behaviour) and answers in that DM's thread with a button
that resumes them all (ours). Disconnecting deletes the credentials and pauses the campaigns.
"""
from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    Campaign,
    CampaignStatus,
    Mailbox,
    MailboxStatus,
    Organisation,
    PauseReason,
    PermissionLevel,
    Provider,
    User,
)
from bot.services.campaigns import resume_campaign
from bot.services.delegations import end_for_mailbox, may_use
from bot.services.mailboxes import connect_mailbox, normalise_address
from bot.services.notifications import notify
from bot.services.campaign_marks import mark_stale
from bot.wording import agrees, counted

SENDING = [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]
CONNECTION_PAUSES = [PauseReason.NEEDS_RECONNECT, PauseReason.MAILBOX_DISCONNECTED]


def _lost_key(mailbox_id: int, connected_at: datetime | None) -> str:
    """One "connection lost" notice per mailbox and connection (the DM a later resume answers in)."""
    return f"needs_reconnect:{mailbox_id}:{connected_at.isoformat() if connected_at else 'never'}"


def _pause_sending(session: Session, mailbox: Mailbox, reason: PauseReason, now: datetime) -> list[tuple[str, int]]:
    """Every campaign sending from the mailbox pauses, its owner's and delegates' alike: (name, owner id)."""
    paused = [(campaign_id, name, owner_id) for campaign_id, name, owner_id in session.execute(
        update(Campaign).where(Campaign.mailbox_id == mailbox.id, Campaign.status.in_(SENDING))
        .values(status=CampaignStatus.PAUSED, pause_reason=reason, paused_at=now)
        .returning(Campaign.id, Campaign.name, Campaign.owner_id)).all()]
    mark_stale(session, [campaign_id for campaign_id, _, _ in paused])  # their messages say paused
    return [(name, owner_id) for _, name, owner_id in paused]


def _by_delegate(mailbox: Mailbox, paused: list[tuple[str, int]]) -> dict[int, list[str]]:
    """Paused campaigns of people other than the mailbox's owner (recruiters it is delegated to)."""
    found: dict[int, list[str]] = {}
    for name, owner_id in paused:
        if owner_id != mailbox.owner_id:
            found.setdefault(owner_id, []).append(name)
    return found


def _tell_delegates(session: Session, mailbox: Mailbox, paused: list[tuple[str, int]], *, kind: str, key: str,
                    what: str, clock: Clock) -> None:
    for owner_id, names in _by_delegate(mailbox, paused).items():
        recruiter = session.get(User, owner_id)
        assert recruiter is not None
        notify(session, user=recruiter, kind=kind, clock=clock, dedupe_key=f"{key}:{owner_id}",
               text=(f":warning: {mailbox.owner.name}'s mailbox {mailbox.address} {what}, so "
                     + ", ".join(f"*{n}*" for n in sorted(names))
                     + (" is" if len(names) == 1 else " are") + " paused."))


def mark_needs_reconnect(session: Session, *, mailbox: Mailbox, reason: str, clock: Clock) -> bool:
    """The grant is gone (refresh, send or sync said so). Returns False when it was already known."""
    if mailbox.status != MailboxStatus.CONNECTED:
        return False
    mailbox.status, mailbox.status_reason = MailboxStatus.NEEDS_RECONNECT, reason[:500]
    paused = _pause_sending(session, mailbox, PauseReason.NEEDS_RECONNECT, clock.now())
    lost_key = _lost_key(mailbox.id, mailbox.connected_at)
    notify(session, user=mailbox.owner, kind="needs_reconnect", clock=clock, dedupe_key=lost_key,
           action="reconnect", action_value=str(mailbox.id),
           text=(f":warning: The connection to {mailbox.address} was lost ({reason[:200]}), so nothing more "
                 f"can be sent from it. {counted(len(paused), 'campaign')} {agrees(len(paused), 'is', 'are')} paused until you reconnect it."))
    _tell_delegates(session, mailbox, paused, kind="needs_reconnect", key=lost_key, clock=clock,
                    what=f"lost its connection and needs {mailbox.owner.name} to sign in again")
    return True


def complete_connect(session: Session, *, owner: User, provider: Provider, address: str, credentials: bytes | None,
                     enhanced: bool, clock: Clock) -> Mailbox:
    """Store a finished sign-in (credentials already encrypted), tell the owner, and offer to resume
    what a lost or removed connection paused: in the thread of the "connection lost" DM if there was one."""
    existing = session.scalar(select(Mailbox).where(Mailbox.address == normalise_address(address)))
    lost_key = (_lost_key(existing.id, existing.connected_at)
                if existing is not None and existing.status == MailboxStatus.NEEDS_RECONNECT else None)
    mailbox = connect_mailbox(session, owner=owner, provider=provider, address=address, credentials=credentials,
                              permission_level=PermissionLevel.ENHANCED if enhanced else PermissionLevel.BASIC,
                              clock=clock)
    mailbox.not_before, mailbox.not_before_reason = None, None
    everyone = paused_by_connection(session, mailbox)
    paused = [c for c in everyone if c.owner_id == owner.id]
    stamp = mailbox.connected_at.isoformat() if mailbox.connected_at else ""
    delegated: dict[int, list[Campaign]] = {}  # recruiters sending from it by delegation resume their own
    for campaign in everyone:
        if campaign.owner_id != owner.id and may_use(session, user_id=campaign.owner_id, mailbox=mailbox,
                                                     campaign_id=campaign.id):
            delegated.setdefault(campaign.owner_id, []).append(campaign)
    for recruiter_id, theirs in delegated.items():
        notify(session, user=theirs[0].owner, kind="resume_offer", clock=clock,
               dedupe_key=f"resume_offer:{mailbox.id}:{stamp}:{recruiter_id}",
               action="resume_all", action_value=str(mailbox.id),
               text=(f":white_check_mark: {owner.name} connected {mailbox.address} again. Resume your "
                     f"campaigns paused by it: " + ", ".join(f"*{c.name}*" for c in theirs)))
    level = "enhanced" if enhanced else "basic"
    notify(session, user=owner, kind="connected", clock=clock, dedupe_key=f"connected:{mailbox.id}:{stamp}",
           thread_of=lost_key,
           text=(f":white_check_mark: {mailbox.address} is connected ({level} permissions). "
                 + ("You can now send campaigns from it." if not paused else
                    f"{counted(len(paused), 'campaign')} from it {agrees(len(paused), 'is', 'are')} still paused.")))
    if paused:
        notify(session, user=owner, kind="resume_offer", clock=clock, dedupe_key=f"resume_offer:{mailbox.id}:{stamp}",
               thread_of=lost_key, action="resume_all", action_value=str(mailbox.id),
               text=f"Resume {counted(len(paused), 'paused campaign')} from {mailbox.address}: "
                    + ", ".join(f"*{c.name}*" for c in paused))
    return mailbox


def paused_by_connection(session: Session, mailbox: Mailbox, owner_id: int | None = None) -> list[Campaign]:
    query = select(Campaign).where(
        Campaign.mailbox_id == mailbox.id, Campaign.status == CampaignStatus.PAUSED,
        Campaign.pause_reason.in_(CONNECTION_PAUSES)).order_by(Campaign.name)
    return list(session.scalars(query if owner_id is None else query.where(Campaign.owner_id == owner_id)))


def to_resume_all(session: Session, *, user: User, mailbox_id: int) -> list[Campaign]:
    """What the one-click resume offered after a reconnect resumes: the user's own campaigns from that
    mailbox (theirs, or delegated to them) that its lost connection paused."""
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or not may_use(session, user_id=user.id, mailbox=mailbox):
        raise NotFound("You cannot send from that mailbox.")
    if mailbox.status != MailboxStatus.CONNECTED:
        raise UserError(f"{mailbox.address} is not connected: reconnect it first.")
    return paused_by_connection(session, mailbox, owner_id=user.id)


def resume_all(session: Session, *, user: User, mailbox_id: int, clock: Clock, rng: random.Random) -> int:
    """Resume all in one transaction (Slack shows progress instead: bot.services.bulk_resume).
    Returns how many campaigns resumed."""
    campaigns = to_resume_all(session, user=user, mailbox_id=mailbox_id)
    for campaign in campaigns:
        resume_campaign(session, campaign=campaign, clock=clock, rng=rng)
    return len(campaigns)


def own_mailbox(session: Session, *, user: User, mailbox_id: int) -> Mailbox:
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or mailbox.owner_id != user.id:
        raise NotFound("That mailbox is not one of yours.")
    return mailbox


def disconnect(session: Session, *, user: User, mailbox_id: int, clock: Clock) -> tuple[Mailbox, int]:
    """Delete the credentials and pause every campaign sending from it (seed 000, 001)."""
    mailbox = own_mailbox(session, user=user, mailbox_id=mailbox_id)
    if mailbox.status == MailboxStatus.DISCONNECTED:
        raise UserError(f"{mailbox.address} is already disconnected.")
    mailbox.credentials = None
    mailbox.status, mailbox.status_reason = MailboxStatus.DISCONNECTED, "disconnected by its owner"
    paused = _pause_sending(session, mailbox, PauseReason.MAILBOX_DISCONNECTED, clock.now())
    ended = end_for_mailbox(session, mailbox=mailbox, clock=clock)
    _tell_delegates(session, mailbox, paused, kind="mailbox_disconnected", clock=clock,
                    key=f"disconnected:{mailbox.id}:{clock.now().isoformat()}",
                    what="was disconnected by its owner")
    for delegation in ended:
        notify(session, user=delegation.grantee, kind="delegation_revoked", clock=clock,
               dedupe_key=f"delegation_revoked:{delegation.id}",
               text=(f":lock: {mailbox.owner.name} disconnected {mailbox.address} from Outreach, so your access to "
                     "it ended. Once it is connected again, ask again with `/outreach delegate`."))
    session.flush()
    return mailbox, len(paused)


def organisation_enhanced(session: Session, user: User) -> bool:
    """Whether the user's organisation opted in to enhanced mailbox permissions (seed 000)."""
    organisation = session.get(Organisation, user.organisation_id)
    return organisation is not None and organisation.permission_level == PermissionLevel.ENHANCED


def set_organisation_permissions(session: Session, *, user: User, level: PermissionLevel) -> Organisation:
    """Enhanced permissions (reading bodies of incoming mail) are an organisation's choice (seed 000),
    made by a workspace admin."""
    if not user.is_admin:
        raise UserError("Only a Slack workspace admin can change the organisation's mailbox permissions.")
    organisation = session.get(Organisation, user.organisation_id)
    assert organisation is not None
    organisation.permission_level = level
    return organisation
