"""`/outreach stats` through the local workspace: one's own campaigns, a campaign by name with a
period, a teammate's and the team's for admins only (Slack's flag read fresh), refusals worded as for
other campaign commands, an unreadable period answered with what to write; and the Results section
of the campaign message, redrawn when its numbers change."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.models import Campaign, CampaignStatus, Enrollment, InboundKind
from bot.runtime import Runtime
from bot.services.campaign_marks import mark_stale
from bot.services.sequences import StepDraft
from handlers.campaign_message import campaign_message, refresh_campaign_messages
from handlers.commands import COMMAND
from handlers.slack import Slack
from tests.bot.test_results import THREE_STEPS, answer, at, opened, send, story
from tests import factories
from tests.handlers.conftest import OMAR, RITA, client_for


def _story(runtime: Runtime, clock: FakeClock) -> int:
    with transaction(runtime.sessions, write=True) as session:
        campaign, _, _ = story(session, clock)
        return campaign


def _answer(person: Person) -> str:
    last = person.ephemerals()[-1]
    return render_blocks(last.blocks) if last.blocks else last.text


def _row(shown: str, label: str) -> list[str]:
    """A table line's cells: "Step 1   6  1 …" → ["Step 1", "6", "1", …] (cells are 2+ spaces apart)."""
    line = next(line for line in shown.splitlines() if line.strip("`").startswith(label))
    return re.split(r"\s{2,}", line.strip("`").strip())


def test_own_campaigns_and_one_campaign_with_a_period(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                      clock: FakeClock) -> None:
    _story(runtime, clock)
    rita.slash(COMMAND, "stats")
    mine = _answer(rita)
    assert "Results: your campaigns" in mine and "Since the first send" in mine
    # all time: e's October send and reply count; median of 2 h, 1 d, 6 d 6 h and 13 d 6 h
    assert _row(mine, "Total") == ["Total", "11", "1", "2", "4", "40.0%", "3 d 15 h"]
    rita.slash(COMMAND, "stats backend q4 2026-11")  # November in Rita's zone: e's October send is out
    shown = _answer(rita)
    assert "Results: Backend Q4" in shown and "November 2026" in shown and "Opened" not in shown
    assert _row(shown, "Step 1") == ["Step 1", "6", "1", "2", "1", "20.0%", "2 h"]
    assert _row(shown, "Step 2") == ["Step 2", "3", "0", "0", "1", "33.3%", "1 d"]
    assert _row(shown, "Step 3") == ["Step 3", "1", "0", "0", "1", "100%", "6 d 6 h"]
    assert _row(shown, "Total") == ["Total", "10", "1", "2", "3", "33.3%", "1 d"]
    rita.slash(COMMAND, "stats Backend Q4 last month")  # October: only e's send
    assert _row(_answer(rita), "Total") == ["Total", "1", "0", "0", "1", "100%", "13 d 6 h"]
    rita.slash(COMMAND, "stats Backend Q4 since 2026-11-12")
    assert _row(_answer(rita), "Step 1") == ["Step 1", "0", "0", "0", "0", "–", "–"]


def test_an_unreadable_period_says_what_to_write(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    _story(runtime, clock)
    for typed in ("stats Backend Q4 2026-13", "stats team since yesterday", "stats 0d", "stats 2027-01"):
        rita.slash(COMMAND, typed)
        assert "Write the period as `7d`, `30d`" in rita.ephemerals()[-1].text, typed


def test_a_teammate_sees_only_what_they_may(rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime,
                                            clock: FakeClock) -> None:
    _story(runtime, clock)
    omar.slash(COMMAND, "stats Backend Q4")  # not shared with him: answered as for a name that does not exist
    unknown = omar.ephemerals()[-1].text
    omar.slash(COMMAND, "stats Frontend Q9")
    assert unknown == omar.ephemerals()[-1].text.replace("Frontend Q9", "Backend Q4")
    omar.slash(COMMAND, "status Backend Q4")  # the same words as status's refusal
    assert unknown == omar.ephemerals()[-1].text
    for typed in (f"stats <@{RITA}|rita>", "stats team 30d"):
        omar.slash(COMMAND, typed)
        assert omar.ephemerals()[-1].text.startswith(":warning: Only workspace admins and owners see"), typed
    omar.slash(COMMAND, f"stats <@{OMAR}|omar>")  # himself: his own campaigns
    assert _row(_answer(omar), "Total") == ["Total", "1", "0", "0", "1", "100%", "1 d"]


def test_an_admin_sees_a_teammate_and_the_team(omar: Person, workspace: LocalSlack, runtime: Runtime,
                                               clock: FakeClock) -> None:
    _story(runtime, clock)
    omar.slash(COMMAND, "stats team")
    assert omar.ephemerals()[-1].text.startswith(":warning: Only workspace admins")
    workspace.add_user(OMAR, name="omar", real_name="Omar Other", tz="Europe/Paris", is_admin=True)  # made admin
    omar.slash(COMMAND, "stats team 2026-11")  # read fresh: no waiting for a profile refresh
    team = _answer(omar)
    assert "Results: the team" in team and "Per recruiter" in team
    assert _row(team, "Total") == ["Total", "11", "1", "2", "4", "40.0%", "1 d"]
    assert _row(team, "Omar Other") == ["Omar Other", "1", "0", "0", "1", "100%", "1 d"]
    assert _row(team, "Rita Recruiter") == ["Rita Recruiter", "10", "1", "2", "3", "33.3%", "1 d"]
    omar.slash(COMMAND, f"stats <@{RITA}|rita> 2026-11")
    hers = _answer(omar)
    assert "Results: Rita Recruiter's campaigns" in hers
    assert _row(hers, "Total") == ["Total", "10", "1", "2", "3", "33.3%", "1 d"]
    assert "zed" not in hers and "@" not in hers.replace("`/outreach stats @name`", "")  # counts, never addresses


def test_opens_shown_with_machine_opens_apart(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, owner, factories.sandbox_mailbox(session, owner, clock),
                                                      clock, candidates=3)
        campaign.track_opens = True
        a, b, c = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)
                                  .order_by(Enrollment.id)).all()
        opened(session, send(session, a, 1, at(10, 9)), at(10, 12), machine=False)
        opened(session, send(session, b, 1, at(10, 9)), at(10, 9), machine=True)
        send(session, c, 1, at(10, 9))
    rita.slash(COMMAND, "stats Backend Q4")
    shown = _answer(rita)
    assert _row(shown, "Step 1") == ["Step 1", "3", "0", "0", "1 (+1 machine)", "0", "0%", "–"]
    assert "machine opens" in shown


