"""Campaigns through the local workspace: create, add candidates (pasted, uploaded in the modal, shared
in the DM), start with its 20-minute grace, pause and resume (campaign and candidate), per-campaign
candidate changes, the status message and its paging."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks, render_view
from bot.models import (
    Campaign,
    CampaignStatus,
    CandidateAddress,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
    PauseReason,
)
from bot.runtime import Runtime
from bot.services.sequences import StepDraft, create_sequence
from handlers.campaign_message import refresh_campaign_messages
from handlers.commands import COMMAND
from handlers.ids import Action
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.handlers.conftest import OMAR, RITA, client_for

PASTED = "name\twork email\tpersonal email\tcompany\nAna Lima\tana@acme.example\tana@home.example\tAcme\n" \
         "Bo Chen\tbo(at)initech\t\tInitech\nCy Diaz\tcy@globex.example\t\tGlobex\n"


def _sequence_and_mailbox(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        factories.sandbox_mailbox(session, rita, clock)
        create_sequence(session, owner=rita, name="Backend engineers", clock=clock, steps=[
            StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}, would you like to talk?"),
            StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=2)])


def _create(rita: Person, **values: object) -> None:
    rita.slash(COMMAND, "campaign new")
    result = rita.submit({"name": "Backend Q4", **values})
    assert result.ok and not result.errors, result.errors


def _campaign_message(ws: LocalSlack) -> str:
    messages = [m for m in ws.messages() if any(b.get("type") == "header" for b in m.blocks)]
    return render_blocks(messages[-1].blocks)


def _campaign(runtime: Runtime) -> Campaign:
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None
        session.expunge(campaign)
        return campaign


def _add_pasted(rita: Person, text: str = PASTED) -> None:
    rita.click(Action.CAMPAIGN_ADD_CANDIDATES.value)
    assert rita.submit({"paste": text}).ok


def _dispatch(runtime: Runtime, clock: FakeClock) -> None:
    Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
               concurrency=1).run_until_idle()


def _sent(runtime: Runtime) -> list[str]:
    return [recipient_of(m) for m in PostOffice(runtime.providers.sandbox).all_sent()]  # type: ignore[attr-defined]


def test_a_campaign_is_created_from_the_modal_with_the_users_slack_time_zone(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    rita.slash(COMMAND, "campaign new")
    modal = render_view(workspace.open_views(RITA)[-1])
    assert "America/New_York" in modal and "Backend engineers" in modal and "rita@acme.example" in modal
    assert rita.submit({"name": "Backend Q4", "preference": "specific", "specific_time": "09:30",
                        "send_days": ["0", "1", "2", "3", "4"], "alert_channel": "C0HIRING"}).ok
    campaign = _campaign(runtime)
    assert (campaign.status, campaign.timezone, campaign.send_days) == (CampaignStatus.DRAFT, "America/New_York", "01234")
    assert str(campaign.specific_time) == "09:30:00" and campaign.alert_channel_id == "C0HIRING"
    assert campaign.same_thread is True
    shown = _campaign_message(workspace)
    assert "Backend Q4" in shown and "Draft" in shown and "Start sequence for all" in shown


def test_the_campaign_modal_shows_each_mistake_on_its_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    workspace.add_channel("C0QUIET", name="quiet", members=[RITA], bot_is_member=False)
    rita.slash(COMMAND, "campaign new")
    cases = [
        ({"preference": "specific"}, "specific_time", "Pick the time of day"),
        ({"specific_time": "09:30"}, "specific_time", "only with 'At a specific time'"),
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not a time zone"),
        ({"alert_channel": "C0QUIET"}, "alert_channel", "Invite @Outreach"),
    ]
    for values, field, message in cases:
        result = rita.submit({"name": "Backend Q4", **values})
        assert result.errors and message in result.errors[field], (values, result.errors)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign)) is None


def test_campaign_new_says_what_is_missing_first(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "campaign new")
    assert "Create a sequence first" in workspace.ephemerals(RITA)[-1].text
    assert not workspace.open_views(RITA)


def test_pasted_rows_are_added_only_after_confirming_and_bad_rows_are_named_by_line(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    summary = render_blocks(rita.dm_messages()[-1].blocks)
    assert "2 candidates ready" in summary and "line 3" in summary and "bo(at)initech" in summary
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment)) is None  # nothing kept before the recruiter confirms
    rita.click(Action.UPLOAD_CONFIRM.value)
    assert rita.dm_messages()[-1].text.startswith(":white_check_mark: Added 2 candidates")
    assert rita.dm_messages()[-1].blocks == []  # the buttons are gone: no second click adds them twice
    shown = _campaign_message(workspace)
    assert "Ana Lima" in shown and "Cy Diaz" in shown and "2 candidates" in shown
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(Enrollment)).all()) == 2


def test_a_csv_in_another_encoding_is_read_from_the_modals_file_input(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    data = "name;work email;company\nJosé Müller;jose@acme.example;Acme\n".encode("cp1252")
    rita.click(Action.CAMPAIGN_ADD_CANDIDATES.value)
    assert rita.submit({"file": ("people.csv", data)}).ok
    assert "people.csv" in render_blocks(rita.dm_messages()[-1].blocks)
    rita.click(Action.UPLOAD_CONFIRM.value)
    assert "José Müller" in _campaign_message(workspace)
    assert any(c.method == "files.download" for c in workspace.calls)


def test_an_empty_csv_is_refused_on_the_file_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    rita.click(Action.CAMPAIGN_ADD_CANDIDATES.value)
    result = rita.submit({"file": ("empty.csv", b"")})
    assert result.errors and "no candidate rows" in result.errors["file"]
    result = rita.submit({})
    assert result.errors and "Upload a CSV file or paste rows" in result.errors["paste"]


def test_a_csv_shared_in_the_dm_asks_which_campaign_and_adds_on_click(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    rita.upload("team.csv", b"name,email,company\nDee Eve,dee@acme.example,Acme\n")
    summary = render_blocks(rita.dm_messages()[-1].blocks)
    assert "team.csv" in summary and "Add 1 to Backend Q4" in summary
    rita.click(Action.UPLOAD_CONFIRM.value)
    assert "Dee Eve" in _campaign_message(workspace)


def test_start_waits_20_minutes_and_shows_not_started_with_step_1_pending(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(Action.CAMPAIGN_START.value)
    shown = _campaign_message(workspace)
    assert "Scheduled" in shown and shown.count("Not Started · step 1 Pending") == 2
    clock.advance(timedelta(minutes=19, seconds=59))
    _dispatch(runtime, clock)
    assert _sent(runtime) == []
    clock.advance(timedelta(minutes=21))
    _dispatch(runtime, clock)
    clock.advance(timedelta(minutes=2))
    _dispatch(runtime, clock)
    assert sorted(_sent(runtime)) == ["ana@acme.example", "cy@globex.example"]
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 1
    assert "In progress (step 1 of 2 sent)" in _campaign_message(workspace)
    assert refresh_campaign_messages(runtime, client_for(workspace)) == 0


def test_start_is_refused_naming_the_candidate_and_the_missing_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita, "name,email\nNo Company,nc@acme.example\n")
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(Action.CAMPAIGN_START.value)
    refusal = rita.ephemerals()[-1].text
    assert "No Company" in refusal and "company" in refusal
    assert _campaign(runtime).status == CampaignStatus.DRAFT


def test_pause_stops_sending_and_resume_replans_from_now_without_a_burst(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(Action.CAMPAIGN_START.value)
    rita.click(Action.CAMPAIGN_PAUSE.value)
    assert "Paused (paused by you)" in _campaign_message(workspace)
    clock.advance(timedelta(days=1))
    _dispatch(runtime, clock)
    assert _sent(runtime) == []
    resumed_at = clock.now()
    rita.click(Action.CAMPAIGN_RESUME.value)
    with transaction(runtime.sessions) as session:
        due = session.scalars(select(OutboundMessage.due_at)).all()
    assert all(resumed_at + timedelta(minutes=20) <= d <= resumed_at + timedelta(minutes=40) for d in due)
    assert "Scheduled" in _campaign_message(workspace)


def test_resume_lists_paused_campaigns_with_why_and_refuses_one_that_cannot_send(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(Action.CAMPAIGN_START.value)
    rita.click(Action.CAMPAIGN_PAUSE.value)
    rita.slash(COMMAND, "resume")
    assert "paused by you" in render_view(workspace.open_views(RITA)[-1])
    with transaction(runtime.sessions, write=True) as session:  # meanwhile the mailbox is disconnected
        session.scalar(select(Mailbox)).status = "disconnected"  # type: ignore[union-attr]
    campaign_id = str(_campaign(runtime).id)
    result = rita.submit({"campaigns": [campaign_id]})
    assert result.errors and "disconnected" in result.errors["campaigns"]
    with transaction(runtime.sessions, write=True) as session:
        session.scalar(select(Mailbox)).status = "connected"  # type: ignore[union-attr]
    assert rita.submit({"campaigns": [campaign_id]}).ok and not workspace.open_views(RITA)
    campaign = _campaign(runtime)
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.pause_reason is None


def test_resume_says_so_when_nothing_is_paused(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "resume")
    assert workspace.ephemerals(RITA)[-1].text == "None of your campaigns is paused."


def test_one_candidate_is_paused_and_resumed_from_the_campaign_message(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(Action.CAMPAIGN_START.value)
    ana = _enrollment_id(runtime, "Ana Lima")
    _menu(rita, workspace, f"pause:{ana}")
    assert "Ana Lima* · Paused" in _campaign_message(workspace)
    clock.advance(timedelta(hours=1))
    _dispatch(runtime, clock)
    assert _sent(runtime) == ["cy@globex.example"]
    _menu(rita, workspace, f"resume:{ana}")
    clock.advance(timedelta(hours=1))
    _dispatch(runtime, clock)
    assert sorted(_sent(runtime)) == ["ana@acme.example", "cy@globex.example"]


def test_per_campaign_address_and_fields_change_nothing_elsewhere(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    ana = _editing_ana(rita, workspace, runtime, clock)
    assert rita.submit({"new_address": "ana.lima@new.example", "fields": "company: Acme Labs"}).ok
    with transaction(runtime.sessions) as session:
        enrollment = session.get(Enrollment, ana)
        assert enrollment is not None
        assert enrollment.address_override == "ana.lima@new.example"
        assert enrollment.fields_override == {"company": "Acme Labs"}
        assert enrollment.candidate.fields["company"] == "Acme"  # the candidate itself is unchanged
        added = session.scalar(select(CandidateAddress).where(CandidateAddress.address == "ana.lima@new.example"))
        assert added is not None and added.added_by_id == enrollment.campaign.owner_id  # seen only by Rita


def test_someone_else_cannot_change_a_campaign(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    omar.slash(COMMAND, "status Backend Q4")  # not shared with him: answered as for a name that does not exist
    unknown = omar.ephemerals()[-1].text
    omar.slash(COMMAND, "status Frontend Q9")
    assert unknown == omar.ephemerals()[-1].text.replace("Frontend Q9", "Backend Q4")
    assert "No campaign called 'Backend Q4'" in unknown
    assert _campaign(runtime).status == CampaignStatus.DRAFT


def test_a_large_campaign_pages_its_candidates_within_slacks_block_limit(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    rows = "".join(f"Person {n:03d},p{n}@acme.example,Acme\n" for n in range(40))
    _add_pasted(rita, "name,email,company\n" + rows)
    rita.click(Action.UPLOAD_CONFIRM.value)
    message = [m for m in workspace.messages() if any(b.get("type") == "header" for b in m.blocks)][-1]
    assert len(message.blocks) <= 50 and "Page 1 of 3" in render_blocks(message.blocks)
    rita.click(f"{Action.CAMPAIGN_PAGE.value}.next")
    shown = _campaign_message(workspace)
    assert "Page 2 of 3" in shown and "Person 015" in shown and "Person 000" not in shown


def test_status_lists_campaigns_and_shows_one(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    rita.slash(COMMAND, "status")
    assert "Backend Q4" in render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    rita.slash(COMMAND, "status backend q4")
    assert "Start sequence for all" in render_blocks(workspace.ephemerals(RITA)[-1].blocks)


def _enrollment_id(runtime: Runtime, name: str) -> int:
    from bot.models import Candidate

    with transaction(runtime.sessions) as session:
        found = session.scalar(select(Enrollment.id).join(Candidate).where(Candidate.name == name))
        assert found is not None
        return found


def _editing_ana(rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> int:
    """A draft with the pasted candidates, and Rita's edit form open for Ana's place in it."""
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita)
    rita.click(Action.UPLOAD_CONFIRM.value)
    ana = _enrollment_id(runtime, "Ana Lima")
    _menu(rita, workspace, f"edit:{ana}")
    return ana


def _menu(rita: Person, workspace: LocalSlack, option: str) -> None:
    message = [m for m in workspace.messages() if any(b.get("type") == "header" for b in m.blocks)][-1]
    block = next(b for b in message.blocks if b.get("accessory", {}).get("type") == "overflow"
                 and any(o["value"] == option for o in b["accessory"]["options"]))
    assert rita.click(Action.CANDIDATE_MENU.value, in_message=message, block_id=block["block_id"],
                      selected_option_value=option).ok


__all__ = ["OMAR", "EnrollmentStatus", "OutboundStatus", "PauseReason"]


def test_a_hand_added_address_is_seen_only_by_who_added_it_and_use_first_wins(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    ana = _editing_ana(rita, workspace, runtime, clock)
    assert rita.submit({"send_to": "ana@home.example", "use_first": ["yes"]}).ok
    _menu(rita, workspace, f"edit:{ana}")
    assert rita.submit({"new_address": "ana.private@mail.example"}).ok
    with transaction(runtime.sessions, write=True) as session:  # Omar, another recruiter, has a campaign too
        omar_user = factories.recruiter(session, clock, slack_id=OMAR)
        factories.sandbox_mailbox(session, omar_user, clock, address="omar@acme.example")
        create_sequence(session, owner=omar_user, name="Omar's", clock=clock,
                        steps=[StepDraft("Hello", "Hi {{ first_name }}")])
        first = session.scalar(select(CandidateAddress).where(CandidateAddress.address == "ana@home.example"))
        assert first is not None and first.use_first  # marked for every campaign
    omar.slash(COMMAND, "campaign new")
    assert omar.submit({"name": "Omar Q1"}).ok
    omar.click(Action.CAMPAIGN_ADD_CANDIDATES.value)
    assert omar.submit({"paste": "name,email\nAna Lima,ana@acme.example\n"}).ok
    omar.click(Action.UPLOAD_CONFIRM.value)
    with transaction(runtime.sessions) as session:
        enrollment_id = session.scalar(select(Enrollment.id).join(Campaign).where(Campaign.name == "Omar Q1"))
    omar_message = [m for m in workspace.messages(channel=omar.dm) if m.blocks and m.blocks[0]["type"] == "header"][-1]
    block = next(b for b in omar_message.blocks if b.get("accessory", {}).get("type") == "overflow")
    omar.click(Action.CANDIDATE_MENU.value, in_message=omar_message, block_id=block["block_id"],
               selected_option_value=f"edit:{enrollment_id}")
    choices = render_view(workspace.open_views(OMAR)[-1])
    assert "ana@home.example" in choices and "ana.private@mail.example" not in choices


def test_previous_page_and_discard(rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    _add_pasted(rita, "name,email,company\n" + "".join(f"P {n:02d},p{n}@acme.example,Acme\n" for n in range(20)))
    rita.click(Action.UPLOAD_CONFIRM.value)
    rita.click(f"{Action.CAMPAIGN_PAGE.value}.next")
    rita.click(f"{Action.CAMPAIGN_PAGE.value}.previous")
    assert "Page 1 of 2" in _campaign_message(workspace) and "P 00" in _campaign_message(workspace)
    _add_pasted(rita, "name,email,company\nZed,zed@acme.example,Acme\n")
    rita.click(Action.UPLOAD_DISCARD.value)
    assert rita.dm_messages()[-1].text == "Discarded: no candidate was added."
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(Enrollment)).all()) == 20


def test_files_other_than_a_csv_in_the_dm_and_files_in_channels_are_left_alone(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    _create(rita)
    before = len(workspace.messages())
    rita.upload("photo.png", b"\x89PNG\r\n\x1a\n")
    rita.upload("team.csv", b"name,email\nA B,ab@acme.example\n", channel="C0HIRING")
    assert len(workspace.messages()) == before + 2  # the two shares themselves; the bot said nothing
    assert not any(call.method == "files.download" for call in workspace.calls)  # nor fetched either file


def test_a_hand_added_address_or_field_that_could_misdirect_a_send_is_refused_and_nothing_changes(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    """Addresses Slack's email input lets through (it checks little more than one @ and a dot) are
    checked by the bot, on their field; a field's control character too. Nothing is written."""
    ana = _editing_ana(rita, workspace, runtime, clock)
    refused = rita.submit({"new_address": "ana@x..example", "fields": "company: Acme Labs"})
    assert refused.errors == {"new_address": '"ana@x..example" is not an email address (an email address cannot '
                                             "have two periods in a row): expected name@example.com"}
    refused = rita.submit({"new_address": "ana@x.example,boss.corp.example"})
    assert set(refused.errors or {}) == {"new_address"}
    refused = rita.submit({"new_address": "ana.lima@new.example", "fields": "company: Acme\x00Labs"})
    assert refused.errors == {"fields": "The value of company contains a NUL character (U+0000): remove it."}
    with transaction(runtime.sessions) as session:
        enrollment = session.get(Enrollment, ana)
        assert enrollment is not None
        assert (enrollment.address_override, enrollment.fields_override) == (None, {})
        assert [a.address for a in enrollment.candidate.addresses] == ["ana@acme.example", "ana@home.example"]
