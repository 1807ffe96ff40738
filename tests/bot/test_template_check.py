"""The check run before a campaign starts: every candidate lacking a field some step's template needs,
found the way the emails are rendered (strict undefined, overrides applied, guards respected)."""
from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import templates
from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import AddressKind, Campaign, CampaignStatus, Enrollment, EnrollmentStatus, OutboundMessage
from bot.runtime import Runtime
from bot.services.campaigns import enroll, start_campaign
from bot.services.candidates import add_candidate
from bot.services.sequences import StepDraft
from bot.services.template_check import MissingField, describe, missing_fields
from tests import factories


def _campaign(session: Session, clock: FakeClock, steps: list[StepDraft],
              people: list[tuple[str, dict[str, Any]]]) -> tuple[Campaign, list[Enrollment]]:
    rita = factories.recruiter(session, clock)
    campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                  clock, candidates=0, steps=steps)
    candidates = [add_candidate(session, added_by=rita, name=name, fields=fields, clock=clock,
                                addresses=[(f"{name.split()[0].lower()}@acme.example", AddressKind.WORK)])
                  for name, fields in people]
    return campaign, enroll(session, campaign=campaign, candidates=candidates, clock=clock)


STEPS = [
    StepDraft("A {{ role }} role at {{ company }}", "Hi {{ first_name }},\nwould you like to talk?"),
    StepDraft("Following up", "Hi {{ first_name }}, the team in {{ city }} would love to meet you.", delay_days=2),
]


def test_a_candidate_lacking_fields_is_named_with_the_first_step_that_needs_each(runtime: Runtime) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign, (ana, bo) = _campaign(session, runtime.clock, STEPS, [
            ("Ana Lima", {"role": "Backend", "company": "Acme", "city": "Lisbon"}),
            ("Bo Chen", {"role": "Backend"}),
        ])
        # `company` is needed by step 1's subject and again by step 2's "Re:" subject: named once.
        assert missing_fields(session, campaign=campaign) == [MissingField("Bo Chen", bo.id, 1, "company"),
                                                              MissingField("Bo Chen", bo.id, 2, "city")]


def test_a_field_given_for_this_campaign_only_counts(runtime: Runtime) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign, (bo,) = _campaign(session, runtime.clock, STEPS, [("Bo Chen", {"role": "Backend"})])
        bo.fields_override = {"company": "Initech", "city": "Porto"}
        session.flush()
        assert missing_fields(session, campaign=campaign) == []


def test_guarded_fields_defaults_globals_and_template_variables_are_not_required(runtime: Runtime) -> None:
    steps = [StepDraft("Hello {{ first_name }}",
                       "{% if team is defined %}The {{ team }} team says hi. {% endif %}"
                       "{{ nickname | default(first_name) }}, {% set sign = 'Rita' %}"
                       "{% for n in range(2) %}{{ n }}{% endfor %} {{ sign }} {{ last_name }} {{ name }}")]
    with transaction(runtime.sessions, write=True) as session:
        campaign, _ = _campaign(session, runtime.clock, steps, [("Bo Chen", {})])
        assert missing_fields(session, campaign=campaign) == []


def test_a_field_used_inside_an_expression_is_still_required(runtime: Runtime) -> None:
    steps = [StepDraft("Hi", "{{ company.upper() }} {% if seniority == 'senior' %}lead{% endif %} {{ company }}")]
    with transaction(runtime.sessions, write=True) as session:
        campaign, (bo,) = _campaign(session, runtime.clock, steps, [("Bo Chen", {})])
        assert missing_fields(session, campaign=campaign) == [MissingField("Bo Chen", bo.id, 1, "company"),
                                                              MissingField("Bo Chen", bo.id, 1, "seniority")]


def test_only_steps_still_to_send_count_and_ended_candidates_are_skipped(runtime: Runtime) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign, (bo, cid, dee) = _campaign(session, runtime.clock, STEPS, [
            ("Bo Chen", {"role": "Backend", "city": "Porto"}), ("Cid Moss", {}), ("Dee Ray", {"role": "x"})])
        bo.steps_sent = 1  # step 1 went out; step 2 is a "Re:" of step 1's subject, which needs `company`
        cid.status = EnrollmentStatus.REPLIED
        dee.steps_sent, dee.status = 1, EnrollmentStatus.IN_PROGRESS
        session.flush()
        assert missing_fields(session, campaign=campaign) == [
            MissingField("Bo Chen", bo.id, 2, "company"),
            MissingField("Dee Ray", dee.id, 2, "company"), MissingField("Dee Ray", dee.id, 2, "city")]
        campaign.same_thread = False  # a new thread has its own subject: step 1's no longer matters
        session.flush()
        assert missing_fields(session, campaign=campaign) == [MissingField("Dee Ray", dee.id, 2, "city")]


