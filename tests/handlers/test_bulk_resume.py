"""Resuming several campaigns at once through the local workspace (issue 17 §7): each resumes in its own
transaction while a DM shows how far it got (at most once a second by the runtime's clock, which a
hook on each campaign advances), ending with a summary; one that can no longer resume is named there
and stops only itself."""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.local.slack import LocalSlack, Person
from bot.models import Campaign, CampaignStatus
from bot.runtime import Runtime
from bot.services import bulk_resume
from bot.services.campaigns import pause_campaign, start_campaign
from tests import factories
from tests.handlers.conftest import RITA

COMMAND = "/outreach"


@pytest.fixture
def paused(runtime: Runtime, clock: FakeClock) -> list[int]:
    """Three started campaigns of Rita's, paused by her."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        ids = []
        for _ in range(3):
            campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=2)
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
            pause_campaign(session, campaign=campaign, clock=clock)
            ids.append(campaign.id)
    clock.advance(timedelta(hours=1))  # their first steps fell due while paused: each resume plans them again
    return ids


def _each_campaign(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, step: timedelta,
                   refuse: int | None = None) -> list[int]:
    """Wraps the real resume_one: each campaign takes `step` of the runtime's clock; the `refuse`-th
    finds it can no longer resume (its mailbox lost meanwhile, say)."""
    seen: list[int] = []
    original: Callable[..., Any] = bulk_resume.resume_one

    def one(*args: Any, **kwargs: Any) -> int:
        seen.append(kwargs["campaign_id"])
        clock.advance(step)
        if refuse == len(seen):
            raise UserError("'Backend Q4' cannot resume: its mailbox needs reconnecting.")
        return original(*args, **kwargs)

    monkeypatch.setattr(bulk_resume, "resume_one", one)
    return seen


def _statuses(runtime: Runtime) -> list[CampaignStatus]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(Campaign.status).order_by(Campaign.id)))


def _updates(workspace: LocalSlack, ts: str) -> list[str]:
    return [c.params.get("text", "") for c in workspace.calls if c.method == "chat.update" and c.params.get("ts") == ts]


def _first_post(workspace: LocalSlack) -> str:
    return next(c.params.get("text", "") for c in workspace.calls
                if c.method == "chat.postMessage" and "Resuming" in c.params.get("text", ""))


def test_resuming_several_shows_progress_in_the_dm_then_a_summary(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, paused: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _each_campaign(monkeypatch, clock, timedelta(seconds=1.5))
    rita.slash(COMMAND, "resume")
    assert rita.submit({"campaigns": [str(i) for i in paused]}).ok
    assert seen == paused  # one at a time, in the order chosen
    assert _statuses(runtime) == [CampaignStatus.SCHEDULED] * 3
    message = next(m for m in rita.dm_messages() if "Resum" in m.text)
    assert _first_post(workspace) == ":hourglass_flowing_sand: Resuming 3 campaigns: 0 of 3 done…"  # before any
    assert _updates(workspace, message.ts)[:2] == [":hourglass_flowing_sand: Resuming 3 campaigns: 1 of 3 done…",
                                                   ":hourglass_flowing_sand: Resuming 3 campaigns: 2 of 3 done…"]
    assert message.text == (":arrow_forward: Resumed 3 campaigns, 6 sends planned again from now. Sending "
                            "restarts within 20 minutes, from where each left off.")


def test_progress_moves_at_most_once_a_second_and_a_campaign_that_cannot_resume_is_named(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, paused: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _each_campaign(monkeypatch, clock, timedelta(milliseconds=300), refuse=2)
    rita.slash(COMMAND, "resume")
    assert rita.submit({"campaigns": [str(i) for i in paused]}).ok
    assert _statuses(runtime) == [CampaignStatus.SCHEDULED, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED]
    message = next(m for m in rita.dm_messages() if "Resum" in m.text)
    assert _updates(workspace, message.ts) == [message.text]  # 0.6 s of work: under the second between updates
    assert message.text.splitlines() == [
        ":arrow_forward: Resumed 2 campaigns, 4 sends planned again from now. Sending restarts within 20 minutes, "
        "from where each left off.",
        ":warning: *Backend Q4 (2)* did not resume: 'Backend Q4' cannot resume: its mailbox needs reconnecting."]


def test_a_single_campaign_resumes_without_a_progress_message(
        rita: Person, workspace: LocalSlack, runtime: Runtime, paused: list[int]) -> None:
    rita.slash(COMMAND, "resume")
    assert rita.submit({"campaigns": [str(paused[0])]}).ok
    assert _statuses(runtime)[0] == CampaignStatus.SCHEDULED
    assert not [m for m in rita.dm_messages() if "Resum" in m.text]
