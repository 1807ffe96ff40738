"""Sending from a hiring manager's mailbox (SPEC "Sending from a hiring manager's mailbox", seed 002).

A recruiter asks; the manager gets a DM with Approve / Deny that only the manager can answer; an
unanswered request expires after 7 days; the manager may revoke at any time. Revoking pauses the
recruiter's campaigns sending from that mailbox ("delegation revoked") in the same transaction, and
the claim re-checks the delegation, so nothing more leaves the mailbox for that recruiter.
Every answer, refused click and revoke is written to the audit log. Slack-free: people are told
through the notifications outbox.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Delegation,
    DelegationStatus,
    Mailbox,
    MailboxStatus,
    PauseReason,
    User,
)
from bot.services.campaign_marks import mark_stale
from bot.services.notifications import notify

REQUEST_LIFETIME = timedelta(days=7)
D = Delegation
OPEN_CAMPAIGN = [CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED]
SENDING = [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]


def _covering(mailbox_owner_id, user_id, mailbox_id, campaign_id):  # type: ignore[no-untyped-def]
    """SQL: the approved delegations that let `user_id` send from the mailbox for this campaign (for
    every campaign, or this one; campaign_id None: for every campaign), granted by whoever owns the
    mailbox now, not an earlier owner. Works on columns (the claim) and values alike."""
    return (D.mailbox_id == mailbox_id, D.grantor_id == mailbox_owner_id, D.grantee_id == user_id,
            D.status == DelegationStatus.APPROVED, or_(D.campaign_id.is_(None), D.campaign_id == campaign_id))


def grants(mailbox_owner_id, user_id, mailbox_id, campaign_id):  # type: ignore[no-untyped-def]
    """SQL: `user_id` may send from the mailbox for this campaign: they own it, or a delegation covers it."""
    # correlate_except: every table but delegations comes from the enclosing queries, at any depth
    # (auto-correlation reaches only the query right around it, and a one-off's sender is two up).
    return or_(mailbox_owner_id == user_id, exists().where(*_covering(mailbox_owner_id, user_id, mailbox_id,
                                                                      campaign_id)).correlate_except(D))


def may_use(session: Session, *, user_id: int, mailbox: Mailbox, campaign_id: int | None = None) -> bool:
    if mailbox.owner_id == user_id:
        return True
    return bool(session.scalar(select(grants(mailbox.owner_id, user_id, mailbox.id, campaign_id))))


def _audit(session: Session, *, actor: User | str, action: str, delegation: Delegation, clock: Clock,
           **detail: object) -> None:
    session.add(AuditEntry(organisation_id=delegation.grantor.organisation_id,
                           actor=actor if isinstance(actor, str) else actor.slack_user_id, action=action,
                           subject_type="delegation", subject_id=delegation.id, detail=dict(detail),
                           created_at=clock.now()))


def day(moment: datetime, user: User) -> str:
    return f"{moment.astimezone(ZoneInfo(user.tz)):%a %d %b %Y}"


def connected_mailboxes(session: Session, user: User) -> list[Mailbox]:
    return list(session.scalars(select(Mailbox).where(
        Mailbox.owner_id == user.id, Mailbox.status == MailboxStatus.CONNECTED).order_by(Mailbox.address)))


def scope(delegation: Delegation, *, to_recruiter: bool = False) -> str:
    if delegation.campaign:
        return f"the campaign *{delegation.campaign.name}*"
    return "all your campaigns" if to_recruiter else "all of their campaigns"


# ---- asking ----------------------------------------------------------------------------------------
def request(session: Session, *, recruiter: User, manager: User, campaign: Campaign | None,
            clock: Clock) -> Delegation:
    """Ask `manager` to let `recruiter` send from their mailbox; the manager gets the DM to answer."""
    if manager.id == recruiter.id:
        raise UserError("That is you: your own mailboxes are yours to send from already. "
                        "Name your hiring manager, e.g. `/outreach delegate @omar`.")
    if manager.organisation_id != recruiter.organisation_id:
        raise UserError("That person is not in this workspace's organisation.")
    if campaign is not None:
        if campaign.owner_id != recruiter.id:
            raise UserError(f"'{campaign.name}' is not your campaign.")
        if campaign.status != CampaignStatus.DRAFT:
            raise UserError(f"'{campaign.name}' has already been started from {campaign.mailbox.address}; a "
                            "campaign's mailbox can change only before it starts. Create a new campaign, or ask "
                            "for all campaigns (`/outreach delegate @name`).")
    now = clock.now()
    same = select(D).where(D.grantor_id == manager.id, D.grantee_id == recruiter.id,
                           D.campaign_id.is_(None) if campaign is None else D.campaign_id == campaign.id)
    waiting = session.scalar(same.where(D.status == DelegationStatus.REQUESTED, D.expires_at > now))
    if waiting is not None:
        raise UserError(f"You asked {manager.name} on {day(waiting.requested_at, recruiter)}; the request "
                        f"waits for their answer until {day(waiting.expires_at, recruiter)}.")
    granted = session.scalar(same.where(D.status == DelegationStatus.APPROVED))
    if granted is not None and granted.mailbox is not None:
        raise UserError(f"{manager.name} already lets you send from {granted.mailbox.address}: "
                        "it is in your mailbox choices.")
    delegation = Delegation(grantor_id=manager.id, grantee_id=recruiter.id,
                            campaign_id=campaign.id if campaign else None, status=DelegationStatus.REQUESTED,
                            requested_at=now, expires_at=now + REQUEST_LIFETIME)
    session.add(delegation)
    session.flush()
    mailboxes = connected_mailboxes(session, manager)
    if mailboxes:
        yours = ", ".join(m.address for m in mailboxes)
        how = f"If you approve, they send from {yours}" if len(mailboxes) == 1 else \
            f"If you approve, you pick which of {yours} they send from"
    else:
        how = ("You have no mailbox connected to Outreach yet: connect one with `/outreach connect` (Gmail, "
               "Office 365 or another provider), then press Approve here")
    notify(session, user=manager, kind="delegation_request", clock=clock,
           dedupe_key=f"delegation_request:{delegation.id}", action="delegation_request",
           action_value=str(delegation.id),
           text=(f":envelope_with_arrow: *{recruiter.name}* asks to send recruiting email from your mailbox for "
                 f"{scope(delegation)}. {how}. Candidates see the email come from you and reply to you; "
                 f"Outreach tells {recruiter.name} about replies and reads nothing else in your mailbox. "
                 f"You can revoke it at any time with `/outreach delegations`. "
                 f"This request expires on {day(delegation.expires_at, manager)}."))
    _audit(session, actor=recruiter, action="delegation.requested", delegation=delegation, clock=clock)
    return delegation


# ---- answering -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """What a click on Approve / Deny came to. `final` answers replace the request's buttons;
    the others are told only to the person who clicked."""

    text: str
    final: bool
    choices: list[tuple[int, str]] = field(default_factory=list)  # (mailbox id, address) to pick from


def answer(session: Session, *, user: User, delegation_id: int, approve: bool, clock: Clock,
           mailbox_id: int | None = None, notify_grantor: bool = False) -> Answer:
    """Approve or deny a request. Anyone but the manager is refused, and the attempt is audited;
    a request answered before (a double click, a replayed request) or expired changes nothing."""
    delegation = session.get(Delegation, delegation_id)
    if delegation is None:
        raise NotFound("That request no longer exists.")
    if delegation.grantor_id != user.id:
        _audit(session, actor=user, action="delegation.refused_click", delegation=delegation, clock=clock,
               attempted="approve" if approve else "deny")
        return Answer(f"Only {delegation.grantor.name} can answer this request: it asks for their mailbox.",
                      final=False)
    recruiter = delegation.grantee
    if delegation.status != DelegationStatus.REQUESTED:
        return Answer(_settled(delegation, user), final=True)
    now = clock.now()
    if now >= delegation.expires_at:
        _expire(session, delegation, clock)
        return Answer(f"This request expired on {day(delegation.expires_at, user)}. {recruiter.name} can ask "
                      "again with `/outreach delegate`.", final=True)
    if not approve:
        delegation.status, delegation.decided_at = DelegationStatus.DENIED, now
        _audit(session, actor=user, action="delegation.denied", delegation=delegation, clock=clock)
        notify(session, user=recruiter, kind="delegation_answer", clock=clock,
               dedupe_key=f"delegation_answer:{delegation.id}",
               text=(f":no_entry_sign: {user.name} declined your request to send from their mailbox for "
                     f"{scope(delegation, to_recruiter=True)}."))
        return Answer(f":no_entry_sign: You declined {recruiter.name}'s request.", final=True)
    mailboxes = connected_mailboxes(session, user)
    if mailbox_id is not None:
        mailboxes = [m for m in mailboxes if m.id == mailbox_id]
        if not mailboxes:
            return Answer("That mailbox is no longer connected: connect it again (`/outreach connect`) or pick "
                          "another.", final=False)
    if not mailboxes:
        return Answer("Connect your mailbox first with `/outreach connect`, then press Approve again.", final=False)
    if len(mailboxes) > 1:
        return Answer(f"Which of your mailboxes may {recruiter.name} send from?", final=False,
                      choices=[(m.id, m.address) for m in mailboxes])
    return _approve(session, delegation, mailboxes[0], user, notify_grantor, clock)


def _approve(session: Session, delegation: Delegation, mailbox: Mailbox, manager: User, notify_grantor: bool,
             clock: Clock) -> Answer:
    recruiter, campaign = delegation.grantee, delegation.campaign
    delegation.status, delegation.decided_at = DelegationStatus.APPROVED, clock.now()
    delegation.mailbox_id, delegation.notify_grantor = mailbox.id, notify_grantor
    session.flush()
    moved = ""
    if campaign is not None:  # asked for one campaign: it sends from this mailbox, if not started yet
        if campaign.status == CampaignStatus.DRAFT:
            campaign.mailbox_id = mailbox.id
            moved = f" *{campaign.name}* now sends from {mailbox.address}."
        else:
            moved = (f" *{campaign.name}* was started meanwhile from {campaign.mailbox.address} and keeps "
                     "sending from it.")
    _audit(session, actor=manager, action="delegation.approved", delegation=delegation, clock=clock,
           mailbox=mailbox.address, notify_grantor=notify_grantor)
    notify(session, user=recruiter, kind="delegation_answer", clock=clock,
           dedupe_key=f"delegation_answer:{delegation.id}",
           text=(f":white_check_mark: {manager.name} approved: you can send from {mailbox.address} for "
                 f"{scope(delegation, to_recruiter=True)}. "
                 f"It is in your mailbox choices; replies land in their mailbox and Outreach tells you.{moved}"))
    copy = " You will hear of replies too." if notify_grantor else ""
    return Answer(f":white_check_mark: Approved: {recruiter.name} can send from {mailbox.address} for {scope(delegation)}. "
                  f"Revoke it at any time with `/outreach delegations`.{copy}", final=True)


def last_change(delegation: Delegation) -> datetime:
    """When it reached its present state: answered, else ended (expired unanswered), else asked."""
    return delegation.decided_at or delegation.ended_at or delegation.requested_at


def _settled(delegation: Delegation, viewer: User) -> str:
    return (f"This request was already answered: {delegation.status.value} on {day(last_change(delegation), viewer)}. "
            "Nothing was changed.")


def _expire(session: Session, delegation: Delegation, clock: Clock) -> None:
    delegation.status, delegation.ended_at = DelegationStatus.EXPIRED, clock.now()
    _audit(session, actor="system", action="delegation.expired", delegation=delegation, clock=clock)
    notify(session, user=delegation.grantee, kind="delegation_answer", clock=clock,
           dedupe_key=f"delegation_answer:{delegation.id}",
           text=(f":hourglass: {delegation.grantor.name} did not answer your request to send from their mailbox "
                 f"within 7 days, so it expired. Ask again with `/outreach delegate`."))


def expire_unanswered(session: Session, *, clock: Clock) -> list[Delegation]:
    """Requests left unanswered for 7 days expire, and the recruiter is told (run periodically)."""
    due = list(session.scalars(select(D).where(D.status == DelegationStatus.REQUESTED,
                                               D.expires_at <= clock.now()).limit(200).with_for_update(skip_locked=True)))
    for delegation in due:
        _expire(session, delegation, clock)
    return due


# ---- ending ----------------------------------------------------------------------------------------
def granted_delegation(session: Session, *, user: User, delegation_id: int) -> Delegation:
    delegation = session.get(Delegation, delegation_id)
    if delegation is None or delegation.grantor_id != user.id:
        raise NotFound("That delegation is not one you granted.")
    return delegation


def _pause_uncovered(session: Session, delegation: Delegation, reason: PauseReason, clock: Clock) -> list[Campaign]:
    """The grantee's running campaigns from this mailbox that no other approval still covers."""
    if delegation.mailbox is None:
        return []
    paused = []
    for campaign in session.scalars(select(Campaign).where(
            Campaign.owner_id == delegation.grantee_id, Campaign.mailbox_id == delegation.mailbox_id,
            Campaign.status.in_(SENDING)).order_by(Campaign.name)):
        if not may_use(session, user_id=campaign.owner_id, mailbox=delegation.mailbox, campaign_id=campaign.id):
            campaign.status, campaign.pause_reason, campaign.paused_at = CampaignStatus.PAUSED, reason, clock.now()
            paused.append(campaign)
    mark_stale(session, [c.id for c in paused])  # their messages say paused
    return paused


