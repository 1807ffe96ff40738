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
from bot.services.mailboxes import connect_mailbox, normalise_address
from bot.services.notifications import notify

SENDING = [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]
CONNECTION_PAUSES = [PauseReason.NEEDS_RECONNECT, PauseReason.MAILBOX_DISCONNECTED]


def _lost_key(mailbox_id: int, connected_at: datetime | None) -> str:
    """One "connection lost" notice per mailbox and connection (the DM a later resume answers in)."""
    return f"needs_reconnect:{mailbox_id}:{connected_at.isoformat() if connected_at else 'never'}"


def _pause_sending(session: Session, mailbox: Mailbox, reason: PauseReason, now: datetime) -> list[str]:
    return list(session.scalars(
        update(Campaign).where(Campaign.mailbox_id == mailbox.id, Campaign.status.in_(SENDING))
        .values(status=CampaignStatus.PAUSED, pause_reason=reason, paused_at=now)
        .returning(Campaign.name)).all())


def mark_needs_reconnect(session: Session, *, mailbox: Mailbox, reason: str, clock: Clock) -> bool:
    """The grant is gone (refresh, send or sync said so). Returns False when it was already known."""
    if mailbox.status != MailboxStatus.CONNECTED:
        return False
    mailbox.status, mailbox.status_reason = MailboxStatus.NEEDS_RECONNECT, reason[:500]
    paused = _pause_sending(session, mailbox, PauseReason.NEEDS_RECONNECT, clock.now())
    notify(session, user=mailbox.owner, kind="needs_reconnect", clock=clock,
           dedupe_key=_lost_key(mailbox.id, mailbox.connected_at),
           action="reconnect", action_value=str(mailbox.id),
           text=(f":warning: The connection to {mailbox.address} was lost ({reason[:200]}), so nothing more "
                 f"can be sent from it. {len(paused)} campaign(s) are paused until you reconnect it."))
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
    mailbox.not_before = None
    paused = paused_by_connection(session, mailbox)
    stamp = mailbox.connected_at.isoformat() if mailbox.connected_at else ""
    level = "enhanced" if enhanced else "basic"
    notify(session, user=owner, kind="connected", clock=clock, dedupe_key=f"connected:{mailbox.id}:{stamp}",
           thread_of=lost_key,
           text=(f":white_check_mark: {mailbox.address} is connected ({level} permissions). "
                 + ("You can now send campaigns from it." if not paused else
                    f"{len(paused)} campaign(s) from it are still paused.")))
    if paused:
        notify(session, user=owner, kind="resume_offer", clock=clock, dedupe_key=f"resume_offer:{mailbox.id}:{stamp}",
               thread_of=lost_key, action="resume_all", action_value=str(mailbox.id),
               text=f"Resume {len(paused)} paused campaign(s) from {mailbox.address}: "
                    + ", ".join(f"*{c.name}*" for c in paused))
    return mailbox


def paused_by_connection(session: Session, mailbox: Mailbox) -> list[Campaign]:
    return list(session.scalars(select(Campaign).where(
        Campaign.mailbox_id == mailbox.id, Campaign.status == CampaignStatus.PAUSED,
        Campaign.pause_reason.in_(CONNECTION_PAUSES)).order_by(Campaign.name)))


def resume_all(session: Session, *, user: User, mailbox_id: int, clock: Clock, rng: random.Random) -> int:
    """The one-click resume offered after a reconnect. Returns how many campaigns resumed."""
    mailbox = own_mailbox(session, user=user, mailbox_id=mailbox_id)
    if mailbox.status != MailboxStatus.CONNECTED:
        raise UserError(f"{mailbox.address} is not connected: reconnect it first.")
    campaigns = paused_by_connection(session, mailbox)
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
    session.flush()
    return mailbox, len(paused)


def set_organisation_permissions(session: Session, *, user: User, level: PermissionLevel) -> Organisation:
    """Enhanced permissions (reading bodies of incoming mail) are an organisation's choice (seed 000),
    made by a workspace admin."""
    if not user.is_admin:
        raise UserError("Only a Slack workspace admin can change the organisation's mailbox permissions.")
    organisation = session.get(Organisation, user.organisation_id)
    assert organisation is not None
    organisation.permission_level = level
    return organisation
