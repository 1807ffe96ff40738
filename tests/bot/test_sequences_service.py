"""Sequences, Slack-free: listing and finding, editing under running campaigns (wording yes, schedule
no), deleting or archiving, and template errors that say which step and where."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import NotFound, UserError
from bot.models import Campaign, CampaignStatus, OutboundMessage, Sequence, SequenceStep, User
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.sequences import (
    StepDraft,
    create_sequence,
    delete_sequence,
    find_sequence,
    sequences_of,
    update_sequence,
)
from bot.templates import TemplateProblem
from scheduling.compose import compose, load_sendables
from bot.services.planner import Planner
from tests import factories

TWO_STEPS = [StepDraft("Backend role at {{ company }}", "Hi {{ first_name }},\nWould you like to talk?\nRita"),
             StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=2)]


def _people(session: Session, clock: FakeClock) -> tuple[User, User]:
    omar = factories.recruiter(session, clock, slack_id="U0OMAR", tz="Europe/Paris")
    return factories.recruiter(session, clock), omar


def _campaign_in(session: Session, rita: User, clock: FakeClock, status: CampaignStatus) -> Campaign:
    """A campaign on the factory's "Backend engineers" sequence, in the given state (each is one the bot reaches)."""
    mailbox = factories.sandbox_mailbox(session, rita, clock)
    campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
    campaign.status = status
    session.flush()
    return campaign


def _steps(session: Session, sequence_id: int) -> list[tuple[int, str, str, int]]:
    rows = session.scalars(select(SequenceStep).where(SequenceStep.sequence_id == sequence_id)
                           .order_by(SequenceStep.position))
    return [(s.position, s.subject, s.body, s.delay_days) for s in rows]


