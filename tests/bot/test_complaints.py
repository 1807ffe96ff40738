"""Complaints (issue 18 §3) through the real path: a campaign's step sent by the Dispatcher to the
sandbox, an abuse report delivered into the mailbox's inbox, read by the real MailboxSync and
classified there, then bot.services.complaints: the candidate ends as Complained, the address goes on
the do-not-contact list, the owner hears it in words of its own (never a reply's), and the mailbox
counts it."""
from __future__ import annotations

import random
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import Message
from email.utils import make_msgid

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    DirectMessage,
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    Mailbox,
    Notification,
    OutboundMessage,
    OutboundStatus,
    PermissionLevel,
)
from bot.runtime import Runtime
from bot.services import complaints
from bot.services.campaigns import start_campaign
from bot.services.replies import Inbound, record_inbound
from bot.services.sequences import StepDraft
from providers.base import InboundKind
from providers.sandbox import INBOX, PostOffice, recipient_of
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes

MAILBOX = "rita@acme.example"
NAME, WORK = "Ana Candidate0", "ana0@work.example"
STEPS = [StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
         StepDraft("Following up", "Any thoughts?", delay_days=2)]


def _step_one_sent(runtime: Runtime, clock: FakeClock, *, enhanced: bool = True) -> Message:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        mailbox.permission_level = PermissionLevel.ENHANCED if enhanced else PermissionLevel.BASIC
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, steps=STEPS)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    sync_mailboxes(runtime, clock)  # the cursor starts from now
    dispatch_for(runtime, clock, timedelta(hours=1))
    [first] = PostOffice(runtime.providers.sandbox).sent(MAILBOX)  # type: ignore[attr-defined]
    return first


def _report(original: Message, *, message_id: str | None = None, recipient: str | None = None) -> bytes:
    """An ARF report (RFC 5965) about `original`, as a feedback loop writes one."""
    return f"""\
From: Feedback Loop <feedback@fbl.example>
To: {MAILBOX}
Subject: Email Feedback Report for IP 192.0.2.20
Message-ID: {make_msgid(domain="fbl.example")}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="r"

--r
Content-Type: text/plain

This is an email abuse report for a message received from IP 192.0.2.20.
--r
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1
Original-Rcpt-To: {recipient or recipient_of(original)}

--r
Content-Type: text/rfc822-headers

From: Rita Recruiter <{MAILBOX}>
To: {recipient or recipient_of(original)}
Subject: {original["Subject"]}
Message-ID: {message_id or original["Message-ID"]}

--r--
""".replace("\n", "\r\n").encode()


def _deliver(runtime: Runtime, clock: FakeClock, raw: bytes) -> None:
    runtime.providers.sandbox.append(MAILBOX, INBOX, message_from_bytes(raw, policy=policy.default))  # type: ignore[attr-defined]
    sync_mailboxes(runtime, clock)


def _status(runtime: Runtime) -> EnrollmentStatus:
    with transaction(runtime.sessions) as session:
        [status] = session.scalars(select(Enrollment.status)).all()
        return status


def _notices(runtime: Runtime) -> list[tuple[str, str]]:
    with transaction(runtime.sessions) as session:
        return [(n.kind, n.text) for n in session.scalars(select(Notification).order_by(Notification.id))]


def _complaint_count(runtime: Runtime) -> int:
    with transaction(runtime.sessions) as session:
        [count] = session.scalars(select(Mailbox.complaints)).all()
        return count


def test_a_complaint_ends_the_candidate_lists_the_address_and_tells_the_owner_in_its_own_words(
        runtime: Runtime, clock: FakeClock) -> None:
    first = _step_one_sent(runtime, clock)
    _deliver(runtime, clock, _report(first))

    assert _status(runtime) == EnrollmentStatus.COMPLAINED
    with transaction(runtime.sessions) as session:
        rows = {r.step_position: r.status for r in session.scalars(select(OutboundMessage))}
        assert rows == {1: OutboundStatus.SENT, 2: OutboundStatus.CANCELLED}
        [entry] = session.scalars(select(DoNotContact)).all()
        assert (entry.value, entry.source, entry.reason) == (WORK, DoNotContactSource.COMPLAINT,
                                                             "reported our email as spam")
        [event] = session.scalars(select(InboundEvent)).all()
        assert event.kind == InboundKind.COMPLAINT and event.outbound_message_id is not None
    assert _notices(runtime) == [("complaint", f":no_entry_sign: *{NAME}* marked your email \u201cBackend role at "
                                               "Acme\u201d in *Backend Q4* as spam: they are on the do-not-contact "
                                               "list and will not be emailed again.")]
    assert _complaint_count(runtime) == 1
    dispatch_for(runtime, clock, timedelta(days=4))  # well past step 2's day
    assert len(PostOffice(runtime.providers.sandbox).sent(MAILBOX)) == 1  # type: ignore[attr-defined]


def test_a_repeated_report_about_the_same_email_counts_once(runtime: Runtime, clock: FakeClock) -> None:
    first = _step_one_sent(runtime, clock)
    _deliver(runtime, clock, _report(first))
    _deliver(runtime, clock, _report(first))
    assert _complaint_count(runtime) == 1
    assert [kind for kind, _ in _notices(runtime)] == ["complaint"]
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(InboundEvent)).all()) == 2  # both kept, as any seen message is


