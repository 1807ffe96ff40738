"""Holidays: dates on which no campaign sends. A campaign has its own (the campaign modal), the
organisation has a calendar its admins keep (`/outreach admin holidays`), and the planner uses the
union of both (planner.calendar_of). Adding or removing an organisation holiday re-plans the pending
sends around it of the organisation's running campaigns (bot.services.replan)."""
from __future__ import annotations

import random
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Campaign, CampaignStatus, Organisation, User
from bot.services.replan import replan_campaign
from bot.rules import when
from bot.wording import counted

MAX_DATES = 100  # a list this long is a mistake; a year of them would leave some campaigns no send day
EXAMPLE = "2026-12-24, 2026-12-25"
RUNNING = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED)


def parse_dates(text: str | None, *, field: str = "holidays") -> list[date]:
    """ISO dates separated by commas, spaces or lines, sorted and without repeats; a UserError on
    `field` naming the first one that is not a real date."""
    found: set[date] = set()
    for word in (w for w in re.split(r"[,;\s]+", text or "") if w):
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
                raise ValueError(word)
            found.add(date.fromisoformat(word))
        except ValueError:
            shown = word if len(word) <= 20 else word[:20] + "…"
            raise UserError(f"'{shown}' is not a date: write each as YYYY-MM-DD, separated by commas, "
                            f"e.g. {EXAMPLE}.", field=field) from None
    if len(found) > MAX_DATES:
        raise UserError(f"That is {len(found)} dates: at most {MAX_DATES} holidays are kept.", field=field)
    return sorted(found)


def check_calendar(send_days: str, holidays: Collection[date | str], *, today: date, field: str = "holidays") -> None:
    """Refuse days off that leave no send day within a year (the planner would find none)."""
    try:
        when.calendar_from(send_days, holidays).next_send_day(today)
    except ValueError:
        raise UserError("With these send days and holidays there is no day to send on within a year: "
                        "remove some holidays or add a send day.", field=field) from None


def shown(days: Collection[date | str]) -> str:
    return ", ".join(str(d) for d in sorted(days, key=str)) or "none"


# ---- the organisation's calendar --------------------------------------------------------------------
@dataclass(frozen=True)
class HolidayChange:
    holidays: list[str]  # the organisation's calendar afterwards, ISO dates in order
    changed: list[str]  # the dates actually added or removed
    moved: int  # pending sends re-planned
    campaigns: int  # running campaigns looked at


def require_admin(user: User) -> None:
    """Workspace admins and owners keep the calendar (Slack's flags, read fresh for the command)."""
    if not user.is_admin:
        raise UserError("Only workspace admins and owners can see or change the organisation's holidays. "
                        "A campaign's own holidays are in its Edit button (`/outreach campaign edit <campaign>`).")


def organisation_holidays(session: Session, *, user: User) -> list[str]:
    require_admin(user)
    organisation = session.get(Organisation, user.organisation_id)
    return sorted(organisation.holidays or []) if organisation else []


def change_holidays(session: Session, *, user: User, add: Collection[date] = (), remove: Collection[date] = (),
                    now: datetime, rng: random.Random) -> HolidayChange:
    """Add or remove organisation holidays, then re-plan the running campaigns' pending sends around
    the dates that changed (the same re-plan as a campaign edit)."""
    require_admin(user)
    organisation = session.scalar(select(Organisation).where(Organisation.id == user.organisation_id)
                                  .with_for_update())  # two admins at once: one list, no lost date
    assert organisation is not None
    before = set(organisation.holidays or [])
    after = (before | {d.isoformat() for d in add}) - {d.isoformat() for d in remove}
    if len(after) > MAX_DATES:
        raise UserError(f"The organisation would have {len(after)} holidays: at most {MAX_DATES} are kept. "
                        "Remove past ones first.")
    changed = sorted(before ^ after)
    organisation.holidays = sorted(after)
    session.flush()
    campaigns = list(session.scalars(select(Campaign).where(
        Campaign.organisation_id == organisation.id, Campaign.status.in_(RUNNING),
        Campaign.archived_at.is_(None)).order_by(Campaign.id)))
    for campaign in campaigns:  # no running campaign may be left without a send day
        check_calendar(campaign.send_days, {*after, *(campaign.holidays or [])}, today=now.date(), field="dates")
    moved = sum(replan_campaign(session, campaign, now=now, rng=rng, on_days=[date.fromisoformat(d) for d in changed])
                for campaign in campaigns) if changed else 0
    return HolidayChange(sorted(after), changed, moved, len(campaigns))


def describe_change(change: HolidayChange, *, added: bool) -> str:
    verb = "added" if added else "removed"
    if not change.changed:
        return f"Nothing {verb}: the organisation's holidays are {shown(change.holidays)}."
    return (f"{counted(len(change.changed), 'holiday')} {verb} ({shown(change.changed)}). The organisation's "
            f"holidays are now {shown(change.holidays)}. {counted(change.moved, 'planned send')} of "
            f"{counted(change.campaigns, 'running campaign')} re-planned.")
