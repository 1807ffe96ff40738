"""An address put on the do-not-contact list after its send was claimed: the last look withdraws it.

Issue 18 §1: "in the last look before each provider call, so a send already claimed never leaves".
Three candidates are due; the real send loop runs one send at a time, and between the first send and
the second an entry for the second candidate's address commits, then more than FRESH_SECONDS pass so
the next send reads again. The entry is written bare, without `add` ending the enrollment (as an
entry racing the enrollment's end would be): only the look's own `do_not_contact.listed` clause
stands between the claimed row and the provider. The row is cancelled, the enrollment ends as
"Do not contact", and the refusal is audited. Same shape as test_remove_race.py.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    AuditEntry,
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    User,
)
from bot.runtime import Runtime
from bot.services import direct_send
from bot.services.sequences import StepDraft, create_sequence
from providers.sandbox import PostOffice
from scheduling.dispatcher import Dispatcher
from tests.scheduling.interleave import (
    assert_only_the_second_stopped,
    run_with_write_after_first_send,
    started_campaign,
)
from tests import factories

O = OutboundMessage


def _list_second(runtime: Runtime, clock: FakeClock, value: str, is_domain: bool) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalars(select(User)).one()
        session.add(DoNotContact(organisation_id=rita.organisation_id, value=value, is_domain=is_domain,
                                 source=DoNotContactSource.COMMAND, reason="asked to stop", added_by_id=rita.id,
                                 created_at=clock.now()))


def _race(runtime: Runtime, clock: FakeClock, value: str, is_domain: bool) -> None:
    campaign_id = started_campaign(runtime, clock, candidates=3)
    report = run_with_write_after_first_send(runtime, clock, lambda: _list_second(runtime, clock, value, is_domain))
    with transaction(runtime.sessions) as session:
        refusals = [a.detail for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "dnc.refused"))]
        assert refusals == [{"where": "last look", "addresses": ["ana1@work.example"]}]
    assert_only_the_second_stopped(runtime, clock, campaign_id, report, EnrollmentStatus.DO_NOT_CONTACT)


def test_an_address_listed_after_the_claim_never_leaves(runtime: Runtime, clock: FakeClock) -> None:
    _race(runtime, clock, "ana1@work.example", is_domain=False)


def test_a_domain_listed_after_the_claim_stops_only_the_sends_still_to_come(runtime: Runtime, clock: FakeClock) -> None:
    """A whole domain listed after the first send: the second send, to an address at it, is withdrawn by
    the domain's lookup in the same clause. (The first candidate, already written to, is left to
    `add`, which the bare entry here skips; their next step would meet the same look.)"""
    started_campaign(runtime, clock, candidates=2)
    report = run_with_write_after_first_send(runtime, clock, lambda: _list_second(runtime, clock, "work.example", True))
    assert (report.claimed, report.sent) == (2, 1)
    with transaction(runtime.sessions) as session:
        statuses = [e.status for e in session.scalars(select(Enrollment).order_by(Enrollment.id))]
        assert statuses == [EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.DO_NOT_CONTACT]


def test_a_one_off_to_an_address_listed_after_it_was_checked_never_leaves(runtime: Runtime, clock: FakeClock) -> None:
    """The one-off send was checked and queued; the address is listed before the dispatcher's last look:
    nothing is sent, the sender is told why, and the refusal is audited."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address="recruiting@acme.example")
        sequence = create_sequence(session, owner=rita, name="Backend", clock=clock,
                                   steps=[StepDraft("Backend role", "Hi {{ first_name }}")])
        ids = (rita.id, mailbox.id, sequence.id)
    draft = direct_send.Draft(ids[2], "Backend", 1, "noor@new.example", "Noor Haddad", "Backend role", "Hi Noor")
    queued = direct_send.queue_one(runtime.sessions, user_id=ids[0], draft=draft, mailbox_id=ids[1], clock=clock)
    _list_second(runtime, clock, "new.example", True)
    Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1,
               worker_id="w").send_now(queued.ids)
    assert PostOffice(runtime.providers.sandbox).all_sent() == []  # type: ignore[attr-defined]
    with pytest.raises(UserError, match="noor@new.example was put on the do-not-contact list before it went out, "
                                        "so the email was not sent"):
        direct_send.result(runtime.sessions, queued, clock=clock)
    with transaction(runtime.sessions) as session:
        refusals = [a.detail for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "dnc.refused"))]
        assert refusals == [{"where": "last look (one-off)", "addresses": ["noor@new.example"]}]