def revoke(session: Session, *, user: User, delegation_id: int, clock: Clock) -> tuple[Delegation, list[Campaign]]:
    """The manager takes the mailbox back: the recruiter's campaigns from it pause, in this transaction."""
    delegation = granted_delegation(session, user=user, delegation_id=delegation_id)
    if delegation.status != DelegationStatus.APPROVED:
        raise UserError(f"That delegation is {delegation.status.value}: there is nothing to revoke.")
    delegation.status, delegation.ended_at = DelegationStatus.REVOKED, clock.now()
    session.flush()
    paused = _pause_uncovered(session, delegation, PauseReason.DELEGATION_REVOKED, clock)
    _audit(session, actor=user, action="delegation.revoked", delegation=delegation, clock=clock,
           paused=[c.id for c in paused])
    names = ", ".join(f"*{c.name}*" for c in paused)
    notify(session, user=delegation.grantee, kind="delegation_revoked", clock=clock,
           dedupe_key=f"delegation_revoked:{delegation.id}",
           text=(f":lock: {user.name} revoked your access to {delegation.mailbox.address if delegation.mailbox else 'their mailbox'}"
                 + (f": {names} {'is' if len(paused) == 1 else 'are'} paused, and nothing more is sent from it."
                    if paused else ". Nothing more will be sent from it for you.")))
    return delegation, paused


