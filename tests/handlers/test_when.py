from __future__ import annotations

import random
from datetime import timedelta

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from tests import factories
from tests.handlers.conftest import RITA


def _campaign(runtime: Runtime, clock: FakeClock, *, start: bool) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=3)
        if start:
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))


def _shown(ws: LocalSlack) -> str:
    return render_blocks(ws.ephemerals(RITA)[-1].blocks)


def test_when_lists_the_next_planned_sends_in_the_campaign_time_zone(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaign(runtime, clock, start=True)  # started Mon 08:30 New York: sends 08:50–09:10
    rita.slash("/outreach", "when backend q4")
    shown = _shown(workspace)
    assert "the next 3 of 3 planned sends" in shown
    assert shown.count("Mon 23 Nov 08:") + shown.count("Mon 23 Nov 09:") == 3
    assert "step 1 · Ana Candidate0 (ana0@work.example)" in shown
    assert "Times in America/New_York (the campaign's)" in shown


def test_when_previews_a_campaign_not_started_yet(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                   clock: FakeClock) -> None:
    _campaign(runtime, clock, start=False)
    clock.advance(timedelta(hours=1))
    rita.slash("/outreach", "when Backend Q4")
    shown = _shown(workspace)
    assert "is not started. Started now" in shown
    assert "Step 1: Mon 23 Nov 09:" in shown and "Step 2: Wed 25 Nov" in shown


def test_when_names_a_campaign_that_does_not_exist(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                   clock: FakeClock) -> None:
    rita.slash("/outreach", "when Nope")
    assert workspace.ephemerals(RITA)[-1].text == ":warning: No campaign called 'Nope'. Yours, and those shared with you, are on the Home tab."
