"""Who sees what (SPEC "Who sees what"): the one policy every command, button, view, job and notice
goes through to reach a campaign, a candidate's address, or the list of someone's campaigns.

| who (of the campaign's organisation)            | role           | sees | pauses | changes | shares |
|--------------------------------------------------|----------------|------|--------|---------|--------|
| its owner                                        | OWNER          | yes  | yes    | yes     | yes    |
| a teammate it is shared with to edit             | EDITOR         | yes  | yes    | yes     | no     |
| the owner of the mailbox it sends from           | MAILBOX_OWNER  | yes  | yes    | no      | no     |
| a teammate it is shared with to view             | VIEWER         | yes  | no     | no      | no     |
| anyone else, and anyone of another workspace     | (none)         | "not found", worded as for a name or id that does not exist |

"Changes" is start, resume, candidates (add, pause, resume, per-campaign address and fields). A
person with a role who may not do something is told why (they know the campaign exists); a person
without one learns nothing, not even its name.

Addresses added by hand (CandidateAddress.added_by_id) are shown only to the person who added them,
whatever their role: everybody else sees the candidate without that address.

Workspace admins (Slack's is_admin / is_owner) list every campaign of their workspace by name,
owner and counts, never a candidate or an address (`admin_listing`).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    Campaign,
    CampaignShare,
    CandidateAddress,
    Enrollment,
    Mailbox,
    ShareLevel,
    User,
)
from bot.services.campaign_marks import mark_stale

GONE = "That campaign no longer exists, or it is not shared with you."


class Role(str, enum.Enum):
    OWNER = "owner"
    EDITOR = "editor"
    MAILBOX_OWNER = "mailbox_owner"
    VIEWER = "viewer"


class Need(enum.Enum):
    SEE = "see"
    PAUSE = "pause"
    CHANGE = "change"
    SHARE = "share"


_ALLOWED: dict[Need, frozenset[Role]] = {
    Need.SEE: frozenset(Role),
    Need.PAUSE: frozenset({Role.OWNER, Role.EDITOR, Role.MAILBOX_OWNER}),
    Need.CHANGE: frozenset({Role.OWNER, Role.EDITOR}),
    Need.SHARE: frozenset({Role.OWNER}),
}


@dataclass(frozen=True)
class Access:
    """A person's standing on one campaign, as checked by this module."""

    campaign: Campaign
    user: User
    role: Role

    def may(self, need: Need) -> bool:
        return self.role in _ALLOWED[need]

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


def role_in(session: Session, *, user: User, campaign: Campaign) -> Role | None:
    """The best role the user holds on the campaign, or None when it is not theirs to know of."""
    if campaign.organisation_id != user.organisation_id:
        return None
    if campaign.owner_id == user.id:
        return Role.OWNER
    level = session.scalar(select(CampaignShare.level).where(
        CampaignShare.campaign_id == campaign.id, CampaignShare.user_id == user.id))
    if level == ShareLevel.EDIT:
        return Role.EDITOR
    if campaign.mailbox.owner_id == user.id:
        return Role.MAILBOX_OWNER
    if level == ShareLevel.VIEW:
        return Role.VIEWER
    return None


def visible_to(user: User) -> ColumnElement[bool]:
    """The WHERE clause of every list of campaigns shown to this user (status, Home, admin aside)."""
    shared = exists().where(CampaignShare.campaign_id == Campaign.id, CampaignShare.user_id == user.id)
    from_mailbox = exists().where(Mailbox.id == Campaign.mailbox_id, Mailbox.owner_id == user.id)
    return and_(Campaign.organisation_id == user.organisation_id,
                or_(Campaign.owner_id == user.id, shared, from_mailbox))


def changeable_by(user: User) -> ColumnElement[bool]:
    """The WHERE clause of the campaigns a user may change (Need.CHANGE): their own and those shared to edit."""
    editor = exists().where(CampaignShare.campaign_id == Campaign.id, CampaignShare.user_id == user.id,
                            CampaignShare.level == ShareLevel.EDIT)
    return and_(Campaign.organisation_id == user.organisation_id, or_(Campaign.owner_id == user.id, editor))


