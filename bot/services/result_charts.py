"""Which results chart each place shows (table result_charts: one row per place, "campaign:<id>" for a
campaign's message, "home:<user id>" for a person's App Home, "team:<organisation id>" for the team's
chart on admins' App Homes), and whether it must be drawn again.

The Slack side (handlers/result_charts.py) reads a `ChartPlan` in the caller's read transaction,
draws and uploads outside any transaction when `due`, then records the new file in a short write
(`record_chart`, guarded by the file it replaced) and deletes the old file from Slack.

A chart is drawn again only when the digest of its numbers changed (bot.services.result_chart.digest),
and not more often than every REDRAW_EVERY per place: a busy campaign records a send or a reply
every few seconds, and each chart costs a render (50-430 ms of CPU, measured) and three Slack calls plus
a files.delete (Tier 3, 50 a minute for the whole workspace); ten minutes keeps a workspace of a few
hundred active places well inside those limits while the chart stays current to the same day (its
right panel counts replies per day). The exact numbers are in the message's text without delay.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Campaign, CampaignStatus, ResultChart, User
from bot.services.result_chart import digest
from bot.services.results import Results, campaign_results, owner_results, team_results

REDRAW_EVERY = timedelta(minutes=10)
HOME_PERIOD = timedelta(days=30)  # the App Home's chart: the person's own campaigns, last 30 days


@dataclass(frozen=True)
class ChartPlan:
    """A place's chart as read: the numbers now, and what it shows (file, digest, when uploaded)."""

    key: str
    organisation_id: int
    campaign_id: int | None
    user_id: int | None
    results: Results
    digest: str
    file_id: str | None  # shown now; None before the first upload
    shown_digest: str | None
    uploaded_at: datetime | None
    final: bool = False  # a finished campaign: its last numbers are drawn without waiting

    @property
    def changed(self) -> bool:
        return self.digest != self.shown_digest

    def due(self, now: datetime) -> bool:
        """Draw and upload now: the numbers changed, there is something to show, and the last
        upload is REDRAW_EVERY old (or this is the campaign's final chart)."""
        if not self.changed or (self.file_id is None and self.results.total.sent == 0):
            return False
        return self.final or self.uploaded_at is None or now - self.uploaded_at >= REDRAW_EVERY

    def waiting(self, now: datetime) -> bool:
        """Changed, but drawn too recently: the place should be looked at again later."""
        return self.changed and not self.due(now) and not (self.file_id is None and self.results.total.sent == 0)


def campaign_key(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def home_key(user_id: int) -> str:
    return f"home:{user_id}"


def shown(session: Session, key: str) -> ResultChart | None:
    return session.scalar(select(ResultChart).where(ResultChart.key == key))


def _plan(session: Session, key: str, results: Results, *, organisation_id: int, campaign_id: int | None = None,
          user_id: int | None = None, final: bool = False) -> ChartPlan:
    row = shown(session, key)
    return ChartPlan(key, organisation_id, campaign_id, user_id, results, digest(results),
                     row.file_id if row else None, row.digest if row else None, row.uploaded_at if row else None,
                     final)


def campaign_plan(session: Session, campaign: Campaign, now: datetime, results: Results | None = None) -> ChartPlan:
    """The chart on a campaign's message: the campaign's results since its first send (`results`, when
    the caller read them already for the message's Results section)."""
    results = results if results is not None else campaign_results(session, campaign.id, until=now)
    return _plan(session, campaign_key(campaign.id), results,
                 organisation_id=campaign.organisation_id, campaign_id=campaign.id,
                 final=campaign.status == CampaignStatus.FINISHED)


def team_key(organisation_id: int) -> str:
    return f"team:{organisation_id}"


def team_plan(session: Session, organisation_id: int, now: datetime) -> ChartPlan:
    """The team's chart on admins' App Homes: every campaign of the organisation, the last HOME_PERIOD
    (one chart for the organisation, whichever admin opens their Home)."""
    return _plan(session, team_key(organisation_id),
                 team_results(session, organisation_id, until=now, since=now - HOME_PERIOD),
                 organisation_id=organisation_id)


def home_plan(session: Session, user: User, now: datetime) -> ChartPlan:
    """The chart on a person's App Home: the campaigns they own, the last HOME_PERIOD."""
    return _plan(session, home_key(user.id), owner_results(session, user.id, until=now, since=now - HOME_PERIOD),
                 organisation_id=user.organisation_id, user_id=user.id)


def record_chart(session: Session, plan: ChartPlan, file_id: str, now: datetime) -> bool:
    """The place now shows `file_id`, drawn from `plan`'s numbers: one guarded write, only if the
    place still shows the file that was read (a concurrent upload that recorded first wins; the
    caller then deletes its own file). True when recorded."""
    values = {"file_id": file_id, "digest": plan.digest, "uploaded_at": now}
    if plan.file_id is not None:
        return session.execute(update(ResultChart).where(
            ResultChart.key == plan.key, ResultChart.file_id == plan.file_id).values(**values)).rowcount == 1
    try:
        with session.begin_nested():
            session.add(ResultChart(key=plan.key, organisation_id=plan.organisation_id, campaign_id=plan.campaign_id,
                                    user_id=plan.user_id, **values))
    except IntegrityError:  # another process recorded the first chart of this place meanwhile
        return False
    return True


def forget(session: Session, key: str, file_id: str) -> None:
    """The place's chart `file_id` is gone from Slack: its row goes, if it still names that file."""
    session.execute(delete(ResultChart).where(ResultChart.key == key, ResultChart.file_id == file_id))