def end_for_mailbox(session: Session, *, mailbox: Mailbox, clock: Clock) -> list[Delegation]:
    """The owner disconnected the mailbox: its delegations end with it (a reconnect asks again)."""
    ended = list(session.scalars(select(D).where(D.mailbox_id == mailbox.id, D.status == DelegationStatus.APPROVED)))
    for delegation in ended:
        delegation.status, delegation.ended_at = DelegationStatus.REVOKED, clock.now()
        _audit(session, actor=mailbox.owner, action="delegation.ended_by_disconnect", delegation=delegation,
               clock=clock)
    return ended


def set_reply_alerts(session: Session, *, user: User, delegation_id: int, on: bool) -> Delegation:
    delegation = granted_delegation(session, user=user, delegation_id=delegation_id)
    if delegation.status != DelegationStatus.APPROVED:
        raise UserError(f"That delegation is {delegation.status.value}.")
    delegation.notify_grantor = on
    return delegation


# ---- reading ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Listing:
    granted: list[Delegation]  # by this user, as a manager
    received: list[Delegation]  # to this user, as a recruiter


def delegations_of(session: Session, user: User) -> Listing:
    """Approved and waiting ones, then the last 10 that ended, on each side."""
    def side(column) -> list[Delegation]:  # type: ignore[no-untyped-def]
        live = list(session.scalars(select(D).where(column == user.id, D.status.in_(
            [DelegationStatus.APPROVED, DelegationStatus.REQUESTED])).order_by(D.requested_at.desc())))
        past = list(session.scalars(select(D).where(column == user.id, D.status.not_in(
            [DelegationStatus.APPROVED, DelegationStatus.REQUESTED])).order_by(D.requested_at.desc()).limit(10)))
        return live + past
    return Listing(granted=side(D.grantor_id), received=side(D.grantee_id))


def reply_watchers(session: Session, campaign: Campaign) -> list[User]:
    """Mailbox owners who asked to hear of replies to a campaign sent from their mailbox by someone else."""
    if campaign.mailbox.owner_id == campaign.owner_id:
        return []
    return list(session.scalars(select(User).join(D, D.grantor_id == User.id).where(
        *_covering(campaign.mailbox.owner_id, campaign.owner_id, campaign.mailbox_id, campaign.id),
        D.notify_grantor.is_(True)).distinct()))
