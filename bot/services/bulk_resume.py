"""Resuming several campaigns at once (`/outreach resume` with several chosen, "Resume all" after a
reconnect), one campaign per transaction, so the person can be shown progress between them (issue 17
§7) and a campaign that can no longer resume stops only itself. Slack-free: the handler shows the
progress (handlers/bulk_resume.py)."""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import User
from bot.services import access
from bot.services.access import Need
from bot.services.campaigns import check_resumable, resume_campaign
from bot.services.connections import to_resume_all
from bot.wording import counted


@dataclass(frozen=True)
class Resumable:
    id: int
    name: str


@dataclass
class ResumeRun:
    """Where a bulk resume stands: what it is resuming, what resumed, what could not."""

    campaigns: Sequence[Resumable]
    resumed: list[Resumable] = field(default_factory=list)
    replanned: int = 0  # sends planned again from now
    failed: list[tuple[Resumable, str]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.resumed) + len(self.failed)

    def progress(self) -> str:
        return (f":hourglass_flowing_sand: Resuming {counted(len(self.campaigns), 'campaign')}: "
                f"{self.done:,} of {len(self.campaigns):,} done…")

    def summary(self) -> str:
        said = [f":arrow_forward: Resumed {counted(len(self.resumed), 'campaign')}"
                + (f", {counted(self.replanned, 'send')} planned again from now" if self.replanned else "")
                + ". Sending restarts within 20 minutes, from where each left off."]
        said += [f":warning: *{campaign.name}* did not resume: {why}" for campaign, why in self.failed]
        return "\n".join(said)


def chosen(session: Session, *, user: User, campaign_ids: Sequence[int]) -> list[Resumable]:
    """The campaigns picked in the resume modal, each checked before any resumes (all or nothing, as
    the modal says): a UserError names the first that cannot."""
    found = []
    for campaign_id in campaign_ids:
        campaign = access.campaign(session, user=user, campaign_id=campaign_id, need=Need.CHANGE).campaign
        check_resumable(campaign)
        found.append(Resumable(campaign.id, campaign.name))
    return found


def after_reconnect(session: Session, *, user: User, mailbox_id: int) -> list[Resumable]:
    """What "Resume all" resumes (connections.to_resume_all)."""
    return [Resumable(c.id, c.name) for c in to_resume_all(session, user=user, mailbox_id=mailbox_id)]


def resume_one(session: Session, *, user: User, campaign_id: int, clock: Clock, rng: random.Random) -> int:
    """Resume one campaign of a bulk resume, re-checked now; returns how many sends were planned again."""
    campaign = access.campaign(session, user=user, campaign_id=campaign_id, need=Need.CHANGE).campaign
    return resume_campaign(session, campaign=campaign, clock=clock, rng=rng)

