"""`/outreach export <campaign>`: the CSV lands in the caller's DM with the bot (files_upload_v2 with
channel_id), with a short comment; a teammate it is shared with gets it without the address Rita
added by hand; a campaign nobody shared is "not found", as every campaign command answers."""
from __future__ import annotations

import csv
from dataclasses import replace
import io

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person
from bot.models import AddressKind, Enrollment
from bot.runtime import Runtime
from bot.services.campaigns import edit_candidate_in_campaign, start_campaign
from handlers.commands import COMMAND
from tests import factories
from tests.handlers.conftest import OMAR, RITA

BY_HAND = "ana0.private@home.example"


def _campaign(runtime: Runtime, clock: FakeClock) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=2)
        enrollment = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)
                                     .order_by(Enrollment.id)).first()
        edit_candidate_in_campaign(session, user=rita, enrollment=enrollment, send_to=BY_HAND, new_address=BY_HAND,
                                   new_kind=AddressKind.PERSONAL, use_first=False, fields={}, clock=clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        return campaign.id


def _exported(ws: LocalSlack, user: str) -> tuple[str, list[dict[str, str]]]:
    """The comment and the rows of the last CSV the bot shared in `user`'s DM."""
    message = [m for m in ws.messages(ws.dm_channel(user)) if m.files][-1]
    content = ws._files[message.files[0]["id"]].content
    assert content.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read UTF-8 right
    return message.text, list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_owner_gets_the_csv_in_her_dm(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                          clock: FakeClock) -> None:
    _campaign(runtime, clock)
    rita.slash(COMMAND, "export backend q4")
    comment, rows = _exported(workspace, RITA)
    assert comment == "Backend Q4: 2 candidates, their statuses and dates (times in UTC)."
    assert [r["name"] for r in rows] == ["Ana Candidate0", "Ana Candidate1"]
    assert rows[0]["status"] == "Not Started · step 1 Pending"
    assert rows[0]["addresses"] == f"ana0@work.example; ana0@home.example; {BY_HAND}"
    assert rows[0]["step 1 sent (UTC)"] == "" and rows[0]["time zone"] == "America/New_York"
    file = workspace.files()[-1]
    assert file["ims"] == [workspace.dm_channel(RITA)] and file["filetype"] == "csv"
    assert "is in your DM" in rita.ephemerals()[-1].text


def test_a_teammate_never_sees_the_address_rita_added_by_hand(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _campaign(runtime, clock)
    omar.slash(COMMAND, "export Backend Q4")
    assert "No campaign called 'Backend Q4'" in omar.ephemerals()[-1].text
    assert not [m for m in workspace.messages(workspace.dm_channel(OMAR)) if m.files]
    rita.slash(COMMAND, f"share Backend Q4 <@{OMAR}|omar> view")
    omar.slash(COMMAND, "export Backend Q4")
    _, rows = _exported(workspace, OMAR)
    assert rows[0]["addresses"] == "ana0@work.example; ana0@home.example"
    everything = b"".join(f.content for f in workspace._files.values() if f.name.endswith(".csv")
                          and f.shares and f.shares[0][0] == workspace.dm_channel(OMAR))
    assert BY_HAND.encode() not in everything


def test_export_without_a_name_says_what_to_type(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                 clock: FakeClock) -> None:
    rita.slash(COMMAND, "export")
    assert rita.ephemerals()[-1].text == "Name the campaign, e.g. `/outreach export Backend Q4`."
    assert workspace.calls_to("files.getUploadURLExternal") == []


def test_without_files_write_the_answer_says_to_reinstall(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                          clock: FakeClock) -> None:
    _campaign(runtime, clock)
    workspace.manifest = replace(workspace.manifest, bot_scopes=workspace.manifest.bot_scopes - {"files:write"})
    rita.slash(COMMAND, "export Backend Q4")
    assert workspace.calls_to("files.getUploadURLExternal")[-1].error == "missing_scope"
    assert "reinstall the app (it needs the files:write permission)" in rita.ephemerals()[-1].text