def test_a_complaint_about_mail_the_bot_did_not_send_is_ignored_and_not_kept(runtime: Runtime, clock: FakeClock) -> None:
    first = _step_one_sent(runtime, clock)
    _deliver(runtime, clock, _report(first, message_id="<someone-else@acme.example>", recipient="bo@elsewhere.example"))
    assert _status(runtime) == EnrollmentStatus.IN_PROGRESS
    assert _complaint_count(runtime) == 0 and _notices(runtime) == []
    with transaction(runtime.sessions) as session:
        assert session.scalars(select(InboundEvent)).all() == []
        assert session.scalars(select(DoNotContact)).all() == []


def test_the_reported_recipient_finds_the_send_when_the_message_id_is_not_there(
        runtime: Runtime, clock: FakeClock) -> None:
    first = _step_one_sent(runtime, clock)
    _deliver(runtime, clock, _report(first, message_id="<rewritten-by-a-gateway@relay.example>"))
    assert _status(runtime) == EnrollmentStatus.COMPLAINED


def test_a_complaint_after_a_reply_leaves_the_reply_but_still_lists_and_counts(runtime: Runtime, clock: FakeClock) -> None:
    first = _step_one_sent(runtime, clock)
    PostOffice(runtime.providers.sandbox).reply(MAILBOX, first, "Sure, let's talk.", clock.now())  # type: ignore[attr-defined]
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.REPLIED
    _deliver(runtime, clock, _report(first))
    assert _status(runtime) == EnrollmentStatus.REPLIED  # final (SPEC)
    assert _complaint_count(runtime) == 1
    assert [kind for kind, _ in _notices(runtime)] == ["reply", "complaint"]
    with transaction(runtime.sessions) as session:
        assert [e.value for e in session.scalars(select(DoNotContact))] == [WORK]


def test_under_basic_permissions_a_report_is_never_a_reply(runtime: Runtime, clock: FakeClock) -> None:
    # Only its headers are read: it is known as a complaint, but names neither recipient nor message.
    first = _step_one_sent(runtime, clock, enhanced=False)
    _deliver(runtime, clock, _report(first))
    assert _status(runtime) == EnrollmentStatus.IN_PROGRESS
    assert _notices(runtime) == []


# -- the mailbox's complaint rate ---------------------------------------------------------------------


def test_the_warning_starts_at_three_complaints_in_a_thousand_sends() -> None:
    assert not complaints.ComplaintRate(0, 0).warn
    assert not complaints.ComplaintRate(2, 1000).warn
    assert complaints.ComplaintRate(3, 1000).warn
    assert complaints.ComplaintRate(1, 10).warn  # one in ten is far past it
    assert complaints.ComplaintRate(1, 0).warn  # reports about mail sent before the window


def test_rates_count_reported_sends_and_sends_in_the_last_30_days(runtime: Runtime, clock: FakeClock) -> None:
    first = _step_one_sent(runtime, clock)
    _deliver(runtime, clock, _report(first))
    _deliver(runtime, clock, _report(first))  # the same send reported twice: one complaint
    with transaction(runtime.sessions) as session:
        [mailbox_id] = session.scalars(select(Mailbox.id)).all()
        assert complaints.rates(session, [mailbox_id], clock.now()) == {mailbox_id: complaints.ComplaintRate(1, 1)}
        later = complaints.rates(session, [mailbox_id], clock.now() + timedelta(days=31))
        assert later == {mailbox_id: complaints.ComplaintRate(0, 0)}


def test_a_complaint_about_a_one_off_email_lists_the_address_and_tells_its_sender(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        session.add(DirectMessage(mailbox_id=mailbox.id, sender_id=rita.id, to_address="bo@globex.example",
                                  message_id="<one-off-1@acme.example>", subject="Coffee next week?",
                                  sent_at=clock.now()))
        session.flush()
        outcome = record_inbound(session, mailbox=mailbox, clock=clock, rng=random.Random(1),
                                 reply_watch=timedelta(days=30), inbound=Inbound(
            provider_message_id="fbl-9", thread_id=None, from_address="feedback@fbl.example",
            subject="Email Feedback Report", received_at=clock.now(),
            references=("<one-off-1@acme.example>",), kind=InboundKind.COMPLAINT,
            recipients=("bo@globex.example",)))
        assert (outcome.kind, outcome.effect) == (InboundKind.COMPLAINT, "complained")
    assert _notices(runtime)[-1] == ("complaint", ":no_entry_sign: *bo@globex.example* marked your email "
                                                  "\u201cCoffee next week?\u201d as spam: they are on the "
                                                  "do-not-contact list and will not be emailed again.")
    assert _complaint_count(runtime) == 1
    with transaction(runtime.sessions) as session:
        assert [(d.value, d.source) for d in session.scalars(select(DoNotContact))] == [
            ("bo@globex.example", DoNotContactSource.COMPLAINT)]