def visible_campaigns(session: Session, user: User) -> list[Campaign]:
    """The user's own campaigns first, then those shared with them or sent from their mailbox; newest
    first. Archived ones are left out (`/outreach campaigns archived` lists them)."""
    return list(session.scalars(select(Campaign).where(visible_to(user), Campaign.archived_at.is_(None)).order_by(
        case((Campaign.owner_id == user.id, 0), else_=1), Campaign.created_at.desc(), Campaign.id.desc())))


def _refusal(access: Access, need: Need) -> str:
    campaign, owner = access.campaign, access.campaign.owner.name or "its owner"
    if need == Need.SHARE:
        return f"Only {owner}, who owns '{campaign.name}', can share it."
    if access.role == Role.MAILBOX_OWNER:
        return (f"'{campaign.name}' sends from your mailbox, so you can see it and pause it; only {owner} can "
                "change it.")
    return f"{owner} shared '{campaign.name}' with you to view, not to change: ask them for edit access."


def check(session: Session, *, user: User, campaign: Campaign | None, need: Need) -> Access:
    """The user's access to a campaign for what they asked; NotFound when it is not theirs to know of."""
    role = role_in(session, user=user, campaign=campaign) if campaign is not None else None
    if campaign is None or role is None:
        raise NotFound(GONE)
    access = Access(campaign, user, role)
    if not access.may(need):
        raise UserError(_refusal(access, need))
    return access


def campaign(session: Session, *, user: User, campaign_id: int, need: Need) -> Access:
    """A campaign named by id (buttons and modals carry ids: never trust that the clicker may use it)."""
    return check(session, user=user, campaign=session.get(Campaign, campaign_id), need=need)


def enrollment(session: Session, *, user: User, enrollment_id: int, need: Need,
               gone: str = "That candidate is no longer in the campaign, or the campaign is not shared with you.",
               ) -> tuple[Enrollment, Access]:
    """A candidate of a campaign, named by enrollment id; `gone` answers both a missing one and one
    the user may not know of, so the answer says nothing about which."""
    found = session.get(Enrollment, enrollment_id)
    try:
        return found, check(session, user=user, campaign=found.campaign if found else None, need=need)  # type: ignore[return-value]
    except NotFound:
        raise NotFound(gone) from None


def find(session: Session, *, user: User, name: str, need: Need = Need.SEE) -> Access:
    """A campaign the user may see, by name (case-insensitive) or else number; their own wins a tie of
    names (a teammate's campaign shared with them may have the same name). One the user may not see is answered exactly as one that does not exist."""
    name = name.strip()
    if not name:
        raise UserError("Name the campaign, e.g. `/outreach when Backend Q4`.")
    query = select(Campaign).where(visible_to(user))
    # The name first (a campaign named "2025" is not campaign 2025), folded by the database as the
    # unique index folds it; by name an archived campaign is gone (its name may be someone's again).
    # The number only when no visible campaign has that name; by number an archived one is there.
    found = session.scalar(query.where(func.lower(Campaign.name) == func.lower(name),
                                       Campaign.archived_at.is_(None)).order_by(
        case((Campaign.owner_id == user.id, 0), else_=1), Campaign.id.desc()).limit(1))
    if found is None and name.isdigit() and len(name) < 19:
        found = session.scalar(query.where(Campaign.id == int(name)))
    if found is None:
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise NotFound(f"No campaign called '{shown}'. Yours, and those shared with you, "
                       "are on the Home tab.")
    return check(session, user=user, campaign=found, need=need)


# ---- addresses added by hand -----------------------------------------------------------------------
def shows(added_by_id: int | None, viewer_id: int) -> bool:
    """An address from a list or a CSV is seen by whoever sees the candidate; one added by hand, only
    by the recruiter who added it."""
    return added_by_id is None or added_by_id == viewer_id


def visible_addresses(addresses: Iterable[CandidateAddress], viewer_id: int) -> list[CandidateAddress]:
    return [a for a in addresses if shows(a.added_by_id, viewer_id)]


