"""Whether the organisation allows open tracking (organisations.open_tracking): changed by workspace
admins only (`/outreach admin tracking`; Slack's flag read fresh), every change audited. Off by
default: no campaign can then turn tracking on, and no email carries the image."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import AuditEntry, Organisation, User

NOT_ALLOWED = ("Open tracking is not allowed in your organisation: a workspace admin must allow it first "
               "(`/outreach admin tracking`).")


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise UserError("Only workspace admins and owners can allow or stop open tracking. "
                        "Ask one of them to run `/outreach admin tracking`.")


def allowed(session: Session, organisation_id: int) -> bool:
    return bool(session.scalar(select(Organisation.open_tracking).where(Organisation.id == organisation_id)))


def current(session: Session, *, user: User) -> bool:
    """The setting, for an admin (refused for anyone else)."""
    require_admin(user)
    return allowed(session, user.organisation_id)


def save(session: Session, *, user: User, allow: bool, clock: Clock) -> bool:
    """Keep the admin's choice and audit it when it changed; refused for a non-admin. Returns whether
    it changed."""
    require_admin(user)
    organisation = session.scalar(select(Organisation).where(Organisation.id == user.organisation_id)
                                  .with_for_update())
    assert organisation is not None
    if organisation.open_tracking == allow:
        return False
    organisation.open_tracking = allow
    session.add(AuditEntry(organisation_id=organisation.id, actor=user.slack_user_id, action="tracking.saved",
                           subject_type="organisation", subject_id=organisation.id,
                           detail={"open_tracking": {"from": not allow, "to": allow}}, created_at=clock.now()))
    session.flush()
    return True


def check_campaign_switch(session: Session, *, organisation_id: int, track_opens: bool) -> None:
    """A campaign may ask for tracking only where the organisation allows it: refused on its field."""
    if track_opens and not allowed(session, organisation_id):
        raise UserError(NOT_ALLOWED, field="track_opens")
