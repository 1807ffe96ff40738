"""The do-not-contact list's core: what an entry covers (an address, or a whole domain), what adding
one ends, who may take one off, and the SQL test the claim's last look uses."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    CandidateAddress,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
)
from bot.runtime import Runtime
from bot.services import do_not_contact
from bot.services.campaigns import start_campaign
from tests import factories


def test_an_entry_is_an_address_or_a_whole_domain_and_says_what_to_fix_otherwise() -> None:
    assert do_not_contact.parse(" Ana@Acme.Example ") == ("ana@acme.example", False)
    assert do_not_contact.parse("@Acme.Example") == ("acme.example", True)
    assert do_not_contact.parse("acme.example") == ("acme.example", True)
    for bad in ("acme", "ana@", "not an address"):
        with pytest.raises(UserError, match="acme.example|address"):
            do_not_contact.parse(bad, field="entry")


def test_adding_an_address_ends_its_candidates_open_enrollments_and_cancels_their_planned_sends(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=2)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        # ana0's personal address, not the one being written to: the candidate is covered all the same
        _, ended = do_not_contact.add(session, organisation_id=rita.organisation_id, text="ana0@home.example",
                                      reason="asked to be removed", source=DoNotContactSource.COMMAND,
                                      added_by=rita, clock=clock)
        assert ended == 1
        again, ended_again = do_not_contact.add(session, organisation_id=rita.organisation_id,
                                                text="ANA0@home.example", reason="twice", clock=clock,
                                                source=DoNotContactSource.COMMAND, added_by=rita)
        assert ended_again == 0 and again.reason == "asked to be removed"  # kept as it was
    with transaction(runtime.sessions) as session:
        statuses = {e.candidate.name: e.status for e in session.scalars(select(Enrollment))}
        assert statuses == {"Ana Candidate0": EnrollmentStatus.DO_NOT_CONTACT,
                            "Ana Candidate1": EnrollmentStatus.NOT_STARTED}
        rows = {r.to_address: r.status for r in session.scalars(select(OutboundMessage))}
        assert rows == {"ana0@work.example": OutboundStatus.CANCELLED, "ana1@work.example": OutboundStatus.PENDING}
        assert [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.action.like("dnc.%")))] == \
            ["dnc.added"]


def test_a_domain_covers_every_address_at_it_and_matches_answers_in_one_query(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        org = rita.organisation_id
        do_not_contact.add(session, organisation_id=org, text="work.example", reason="client company",
                           source=DoNotContactSource.COMMAND, added_by=rita, clock=clock)
        found = do_not_contact.matches(session, organisation_id=org,
                                       addresses=["ana@work.example", "ana@home.example", "ana@network.example"])
        assert set(found) == {"ana@work.example"} and found["ana@work.example"].is_domain
        # the SQL form, as the last look uses it: "network.example" ends in "work.example" but is not it
        factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock), clock)
        listed = session.scalars(select(CandidateAddress.address).where(
            do_not_contact.listed(org, CandidateAddress.address))).all()
        assert listed == ["ana0@work.example"]


def test_only_an_admin_takes_an_entry_off_and_it_is_audited(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        do_not_contact.add(session, organisation_id=rita.organisation_id, text="ana@acme.example", reason="",
                           source=DoNotContactSource.COMMAND, added_by=rita, clock=clock)
        with pytest.raises(UserError, match="admin"):
            do_not_contact.remove(session, user=rita, text="ana@acme.example", clock=clock)
        rita.is_admin = True
        assert do_not_contact.remove(session, user=rita, text="ana@acme.example", clock=clock).value == "ana@acme.example"
        with pytest.raises(NotFound):
            do_not_contact.remove(session, user=rita, text="ana@acme.example", clock=clock)
        assert do_not_contact.entries(session, organisation_id=rita.organisation_id) == ([], 0)
        assert "dnc.removed" in {a.action for a in session.scalars(select(AuditEntry))}