def shown_address(addresses: Iterable[CandidateAddress], address: str, viewer_id: int) -> str | None:
    """`address` as this viewer may see it among the candidate's addresses: None when someone else added it by hand."""
    return None if any(a.address == address and not shows(a.added_by_id, viewer_id) for a in addresses) else address


def hidden_addresses(session: Session, *, candidate_ids: Iterable[int], viewer_id: int) -> set[tuple[int, str]]:
    """(candidate id, address) pairs someone else added by hand: a view leaves these out for this viewer."""
    ids = list(set(candidate_ids))
    if not ids:
        return set()
    return {(c, a) for c, a in session.execute(select(CandidateAddress.candidate_id, CandidateAddress.address).where(
        CandidateAddress.candidate_id.in_(ids), CandidateAddress.added_by_id.is_not(None),
        CandidateAddress.added_by_id != viewer_id)).all()}


# ---- sharing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShareLine:
    user_id: int
    slack_user_id: str
    name: str
    level: ShareLevel


def shares_of(session: Session, campaign: Campaign) -> list[ShareLine]:
    rows = session.execute(select(User.id, User.slack_user_id, User.name, CampaignShare.level)
                           .join(CampaignShare, CampaignShare.user_id == User.id)
                           .where(CampaignShare.campaign_id == campaign.id).order_by(User.name, User.id)).all()
    return [ShareLine(*row) for row in rows]


def _audit(session: Session, access: Access, action: str, teammate: User, clock: Clock, **detail: object) -> None:
    session.add(AuditEntry(organisation_id=access.campaign.organisation_id, actor=access.user.slack_user_id,
                           action=action, subject_type="campaign", subject_id=access.campaign.id,
                           detail={"teammate": teammate.slack_user_id, **detail}, created_at=clock.now()))


def share(session: Session, *, access: Access, teammate: User, level: ShareLevel, clock: Clock) -> bool:
    """Share (or change the level of a share). True when something changed. Only the owner shares."""
    if not access.may(Need.SHARE):
        raise UserError(_refusal(access, Need.SHARE))
    if teammate.organisation_id != access.campaign.organisation_id:
        raise UserError("You can share a campaign only with people of this workspace.")
    if teammate.id == access.campaign.owner_id:
        raise UserError(f"'{access.campaign.name}' is yours already: share it with a teammate.")
    existing = session.scalar(select(CampaignShare).where(
        CampaignShare.campaign_id == access.campaign.id, CampaignShare.user_id == teammate.id).with_for_update())
    if existing is not None and existing.level == level:
        return False
    if existing is None:
        session.add(CampaignShare(campaign_id=access.campaign.id, user_id=teammate.id, level=level,
                                  shared_by_id=access.user.id, created_at=clock.now()))
    else:
        existing.level = level
    _audit(session, access, "campaign.shared", teammate, clock, level=level.value)
    mark_stale(session, [access.campaign.id])  # the message lists whom it is shared with
    session.flush()
    return True


def unshare(session: Session, *, access: Access, teammate_id: int, clock: Clock) -> User | None:
    """Stop sharing with one teammate; the teammate, or None when it was not shared with them."""
    if not access.may(Need.SHARE):
        raise UserError(_refusal(access, Need.SHARE))
    existing = session.scalar(select(CampaignShare).where(
        CampaignShare.campaign_id == access.campaign.id, CampaignShare.user_id == teammate_id))
    if existing is None:
        return None
    teammate = existing.user
    session.delete(existing)
    _audit(session, access, "campaign.unshared", teammate, clock)
    mark_stale(session, [access.campaign.id])
    session.flush()
    return teammate


# ---- workspace admins -------------------------------------------------------------------------------
def require_admin(user: User) -> None:
    """Workspace admins and owners (Slack's is_admin / is_owner, read fresh for the command) see every
    campaign's name, owner and counts (bot.services.campaign_list.admin_listing), never a candidate."""
    if not user.is_admin:
        raise UserError("Only workspace admins and owners can list everyone's campaigns. "
                        "`/outreach status` lists yours and those shared with you.")
