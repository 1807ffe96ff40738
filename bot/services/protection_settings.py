"""The organisation's protection settings, kept by workspace admins (`/outreach admin protection`):
the rules of engagement (warn or block, and over how many days a teammate's email counts), whether
an opt-out reply puts its sender on the do-not-contact list by itself, and whether emails carry an
opt-out link. Every save is audited with what changed."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import AuditEntry, EngagementRule, Organisation, User

DAYS = (1, 365)


@dataclass(frozen=True)
class Protection:
    engagement_rule: EngagementRule
    engagement_days: int
    opt_out_replies_to_dnc: bool
    opt_out_link: bool


def require_admin(user: User) -> None:
    """Admins and owners of the workspace (Slack's flags, read fresh when the modal is opened)."""
    if not user.is_admin:
        raise UserError("Only workspace admins and owners can change the organisation's protection settings. "
                        "Ask one of them to run `/outreach admin protection`.")


def current(session: Session, *, user: User) -> Protection:
    require_admin(user)
    organisation = session.get(Organisation, user.organisation_id)
    assert organisation is not None
    return _of(organisation)


def _of(organisation: Organisation) -> Protection:
    return Protection(organisation.engagement_rule, organisation.engagement_days, organisation.opt_out_replies_to_dnc,
                      organisation.opt_out_link)


def parse_days(text: str | None) -> int:
    """The days a teammate's email counts, as typed: a whole number from 1 to 365."""
    typed = (text or "").strip()
    if not typed.isdigit() or not DAYS[0] <= int(typed) <= DAYS[1]:
        raise UserError(f"Write a whole number of days from {DAYS[0]} to {DAYS[1]}.", field="days")
    return int(typed)


def save(session: Session, *, user: User, wanted: Protection, clock: Clock) -> Protection:
    """Keep the admin's settings and audit what changed (before and after); refused for a non-admin."""
    require_admin(user)
    if not DAYS[0] <= wanted.engagement_days <= DAYS[1]:
        raise UserError(f"Write a whole number of days from {DAYS[0]} to {DAYS[1]}.", field="days")
    organisation = session.scalar(select(Organisation).where(Organisation.id == user.organisation_id)
                                  .with_for_update())
    assert organisation is not None
    before = _of(organisation)
    organisation.engagement_rule = wanted.engagement_rule
    organisation.engagement_days = wanted.engagement_days
    organisation.opt_out_replies_to_dnc = wanted.opt_out_replies_to_dnc
    organisation.opt_out_link = wanted.opt_out_link
    changed = {key: {"from": _plain(value), "to": _plain(getattr(wanted, key))}
               for key, value in asdict(before).items() if value != getattr(wanted, key)}
    if changed:
        session.add(AuditEntry(organisation_id=organisation.id, actor=user.slack_user_id, action="protection.saved",
                               subject_type="organisation", subject_id=organisation.id, detail=changed,
                               created_at=clock.now()))
    session.flush()
    return wanted


def _plain(value: object) -> object:
    return value.value if isinstance(value, EngagementRule) else value
