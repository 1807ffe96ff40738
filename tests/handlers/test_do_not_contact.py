"""The do-not-contact list through Slack (issue 18 §1): `/outreach dnc add|remove|list|import`, and the
list enforced at an upload, at Start and Resume, and on a one-off send. Driven through the local
workspace and the real database."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from slack_bolt import App
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.models import (
    AuditEntry,
    Campaign,
    CandidateUpload,
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    User,
)
from bot.runtime import Runtime
from bot.services import candidate_rows, candidate_uploads, do_not_contact
from bot.services.campaigns import pause_campaign, start_campaign
from handlers.commands import COMMAND
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import RITA


def _last(person: Person) -> str:
    shown = person.ephemerals()[-1]
    return render_blocks(shown.blocks) if shown.blocks else shown.text


def _ritas_campaign(runtime: Runtime, clock: FakeClock, candidates: int = 2) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        return factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates).id


def _statuses(runtime: Runtime) -> dict[str, EnrollmentStatus]:
    with transaction(runtime.sessions) as session:
        return {e.candidate.name: e.status for e in session.scalars(select(Enrollment))}


def _refusals(runtime: Runtime) -> list[dict]:  # type: ignore[type-arg]
    with transaction(runtime.sessions) as session:
        return [a.detail for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "dnc.refused")
                                                  .order_by(AuditEntry.id))]


def test_a_teammate_adds_a_domain_and_hears_how_many_it_stopped_never_whom(
        rita: Person, omar: Person, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _ritas_campaign(runtime, clock)
    rita.forge_action(Action.CAMPAIGN_START.value, value=str(campaign_id))
    omar.slash(COMMAND, "dnc add home.example a client: we do not poach from them")
    said = _last(omar)
    assert said == (":no_entry: Added the whole domain home.example to the do-not-contact list: 2 candidates in "
                    "running campaigns were stopped.")
    assert "Ana" not in said and "Backend" not in said
    assert set(_statuses(runtime).values()) == {EnrollmentStatus.DO_NOT_CONTACT}
    omar.slash(COMMAND, "dnc add Ana0@Home.example")  # a value of its own; its candidate was stopped already
    assert _last(omar) == (":no_entry: Added ana0@home.example to the do-not-contact list: no candidate in a "
                           "running campaign was covered.")
    omar.slash(COMMAND, "dnc add ana0@home.example")
    assert _last(omar) == ("ana0@home.example was already on the do-not-contact list; no candidate in a running "
                           "campaign was covered.")
    omar.slash(COMMAND, "dnc add acme")
    assert "is not a domain or an address" in _last(omar)


def test_only_an_admin_removes_read_fresh_from_slack(
        rita: Person, omar: Person, workspace: LocalSlack, app: App, runtime: Runtime, clock: FakeClock) -> None:
    rita.slash(COMMAND, "dnc add ana@acme.example")
    omar.slash(COMMAND, "dnc remove ana@acme.example")
    assert "Only a workspace admin" in _last(omar)
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", BoltTarget(app))
    ada.slash(COMMAND, "dnc remove ana@acme.example")
    assert _last(ada).startswith("Took ana@acme.example off the do-not-contact list.")
    ada.slash(COMMAND, "dnc remove ana@acme.example")
    assert _last(ada) == ":warning: ana@acme.example is not on the do-not-contact list."
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(DoNotContact)) == 0


def test_the_list_is_paged_newest_first_with_who_how_and_why(
        rita: Person, omar: Person, runtime: Runtime, clock: FakeClock) -> None:
    for n in range(22):
        rita.slash(COMMAND, f"dnc add person{n}@acme.example said stop <please>")
        clock.advance(timedelta(minutes=1))
    omar.slash(COMMAND, "dnc list")
    first = _last(omar)
    assert "22 entries, newest first (page 1 of 2)" in first
    assert first.index("person21@acme.example") < first.index("person20@acme.example")
    assert "added by Rita Recruiter on" in first and "`/outreach dnc add`" in first
    assert "said stop &lt;please&gt;" in first or "said stop <please>" in first
    assert "`/outreach dnc list 2` shows the next page" in first
    omar.slash(COMMAND, "dnc list 2")
    second = _last(omar)
    assert "person1@acme.example" in second and "person0@acme.example" in second and "person21" not in second
    omar.slash(COMMAND, "dnc list many")
    assert "takes a page number" in _last(omar)


def test_a_csv_import_reports_each_bad_line_adds_the_rest_and_stops_who_they_cover(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _ritas_campaign(runtime, clock)
    rita.forge_action(Action.CAMPAIGN_START.value, value=str(campaign_id))
    rita.slash(COMMAND, "dnc import")
    data = b"address,note\nana0@work.example,asked\nnot an address,x\nclient.example\n\nana0@work.example\n"
    assert rita.submit({"file": ("optouts.csv", data), "reason": "from the old tool"}).ok
    said = rita.dm_messages()[-1].text
    assert said.startswith(":no_entry: optouts.csv: added 2 entries to the do-not-contact list (1 value already "
                           "there); 1 candidate in running campaigns was stopped.")
    assert "line 3:" in said and "Not added, 1 line to fix" in said
    with transaction(runtime.sessions) as session:
        kept = {(e.value, e.is_domain, e.source, e.reason) for e in session.scalars(select(DoNotContact))}
        assert kept == {("ana0@work.example", False, DoNotContactSource.CSV, "from the old tool"),
                        ("client.example", True, DoNotContactSource.CSV, "from the old tool")}
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "dnc.added")) == 2
    assert _statuses(runtime) == {"Ana Candidate0": EnrollmentStatus.DO_NOT_CONTACT,
                                  "Ana Candidate1": EnrollmentStatus.NOT_STARTED}


def test_an_import_with_nothing_usable_is_refused_on_its_field(rita: Person, runtime: Runtime) -> None:
    rita.slash(COMMAND, "dnc import")
    refused = rita.submit({"paste": "nobody\nstill nobody"})
    assert refused.errors is not None and "line 2" in refused.errors["paste"]
    assert rita.submit({}).errors == {"paste": "Upload a CSV file or paste addresses, one a line."}


def test_an_upload_skips_and_names_each_candidate_the_list_covers(
        rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    """Decided: a candidate with ANY covered address is skipped whole (an address entry is the person's
    objection, a domain entry their employer's), as adding an entry and Start end them."""
    campaign_id = _ritas_campaign(runtime, clock, candidates=1)
    rita.slash(COMMAND, "dnc add client.example")
    rita.slash(COMMAND, "dnc add noor@home.example")
    rita.forge_action(Action.CAMPAIGN_ADD_CANDIDATES.value, value=str(campaign_id))
    assert rita.submit({"paste": "name\twork email\tpersonal email\n"
                                 "Lee Kept\tlee@fine.example\t\n"
                                 "Noor Skipped\tnoor@fine.example\tnoor@home.example\n"
                                 "Ike Skipped\tike@client.example\t\n"}).ok
    shown = render_blocks(rita.dm_messages()[-1].blocks)
    assert "line 3: Noor Skipped was not added: noor@home.example is on the do-not-contact list" in shown
    assert "line 4: Ike Skipped was not added: client.example is on the do-not-contact list" in shown
    rita.click(Action.UPLOAD_CONFIRM.value)
    assert set(_statuses(runtime)) == {"Ana Candidate0", "Lee Kept"}
    assert _refusals(runtime)[0] == {"where": "upload", "addresses": ["ike@client.example", "noor@home.example"]}


def test_rows_listed_after_they_were_read_are_not_added_at_confirm(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock)
        upload = candidate_uploads.stage_upload(session, campaign=campaign, user=rita, source="pasted rows",
                                                clock=clock, parsed=candidate_rows.read_pasted(
                                                    "name\temail\nLee Late\tlee@late.example\nMo Fine\tmo@x.example"))
        do_not_contact.add(session, organisation_id=rita.organisation_id, text="late.example", reason="",
                           source=DoNotContactSource.COMMAND, added_by=rita, clock=clock)
        result = candidate_uploads.confirm_upload(session, upload_id=upload.id, user=rita, clock=clock)
        assert (result.added, result.do_not_contact) == (1, 1)
        assert "1 not added: on the do-not-contact list" in result.describe()
        assert session.get(CandidateUpload, upload.id).counts["do_not_contact"] == 1  # type: ignore[union-attr]


def test_start_and_resume_stop_listed_candidates_first_and_say_how_many(
        rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _ritas_campaign(runtime, clock, candidates=3)
    with transaction(runtime.sessions, write=True) as session:  # listed without ending anyone (as an entry
        session.add(DoNotContact(organisation_id=session.scalars(select(User)).one().organisation_id,  # racing)
                                 value="ana0@work.example", is_domain=False, source=DoNotContactSource.COMMAND,
                                 reason="", created_at=clock.now()))
    rita.forge_action(Action.CAMPAIGN_START.value, value=str(campaign_id))
    assert _last(rita) == (":no_entry: 1 candidate on the do-not-contact list was stopped before anything was "
                           "planned (`/outreach dnc list`).")
    assert _statuses(runtime)["Ana Candidate0"] == EnrollmentStatus.DO_NOT_CONTACT
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.get(Campaign, campaign_id)
        pause_campaign(session, campaign=campaign, clock=clock)  # type: ignore[arg-type]
        session.add(DoNotContact(organisation_id=campaign.organisation_id, value="ana1@home.example",  # type: ignore[union-attr]
                                 is_domain=False, source=DoNotContactSource.COMMAND, reason="", created_at=clock.now()))
    rita.forge_action(Action.CAMPAIGN_RESUME.value, value=str(campaign_id))
    assert _last(rita).startswith(":no_entry: 1 candidate on the do-not-contact list was stopped")
    assert _statuses(runtime) == {"Ana Candidate0": EnrollmentStatus.DO_NOT_CONTACT,
                                  "Ana Candidate1": EnrollmentStatus.DO_NOT_CONTACT,
                                  "Ana Candidate2": EnrollmentStatus.NOT_STARTED}
    assert [r["where"] for r in _refusals(runtime)] == ["start", "resume"]


def test_a_start_where_everyone_is_listed_is_refused_saying_so(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock)
        session.add(DoNotContact(organisation_id=rita.organisation_id, value="work.example", is_domain=True,
                                 source=DoNotContactSource.COMMAND, reason="", created_at=clock.now()))
        with pytest.raises(UserError, match="every candidate in it is on the do-not-contact list"):
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))


