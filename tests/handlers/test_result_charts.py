"""The results chart in Slack (handlers/result_charts.py): uploaded with files_upload_v2 to no
channel, shown in an image block on the campaign message and on the App Home, uploaded again only
when its numbers changed (and not within REDRAW_EVERY), the old file deleted; a failed upload leaves
the old chart. Both databases (the `runtime` fixture)."""
from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, SkipClock, render_view
from bot.local.slack.ratelimits import RateLimited
from bot.models import (
    Campaign, CampaignStatus, Enrollment, InboundEvent, InboundKind, OutboundKind, OutboundMessage, OutboundStatus, ResultChart,
)
from bot.runtime import Runtime
from bot.services.result_charts import REDRAW_EVERY
from handlers.campaign_message import campaign_message, refresh_campaign_messages
from handlers.slack import Slack
from tests import factories
from tests.handlers.conftest import RITA


@pytest.fixture
def slack_time() -> SkipClock:
    """Slack's clock frozen (it moves only when the bot waits out a 429): rate windows are exact."""
    return SkipClock(base=lambda: 1000.0)


def _campaign(runtime: Runtime, clock: FakeClock, candidates: int = 3) -> int:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, owner, clock)
        campaign = factories.campaign_with_candidates(session, owner, mailbox, clock, candidates=candidates)
        campaign.status = CampaignStatus.ACTIVE  # a draft has sent nothing: its message shows no results
        return campaign.id


def _send(runtime: Runtime, clock: FakeClock, campaign_id: int, count: int, step: int = 1) -> list[int]:
    """What a worker records for `count` sends of `step` (rows as the dispatcher leaves them), and
    the campaign marked stale as every such write does."""
    with transaction(runtime.sessions, write=True) as session:
        enrollments = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign_id)
                                      .order_by(Enrollment.id)).all()[:count]
        campaign = session.get(Campaign, campaign_id)
        rows = [OutboundMessage(enrollment_id=e.id, kind=OutboundKind.CAMPAIGN, mailbox_id=campaign.mailbox_id,
                                step_position=step, to_address=f"c{e.id}-{step}@work.example",
                                message_id=f"<{e.id}.{step}@test>", status=OutboundStatus.SENT, due_at=clock.now(),
                                sent_at=clock.now(), created_at=clock.now()) for e in enrollments]
        session.add_all(rows)
        session.flush()
        _stale(session, campaign_id)
        return [r.id for r in rows]


def _reply(runtime: Runtime, clock: FakeClock, outbound_id: int) -> None:
    with transaction(runtime.sessions, write=True) as session:
        sent = session.get(OutboundMessage, outbound_id)
        session.add(InboundEvent(mailbox_id=sent.mailbox_id, enrollment_id=sent.enrollment_id,
                                 outbound_message_id=sent.id, kind=InboundKind.REPLY,
                                 provider_message_id=f"reply-{outbound_id}-{clock.now().timestamp()}",
                                 received_at=clock.now(), created_at=clock.now()))
        _stale(session, sent.enrollment.campaign_id)


def _stale(session: Any, campaign_id: int) -> None:
    session.execute(update(Campaign).where(Campaign.id == campaign_id)
                    .values(message_version=Campaign.message_version + 1))


def _images(ws: LocalSlack) -> list[dict[str, Any]]:
    """The image blocks of Rita's campaign message, as it stands."""
    [message] = [m for m in ws.messages(ws.dm_channel(RITA)) if any(b.get("type") == "header" for b in m.blocks)]
    return [b for b in message.blocks if b["type"] == "image"]


def _chart_row(runtime: Runtime) -> tuple[str, str] | None:
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(ResultChart))
        return (row.key, row.file_id) if row else None