def test_what_the_check_finds_is_exactly_what_rendering_refuses(runtime: Runtime) -> None:
    steps = [StepDraft("{{ role }} at {{ company }}", "{% if city is defined %}{{ city }}{% endif %}{{ team }}"),
             StepDraft("Again", "{{ role | default('a') }} {{ source }}", delay_days=1)]
    people = [("Ana", {"role": "r", "company": "c", "team": "t", "source": "s"}), ("Bo", {"company": "c"}),
              ("Cid", {"city": "x", "team": "t"}), ("Dee", {"source": "s", "role": "r"})]
    sources = [source for step in steps for source in (step.subject, step.body)]

    def renders(values: dict[str, Any]) -> bool:
        try:
            for source in sources:
                templates.render(source, values)
        except templates.TemplateProblem:
            return False
        return True

    with transaction(runtime.sessions, write=True) as session:
        campaign, enrollments = _campaign(session, runtime.clock, steps, people)
        found = missing_fields(session, campaign=campaign)
    assert {(m.candidate, m.field) for m in found} == {
        ("Bo", "role"), ("Bo", "team"), ("Bo", "source"), ("Cid", "role"), ("Cid", "company"), ("Cid", "source"),
        ("Dee", "company"), ("Dee", "team")}
    for name, fields in people:
        lacking = {m.field for m in found if m.candidate == name}
        values = templates.candidate_values(name, fields)
        assert renders({**values, **{f: "x" for f in lacking}})  # nothing missed
        for field in lacking:  # nothing named that was not needed
            assert not renders({**values, **{f: "x" for f in lacking - {field}}})


def test_the_message_names_candidates_and_what_they_lack_and_counts_the_rest() -> None:
    missing = [MissingField("Ana Lima", 1, 2, "company"), MissingField("Bo Chen", 2, 1, "role"),
               MissingField("Bo Chen", 2, 1, "team"), MissingField("Bo Chen", 2, 3, "city")]
    missing += [MissingField(f"C{n}", 10 + n, 1, "role") for n in range(12)]
    assert describe(missing, limit=2) == ("Ana Lima: step 2 needs `company`; Bo Chen: step 1 needs `role` and "
                                          "`team`, step 3 needs `city` … and 12 more")
    assert describe(missing[:1]) == "Ana Lima: step 2 needs `company`"
    assert describe([]) == ""


def test_start_names_a_field_with_a_line_break_that_a_subject_reads_and_stays_a_draft(runtime: Runtime) -> None:
    """A subject is one header line: a field that would break it (an injected `Bcc:`) is refused at
    Start, naming the candidate and the field; line breaks in a field only a body reads are fine."""
    with transaction(runtime.sessions, write=True) as session:
        campaign, _ = _campaign(session, runtime.clock, STEPS, [
            ("Ana Lima", {"role": "Backend", "company": "Acme", "city": "Lisbon", "notes": "line one\nline two"}),
            ("Bo Chen", {"role": "Backend", "company": "Initech\r\nBcc: evil@x.example", "city": "Porto"}),
        ])
        campaign_id = campaign.id
    with pytest.raises(UserError) as refused:
        with transaction(runtime.sessions, write=True) as session:
            start_campaign(session, campaign=session.get(Campaign, campaign_id), clock=runtime.clock,
                           rng=random.Random(1))
    assert refused.value.message == (
        "'Backend Q4' cannot start: a subject is one line, and these fields it reads hold a line break: "
        "Bo Chen: step 1 reads `company`. Put them on one line (for this campaign, from the candidate's menu) "
        "or leave them out of the subjects.")
    with transaction(runtime.sessions) as session:
        assert session.get(Campaign, campaign_id).status == CampaignStatus.DRAFT
        assert session.scalars(select(OutboundMessage)).all() == []