def test_the_start_button_where_everyone_is_listed_says_so(rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _ritas_campaign(runtime, clock)
    rita.slash(COMMAND, "dnc add work.example")  # the draft's candidates end now, as "Do not contact"
    rita.forge_action(Action.CAMPAIGN_START.value, value=str(campaign_id))
    assert "every candidate in it is on the do-not-contact list" in _last(rita)


def test_a_one_off_send_to_a_listed_address_is_refused_on_its_field_and_audited(
        rita: Person, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        user = factories.recruiter(session, clock, slack_id=RITA)
        factories.sandbox_mailbox(session, user, clock)
        sequence_id = factories.campaign_with_candidates(session, user, factories.sandbox_mailbox(
            session, user, clock, address="other@acme.example"), clock).sequence_id
    rita.slash(COMMAND, "dnc add @work.example")
    rita.slash(COMMAND, "send")
    refused = rita.submit({"template": f"{sequence_id}:1", "to": "Ana0@Work.example"})
    assert refused.errors == {"to": "ana0@work.example (the whole domain work.example) is on the do-not-contact "
                                    "list, so no email may go to it. `/outreach dnc list` shows why."}
    assert _refusals(runtime) == [{"where": "one-off send", "addresses": ["ana0@work.example"]}]


def test_another_workspaces_entry_never_reaches_ritas_organisation(
        rita: Person, workspace: LocalSlack, app: App, runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _ritas_campaign(runtime, clock)
    rita.forge_action(Action.CAMPAIGN_START.value, value=str(campaign_id))
    workspace.add_user("U0XENA", name="xena", real_name="Xena Elsewhere", email="xena@other.example")
    xena = Person(workspace, "U0XENA", BoltTarget(app), team_id="T0OTHER")
    xena.slash(COMMAND, "dnc add work.example")
    assert _last(xena).endswith("no candidate in a running campaign was covered.")
    assert set(_statuses(runtime).values()) == {EnrollmentStatus.NOT_STARTED}
    rita.slash(COMMAND, "dnc list")
    assert _last(rita).startswith("The do-not-contact list is empty.")