def test_the_campaign_message_shows_its_chart_uploaded_to_no_channel(
        runtime: Runtime, workspace: LocalSlack, client: WebClient, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    _send(runtime, clock, campaign_id, 3)
    campaign_message(runtime, Slack(client), campaign_id)
    [image] = _images(workspace)
    file_id = image["slack_file"]["id"]
    assert image["alt_text"].startswith("Results chart for Backend Q4: 3 sent, 0 replied in total")
    file = workspace.file(file_id)
    assert (file["filetype"], file["user"], file["channels"], file["ims"]) == ("png", workspace.bot_user_id, [], [])
    png = workspace._files[file_id].content
    with Image.open(io.BytesIO(png)) as chart:
        assert chart.size == (1200, 600)
    assert _chart_row(runtime) == (f"campaign:{campaign_id}", file_id)
    # nobody's DM got a message carrying the file
    assert not any(m.files for m in workspace.messages())


def test_nothing_sent_means_no_chart_and_no_upload(
        runtime: Runtime, workspace: LocalSlack, client: WebClient, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    campaign_message(runtime, Slack(client), campaign_id)
    assert _images(workspace) == [] and workspace.calls_to("files.getUploadURLExternal") == []


def test_same_numbers_no_second_upload_changed_numbers_replace_the_old_file(
        runtime: Runtime, workspace: LocalSlack, client: WebClient, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    sent = _send(runtime, clock, campaign_id, 2)
    campaign_message(runtime, Slack(client), campaign_id)
    first = _images(workspace)[0]["slack_file"]["id"]

    clock.advance(REDRAW_EVERY * 2)
    with transaction(runtime.sessions, write=True) as session:  # stale, numbers unchanged
        _stale(session, campaign_id)
    refresh_campaign_messages(runtime, client)
    assert len(workspace.calls_to("files.getUploadURLExternal")) == 1
    assert _images(workspace)[0]["slack_file"]["id"] == first

    _reply(runtime, clock, sent[0])
    refresh_campaign_messages(runtime, client)
    [image] = _images(workspace)
    second = image["slack_file"]["id"]
    assert second != first and "1 replied" in image["alt_text"]
    assert workspace.deleted_files == [first] and first not in {f["id"] for f in workspace.files()}
    assert _chart_row(runtime) == (f"campaign:{campaign_id}", second)


def test_a_chart_is_not_redrawn_within_its_interval_but_later_without_a_new_change(
        runtime: Runtime, workspace: LocalSlack, client: WebClient, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    sent = _send(runtime, clock, campaign_id, 2)
    campaign_message(runtime, Slack(client), campaign_id)
    first = _images(workspace)[0]["slack_file"]["id"]
    clock.advance(REDRAW_EVERY / 2)
    _reply(runtime, clock, sent[1])
    refresh_campaign_messages(runtime, client)
    assert _images(workspace)[0]["slack_file"]["id"] == first  # held back
    clock.advance(REDRAW_EVERY / 2)
    refresh_campaign_messages(runtime, client)  # nothing new was written: the campaign stayed stale
    assert _images(workspace)[0]["slack_file"]["id"] != first
    assert len(workspace.calls_to("files.getUploadURLExternal")) == 2


def test_a_rate_limited_upload_leaves_the_previous_chart(
        runtime: Runtime, workspace: LocalSlack, client: WebClient, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    sent = _send(runtime, clock, campaign_id, 2)
    campaign_message(runtime, Slack(client), campaign_id)
    first = _images(workspace)[0]["slack_file"]["id"]
    clock.advance(REDRAW_EVERY)
    _reply(runtime, clock, sent[0])
    with pytest.raises(RateLimited):  # files.getUploadURLExternal is Tier 4: use up this minute's 100 calls
        for _ in range(101):
            workspace._limiter.check("files.getUploadURLExternal")
    no_retries = WebClient(token=workspace.bot_token, base_url=workspace.api_url)
    refresh_campaign_messages(runtime, no_retries)
    assert workspace.calls_to("files.getUploadURLExternal")[-1].error == "ratelimited"
    assert _images(workspace)[0]["slack_file"]["id"] == first
    assert _chart_row(runtime) == (f"campaign:{campaign_id}", first) and workspace.deleted_files == []


def test_the_app_home_shows_the_owners_chart(
        runtime: Runtime, workspace: LocalSlack, rita: Person, clock: FakeClock) -> None:
    rita.open_home()
    assert not [b for b in workspace.home(RITA)["blocks"] if b["type"] == "image"]  # nothing sent yet
    campaign_id = _campaign(runtime, clock)
    sent = _send(runtime, clock, campaign_id, 3)
    _reply(runtime, clock, sent[0])
    rita.open_home()
    [image] = [b for b in workspace.home(RITA)["blocks"] if b["type"] == "image"]
    assert image["alt_text"].startswith("Results chart for Rita Recruiter's campaigns: 3 sent, 1 replied in total")
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(ResultChart).where(ResultChart.key.startswith("home:")))
        assert row.file_id == image["slack_file"]["id"]
    rita.open_home()  # unchanged: shown again, not uploaded again
    assert len(workspace.calls_to("files.getUploadURLExternal")) == 1


def test_a_chart_someone_deleted_is_dropped_from_the_message_then_uploaded_again(
        runtime: Runtime, workspace: LocalSlack, client: WebClient, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    _send(runtime, clock, campaign_id, 2)
    campaign_message(runtime, Slack(client), campaign_id)
    first = _images(workspace)[0]["slack_file"]["id"]
    del workspace._files[first]  # an admin deleted the file in Slack
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Campaign).values(name="Backend Q4b", message_version=Campaign.message_version + 1))
    refresh_campaign_messages(runtime, client)
    assert workspace.calls_to("chat.update")[-2].error == "invalid_blocks"  # Slack refused the gone file
    assert _images(workspace) == [] and _chart_row(runtime) is None  # shown without it, and forgotten
    refresh_campaign_messages(runtime, client)  # still stale: drawn again with a new upload
    [image] = _images(workspace)
    assert image["slack_file"]["id"] != first and "Backend Q4b" in image["alt_text"]


def test_an_admins_app_home_shows_the_teams_chart_and_each_recruiters_total(
        runtime: Runtime, workspace: LocalSlack, rita: Person, app: App, clock: FakeClock) -> None:
    campaign_id = _campaign(runtime, clock)
    sent = _send(runtime, clock, campaign_id, 3)
    _reply(runtime, clock, sent[0])
    rita.open_home()  # Rita is no admin: her own chart, no team part
    assert "The team's results" not in render_view(workspace.home(RITA))
    assert len([b for b in workspace.home(RITA)["blocks"] if b["type"] == "image"]) == 1
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", BoltTarget(app))
    ada.open_home()
    home = workspace.home("U0ADA")
    shown = render_view(home)
    [image] = [b for b in home["blocks"] if b["type"] == "image"]  # she sent nothing: only the team's chart
    assert image["alt_text"].startswith("Results chart for the team: 3 sent, 1 replied in total")
    assert "The team's results, last 30 days" in shown and "Per recruiter, last 30 days" in shown
    rita_line = next(line for line in shown.splitlines() if line.strip("`").startswith("Rita Recruiter"))
    assert rita_line.split()[2:4] == ["3", "0"]  # sent 3, bounced 0
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(ResultChart.file_id).where(ResultChart.key.startswith("team:"))) == \
            image["slack_file"]["id"]
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=False)  # no longer an admin in Slack
    ada.open_home()
    assert "The team's results" not in render_view(workspace.home("U0ADA"))