def test_sequences_of_lists_only_the_users_live_sequences_newest_first(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita, omar = _people(session, clock)
        older = create_sequence(session, owner=rita, name="Older", steps=TWO_STEPS, clock=clock)
        clock.advance(timedelta(minutes=1))
        newer = create_sequence(session, owner=rita, name="Newer", steps=TWO_STEPS, clock=clock)
        archived = create_sequence(session, owner=rita, name="Gone", steps=TWO_STEPS, clock=clock)
        archived.archived_at = clock.now()
        create_sequence(session, owner=omar, name="Omar's", steps=TWO_STEPS, clock=clock)
        assert [s.name for s in sequences_of(session, user=rita)] == [newer.name, older.name]
        assert [s.name for s in sequences_of(session, user=omar)] == ["Omar's"]


def test_find_sequence_by_name_in_any_case_or_by_number_within_ones_own(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita, omar = _people(session, clock)
        mine = create_sequence(session, owner=rita, name="Backend Engineers", steps=TWO_STEPS, clock=clock)
        theirs = create_sequence(session, owner=omar, name="Designers", steps=TWO_STEPS, clock=clock)
        assert find_sequence(session, user=rita, name_or_id="  backend engineers ").id == mine.id
        assert find_sequence(session, user=rita, name_or_id=str(mine.id)).id == mine.id
        with pytest.raises(NotFound, match="You have no sequence called 'Designers'.*`/outreach sequences`"):
            find_sequence(session, user=rita, name_or_id="Designers")
        with pytest.raises(NotFound):
            find_sequence(session, user=rita, name_or_id=str(theirs.id))
        mine.archived_at = clock.now()
        with pytest.raises(NotFound):
            find_sequence(session, user=rita, name_or_id="Backend Engineers")


@pytest.mark.parametrize("part, steps, where", [
    ("body", [TWO_STEPS[0], StepDraft("Ok", "Hi,\n\nthanks {{ first_name }", 1)], "Step 2 body, line 3: "),
    ("subject", [StepDraft("Role at {% if %}", "Hi")], "Step 1 subject, line 1: "),
    ("body", [TWO_STEPS[0], StepDraft("Ok", "{% for i in range(99999) %}{% for j in range(99999) %}{{ i }}"
                                            "{% endfor %}{% endfor %}", 1)], "Step 2 body, range() asks for 99,999"),
    ("subject", [StepDraft("{{ 'x' * 10000000000 }}", "Hi")], "Step 1 subject, a repetition (`*`) would be longer"),
])
def test_a_template_error_names_the_step_the_part_and_the_line(
        runtime: Runtime, clock: FakeClock, part: str, steps: list[StepDraft], where: str) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        with pytest.raises(TemplateProblem) as problem:
            create_sequence(session, owner=rita, name="Broken", steps=steps, clock=clock)
        assert problem.value.message.startswith(where)
        assert problem.value.field == f"{part}_{len(steps)}"
        existing = create_sequence(session, owner=rita, name="Fine", steps=TWO_STEPS, clock=clock)
        with pytest.raises(TemplateProblem) as on_edit:  # the same check guards edits
            update_sequence(session, user=rita, sequence_id=existing.id, name="Fine", steps=steps, clock=clock)
        assert (on_edit.value.message, on_edit.value.field) == (problem.value.message, problem.value.field)


@pytest.mark.parametrize("name, steps, field, message", [
    ("  ", TWO_STEPS, "name", "A sequence needs a name."),
    ("X", [TWO_STEPS[0], StepDraft(" ", "body", 1)], "subject_2", "Step 2 has no subject."),
    ("X", [TWO_STEPS[0], StepDraft("Hi", " \n\t\n ", 1)], "body_2", "Step 2 has no text: write the email."),
    ("X", [TWO_STEPS[0], StepDraft("Hi", "body", -1)], "delay_2", "Step 2: the delay cannot be negative."),
    ("X", [TWO_STEPS[0], StepDraft("Hi", "body", 366)], "delay_2", "Step 2: the delay is at most 365 days."),
    ("X" * 201, TWO_STEPS, "name", "A sequence name has at most 200 characters."),
    # A line break would end the Subject header and start another (issue 13); CR alone was let through.
    ("X", [TWO_STEPS[0], StepDraft("Hi\rBcc: evil@x.example", "body", 1)], "subject_2",
     "Step 2: the subject contains a line break (U+000D): remove it, a subject is one line."),
    ("X", [StepDraft("Hi\x00 {{ company }}", "body"), TWO_STEPS[1]], "subject_1",
     "Step 1: the subject contains a NUL character (U+0000): remove it, a subject is one line."),
])
def test_an_edit_is_checked_like_a_new_sequence_and_changes_nothing_when_refused(
        runtime: Runtime, clock: FakeClock, name: str, steps: list[StepDraft], field: str, message: str) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        sequence_id = create_sequence(session, owner=rita, name="Kept", steps=TWO_STEPS, clock=clock).id
    with pytest.raises(UserError) as refused, transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        update_sequence(session, user=rita, sequence_id=sequence_id, name=name, steps=steps, clock=clock)
    assert (refused.value.field, refused.value.message) == (field, message)
    with transaction(runtime.sessions) as session:
        assert session.get(Sequence, sequence_id).name == "Kept"
        assert [s[1] for s in _steps(session, sequence_id)] == [s.subject for s in TWO_STEPS]


def test_an_edit_without_running_campaigns_may_add_remove_and_retime_steps(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = _campaign_in(session, rita, clock, CampaignStatus.DRAFT)
        sequence_id = campaign.sequence_id
        saved = update_sequence(session, user=rita, sequence_id=sequence_id, name=" Renamed ", clock=clock, steps=[
            StepDraft("New first", "One", delay_days=5), StepDraft("Second", "Two", 4), StepDraft("Third", "Three", 0)])
        assert saved.running == ()
    with transaction(runtime.sessions, write=True) as session:
        assert session.get(Sequence, sequence_id).name == "Renamed"
        assert _steps(session, sequence_id) == [(1, "New first", "One", 0), (2, "Second", "Two", 4),
                                                (3, "Third", "Three", 0)]
        rita = factories.recruiter(session, clock)
        update_sequence(session, user=rita, sequence_id=sequence_id, name="Renamed", clock=clock,
                        steps=[StepDraft("Only", "Just one")])
    with transaction(runtime.sessions) as session:
        assert _steps(session, sequence_id) == [(1, "Only", "Just one", 0)]


@pytest.mark.parametrize("status", [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED])
def test_wording_may_change_under_a_running_campaign_and_the_edit_says_so(
        runtime: Runtime, clock: FakeClock, status: CampaignStatus) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = _campaign_in(session, rita, clock, status)
        saved = update_sequence(session, user=rita, sequence_id=campaign.sequence_id, name="Backend engineers",
                                clock=clock, steps=[StepDraft("Reworded {{ first_name }}", "New body"),
                                                    StepDraft("Still following up", "Again", delay_days=2)])
        assert saved.running == ("Backend Q4",)
        assert [s[1] for s in _steps(session, campaign.sequence_id)] == ["Reworded {{ first_name }}",
                                                                         "Still following up"]


@pytest.mark.parametrize("status", [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED])
@pytest.mark.parametrize("steps, field", [
    ([*TWO_STEPS, StepDraft("Third", "Three", 3)], "subject_3"),  # a step added: its first field
    ([TWO_STEPS[0]], "name"),  # a step removed: no field of its own left
    ([TWO_STEPS[0], StepDraft("Following up", "Hi", delay_days=5)], "delay_2"),
])
def test_steps_and_delays_are_frozen_while_a_campaign_runs_with_the_sequence(
        runtime: Runtime, clock: FakeClock, status: CampaignStatus, steps: list[StepDraft], field: str) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        sequence_id = _campaign_in(session, rita, clock, status).sequence_id
    with pytest.raises(UserError) as refused, transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        update_sequence(session, user=rita, sequence_id=sequence_id, name="Backend engineers", steps=steps,
                        clock=clock)
    assert refused.value.message == ("'Backend Q4' is running with this sequence: steps and delays cannot change "
                                     "until it finishes; edit the wording, or make a new sequence.")
    assert refused.value.field == field
    with transaction(runtime.sessions) as session:
        assert [(s[0], s[3]) for s in _steps(session, sequence_id)] == [(1, 0), (2, 2)]


def test_step_ones_delay_is_not_a_schedule_change(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = _campaign_in(session, rita, clock, CampaignStatus.ACTIVE)
        update_sequence(session, user=rita, sequence_id=campaign.sequence_id, name="Backend engineers", clock=clock,
                        steps=[StepDraft("A", "a", delay_days=7), TWO_STEPS[1]])
        assert _steps(session, campaign.sequence_id)[0] == (1, "A", "a", 0)


def test_an_edited_subject_goes_out_in_emails_not_yet_sent(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        update_sequence(session, user=rita, sequence_id=campaign.sequence_id, name="Backend engineers", clock=clock,
                        steps=[StepDraft("Reworded for {{ first_name }}", "New words"), TWO_STEPS[1]])
    with transaction(runtime.sessions) as session:
        row_id = session.scalar(select(OutboundMessage.id))
        [item] = load_sendables(session, [row_id])
        email = compose(item, Planner(session, rng=random.Random(1), now=clock.now()).steps(item.sequence_id),
                        clock.now())
        assert (email.subject, email.body) == ("Reworded for Ana", "New words")


def test_only_the_owner_edits_or_deletes_a_sequence(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita, omar = _people(session, clock)
        sequence_id = create_sequence(session, owner=rita, name="Rita's", steps=TWO_STEPS, clock=clock).id
        with pytest.raises(UserError, match="not yours to edit"):
            update_sequence(session, user=omar, sequence_id=sequence_id, name="Omar's now", steps=TWO_STEPS,
                            clock=clock)
        with pytest.raises(UserError, match="not yours to delete"):
            delete_sequence(session, user=omar, sequence_id=sequence_id, clock=clock)
        assert session.get(Sequence, sequence_id).name == "Rita's"


def test_delete_is_refused_while_unfinished_campaigns_use_it_naming_them(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        running = _campaign_in(session, rita, clock, CampaignStatus.ACTIVE)
        draft = Campaign(organisation_id=rita.organisation_id, owner_id=rita.id, sequence_id=running.sequence_id,
                         mailbox_id=running.mailbox_id, name="Spring", timezone="UTC", created_at=clock.now())
        session.add(draft)
        sequence_id = running.sequence_id
    with pytest.raises(UserError) as refused, transaction(runtime.sessions, write=True) as session:
        delete_sequence(session, user=factories.recruiter(session, clock), sequence_id=sequence_id, clock=clock)
    assert refused.value.message == ("'Backend engineers' cannot be deleted while campaigns that have not finished "
                                     "use it: 'Backend Q4' (active), 'Spring' (draft). Nothing was deleted.")
    with transaction(runtime.sessions) as session:
        assert session.get(Sequence, sequence_id).archived_at is None


def test_a_sequence_only_finished_campaigns_used_is_archived_and_their_history_stays(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = _campaign_in(session, rita, clock, CampaignStatus.FINISHED)
        removed = delete_sequence(session, user=rita, sequence_id=campaign.sequence_id, clock=clock)
        assert (removed.name, removed.archived) == ("Backend engineers", True)
        sequence_id = campaign.sequence_id
    with transaction(runtime.sessions) as session:
        assert session.get(Sequence, sequence_id).archived_at == clock.now()
        assert len(_steps(session, sequence_id)) == 2 and session.scalar(select(Campaign)).sequence_id == sequence_id
        rita = factories.recruiter(session, clock)
        assert sequences_of(session, user=rita) == []
        with pytest.raises(NotFound):  # an archived sequence is no longer edited either
            update_sequence(session, user=rita, sequence_id=sequence_id, name="X", steps=TWO_STEPS, clock=clock)


def test_an_unused_sequence_is_deleted_with_its_steps(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        sequence_id = create_sequence(session, owner=rita, name="Unused", steps=TWO_STEPS, clock=clock).id
        removed = delete_sequence(session, user=rita, sequence_id=sequence_id, clock=clock)
        assert (removed.name, removed.archived) == ("Unused", False)
    with transaction(runtime.sessions) as session:
        assert session.get(Sequence, sequence_id) is None
        assert session.scalar(select(func.count()).select_from(SequenceStep)) == 0
