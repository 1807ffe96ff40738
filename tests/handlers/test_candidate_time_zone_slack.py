"""A `time zone` column through the local workspace (issue 19 §3): a bad zone is named on its line,
the draft's preview and, once started, `/outreach when` and the campaign message say whose time
each send follows."""
from __future__ import annotations

from bot.clock import FakeClock
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.runtime import Runtime
from handlers.commands import COMMAND
from handlers.ids import Action
from tests.handlers.conftest import RITA
from tests.handlers.test_campaigns import _add_pasted, _campaign_message, _create, _sequence_and_mailbox

PASTED = ("name\twork email\tcompany\ttime zone\nAna Lima\tana@acme.example\tAcme\tberlin\n"
          "Bo Chen\tbo@initech.example\tInitech\tSpringfield\nCy Diaz\tcy@globex.example\tGlobex\t\n")


def test_an_upload_with_a_time_zone_column_then_when_says_whose_time_each_send_follows(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita, preference="specific", specific_time="09:00")
    _add_pasted(rita, PASTED)
    summary = render_blocks(rita.dm_messages()[-1].blocks)
    assert "2 candidates ready" in summary
    assert 'line 3: time zone "Springfield" is not a zone or a city we know: write an IANA name' in summary
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.slash(COMMAND, "when Backend Q4")  # a draft: its preview, in each zone
    preview = render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    assert "would go out (campaign's time):\nStep 1: Mon 23 Nov 09:" in preview
    assert "A candidate in Europe/Berlin (candidate's time):\nStep 1: Tue 24 Nov 09:" in preview
    rita.click(Action.CAMPAIGN_START.value)
    rita.slash(COMMAND, "when Backend Q4")
    shown = render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    lines = [line for line in shown.splitlines() if "· step 1 ·" in line]
    assert len(lines) == 2
    assert lines[0].startswith("Mon 23 Nov 09:") and "(campaign's time) · step 1 · Cy Diaz" in lines[0]
    assert lines[1].startswith("Tue 24 Nov 09:") and "(candidate's time, Europe/Berlin) · step 1 · Ana Lima" in lines[1]
    assert "Times in America/New_York (the campaign's)" in shown
    message = _campaign_message(workspace)
    assert "(candidate's time, Europe/Berlin) · step 1 · Ana Lima" in message
    assert "(campaign's time) · step 1 · Cy Diaz" in message