def test_the_campaign_message_shows_results_once_something_was_sent(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    slack = Slack(client_for(workspace))
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, owner, factories.sandbox_mailbox(session, owner, clock),
                                                      clock, candidates=2, steps=THREE_STEPS)
        campaign.status = CampaignStatus.ACTIVE
        campaign_id = campaign.id
    campaign_message(runtime, slack, campaign_id)

    def shown() -> str:
        return render_blocks([m for m in workspace.messages(channel=rita.dm) if m.blocks][-1].blocks)
    assert "Results" not in shown()  # nothing sent yet
    with transaction(runtime.sessions, write=True) as session:
        a, b = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign_id)).all()
        first = send(session, a, 1, at(20, 9))
        send(session, b, 1, at(20, 9))
        mark_stale(session, [campaign_id])
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 1
    assert "*Results*" in shown() and _row(shown(), "Step 1") == ["Step 1", "2", "0", "0", "0", "0%", "–"]
    assert _row(shown(), "Step 3") == ["Step 3", "0", "0", "0", "0", "–", "–"]
    with transaction(runtime.sessions, write=True) as session:
        answer(session, session.get(Enrollment, first.enrollment_id), InboundKind.REPLY, at(21, 9), None)
        session.get(Campaign, campaign_id).name = session.get(Campaign, campaign_id).name  # nothing else changed
        mark_stale(session, [campaign_id])
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 1  # new numbers: a new key, redrawn
    assert _row(shown(), "Step 1") == ["Step 1", "2", "0", "0", "1", "50.0%", "1 d"]
    with transaction(runtime.sessions, write=True) as session:
        mark_stale(session, [campaign_id])
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 0  # the same numbers: not redrawn


def test_ten_steps_fit_the_campaign_message_and_the_command(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                             clock: FakeClock) -> None:
    """The local Slack refuses what Slack would (invalid_blocks): ten steps sent, both views accepted."""
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(
            session, owner, factories.sandbox_mailbox(session, owner, clock), clock, candidates=3,
            steps=[StepDraft(f"Step {n}", "Hi", delay_days=1) for n in range(10)])
        campaign.status, campaign.track_opens = CampaignStatus.ACTIVE, True
        for enrollment in session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)):
            for step in range(1, 11):
                send(session, enrollment, step, at(step, 9))
        campaign_id = campaign.id
    campaign_message(runtime, Slack(client_for(workspace)), campaign_id)
    message = render_blocks([m for m in workspace.messages(channel=rita.dm) if m.blocks][-1].blocks)
    assert _row(message, "Step 10") == ["Step 10", "3", "0", "0", "0", "0", "0%", "–"]
    rita.slash(COMMAND, "stats Backend Q4")
    assert _row(_answer(rita), "Total") == ["Total", "30", "0", "0", "0", "0", "0%", "–"]


def test_status_shows_the_results_to_whoever_may_see_the_campaign(
        rita: Person, omar: Person, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _story(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        session.get(Campaign, campaign_id).status = CampaignStatus.ACTIVE  # the story's rows, as if started
    rita.slash(COMMAND, "status Backend Q4")
    assert _row(_answer(rita), "Total") == ["Total", "11", "1", "2", "4", "40.0%", "3 d 15 h"]
    rita.slash(COMMAND, f"share Backend Q4 <@{OMAR}|omar> view")
    omar.slash(COMMAND, "status Backend Q4")  # a view share: the same numbers (no address is in them)
    shown = _answer(omar)
    assert "*Results*" in shown and _row(shown, "Total") == ["Total", "11", "1", "2", "4", "40.0%", "3 d 15 h"]
