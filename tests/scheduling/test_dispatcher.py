from __future__ import annotations

import random
from datetime import timedelta
from email.errors import HeaderParseError

import pytest
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    MailboxStatus,
    Notification,
    OutboundMessage,
    OutboundStatus,
    PauseReason,
    SequenceStep,
)
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from providers.sandbox import PostOffice, SandboxStore, recipient_of
from scheduling import claims
from scheduling.compose import compose, load_sendables
from providers.base import PermanentFailure
from scheduling.dispatcher import Dispatcher, _attempt
from bot.services.planner import Planner
from tests import factories

ADDRESS = "rita@acme.example"


def _started(runtime: Runtime, clock: FakeClock, candidates: int = 1, *, spacing: int = 0,
             cap: int = 2000) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mailbox.min_spacing_seconds, mailbox.daily_cap = spacing, cap
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return campaign.id


def _dispatcher(runtime: Runtime, worker: str = "w1") -> Dispatcher:
    return Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                      rng=random.Random(2), worker_id=worker)


def _store(runtime: Runtime) -> SandboxStore:
    return runtime.providers.sandbox  # type: ignore[attr-defined,no-any-return]


def _sent(runtime: Runtime) -> list[str]:
    return [str(m["Message-ID"]) for m in PostOffice(_store(runtime)).all_sent()]


def _statuses(runtime: Runtime) -> list[OutboundStatus]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(OutboundMessage.status).order_by(OutboundMessage.id)))


def test_nothing_leaves_in_the_first_twenty_minutes_then_step_one_goes_out(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    clock.advance(timedelta(minutes=19, seconds=59))
    assert _dispatcher(runtime).run_once().sent == 0
    assert _sent(runtime) == []

    clock.advance(timedelta(minutes=21))  # the window closes 40 minutes after Start
    assert _dispatcher(runtime).run_once().sent == 1
    [email] = PostOffice(_store(runtime)).sent(ADDRESS)
    assert recipient_of(email) == "ana0@work.example"
    assert [a.display_name for a in email["To"].addresses] == ["Ana Candidate0"]  # the candidate's name (§6)
    assert email["Subject"] == "Backend role at Acme"
    assert "Hi Ana," in email.get_content()


def test_follow_up_goes_in_the_same_thread_two_days_later(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    _dispatcher(runtime).run_once()
    clock.advance(timedelta(days=1))
    assert _dispatcher(runtime).run_once().sent == 0
    clock.advance(timedelta(days=1, minutes=41))
    assert _dispatcher(runtime).run_once().sent == 1
    first, second = PostOffice(_store(runtime)).sent(ADDRESS)
    assert second["Subject"] == "Re: Backend role at Acme"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert second["X-Sandbox-Thread-Id"] == first["X-Sandbox-Thread-Id"]
    with transaction(runtime.sessions) as session:
        enrollment = session.scalar(select(Enrollment))
        assert enrollment.status == EnrollmentStatus.FINISHED
        assert enrollment.campaign.status == CampaignStatus.FINISHED


def test_a_follow_up_answers_the_subject_step_one_was_sent_with_after_step_one_is_reworded(
        runtime: Runtime, clock: FakeClock) -> None:
    """Rewording step 1 mid-campaign must not break running threads: Gmail threads by subject too."""
    _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    _dispatcher(runtime).run_once()
    with transaction(runtime.sessions, write=True) as session:
        step_one = session.scalar(select(SequenceStep).where(SequenceStep.position == 1))
        step_one.subject = "{{ first_name }}, a backend role at {{ company }}"
        assert session.scalar(select(Enrollment)).thread_subject == "Backend role at Acme"
    clock.advance(timedelta(days=2, minutes=41))
    assert _dispatcher(runtime).run_once().sent == 1
    first, second = PostOffice(_store(runtime)).sent(ADDRESS)
    assert second["Subject"] == "Re: Backend role at Acme" == "Re: " + first["Subject"]


def test_a_reply_recorded_before_the_claim_stops_the_send(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    with transaction(runtime.sessions, write=True) as session:
        session.scalar(select(Enrollment)).status = EnrollmentStatus.REPLIED
    assert _dispatcher(runtime).run_once().claimed == 0
    assert _sent(runtime) == []
    assert _statuses(runtime) == [OutboundStatus.PENDING]


def test_a_paused_campaign_or_disconnected_mailbox_sends_nothing(runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _started(runtime, clock)
    clock.advance(timedelta(minutes=41))
    with transaction(runtime.sessions, write=True) as session:
        session.get(Campaign, campaign_id).status = CampaignStatus.PAUSED
    assert _dispatcher(runtime).run_once().claimed == 0
    with transaction(runtime.sessions, write=True) as session:
        session.get(Campaign, campaign_id).status = CampaignStatus.ACTIVE
        session.scalar(select(Mailbox)).status = MailboxStatus.DISCONNECTED
    assert _dispatcher(runtime).run_once().claimed == 0
    assert _sent(runtime) == []


def test_two_workers_never_claim_the_same_row(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=6)
    clock.advance(timedelta(minutes=41))
    with transaction(runtime.sessions, write=True) as session:
        first = claims.claim(session, now=clock.now(), worker_id="w1", lease=timedelta(minutes=5),
                             max_rows=100, max_mailboxes=10)
    with transaction(runtime.sessions, write=True) as session:
        second = claims.claim(session, now=clock.now(), worker_id="w2", lease=timedelta(minutes=5),
                              max_rows=100, max_mailboxes=10)
    assert first.count == 4  # at most four sends in flight per mailbox
    assert second.count == 0  # the mailbox's four slots are taken


def test_a_mailbox_never_has_more_than_four_sends_in_flight_and_all_go_out(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=10)
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    claimed = []
    while (report := dispatcher.run_once()).claimed:
        claimed.append(report.claimed)
    assert max(claimed) == 4 and sum(claimed) == 10
    assert len(set(_sent(runtime))) == len(_sent(runtime)) == 10


def test_spacing_sends_one_per_interval_per_mailbox(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=3, spacing=60)
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    assert dispatcher.run_once().sent == 1
    clock.advance(timedelta(seconds=59))
    assert dispatcher.run_once().sent == 0
    clock.advance(timedelta(seconds=1))
    assert dispatcher.run_once().sent == 1


def test_sends_over_the_daily_cap_wait_are_never_dropped_and_the_owner_is_told_once(
        runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=5, cap=3)
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    assert dispatcher.run_until_idle().sent == 3
    assert dispatcher.run_until_idle().sent == 0
    with transaction(runtime.sessions) as session:
        [notice] = session.scalars(select(Notification)).all()
        assert notice.kind == "daily_cap"
        assert "reached its limit of 3 emails in 24 hours" in notice.text
        assert "2 due emails wait until" in notice.text and "will finish later than planned" in notice.text
    clock.advance(timedelta(hours=23))
    assert dispatcher.run_until_idle().sent == 0  # sends of the last 24 hours still count
    clock.advance(timedelta(hours=2))  # whole hours are counted: at most an hour later than exact
    assert dispatcher.run_until_idle().sent == 2
    assert len(_sent(runtime)) == 5


def test_rate_limited_slows_only_that_mailbox_then_sends_once(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    _store(runtime).inject(ADDRESS, "rate_limited:30")
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    assert dispatcher.run_once().retrying == 1
    assert _statuses(runtime) == [OutboundStatus.PENDING]  # a 429 was not accepted: plain retry
    clock.advance(timedelta(seconds=29))
    assert dispatcher.run_once().claimed == 0
    clock.advance(timedelta(seconds=1))
    assert dispatcher.run_once().sent == 1
    assert len(_sent(runtime)) == 1


@pytest.mark.parametrize("fault", ["server_error", "timeout"])
def test_a_temporary_failure_is_checked_in_the_mailbox_before_it_is_retried(
        runtime: Runtime, clock: FakeClock, fault: str) -> None:
    _started(runtime, clock)
    _store(runtime).inject(ADDRESS, fault)
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    assert dispatcher.run_once().retrying == 1
    assert _statuses(runtime) == [OutboundStatus.SENDING]  # unclear: it might have gone out
    assert dispatcher.run_once().claimed == 0  # nothing is resent before the check
    clock.advance(timedelta(minutes=1, seconds=1))
    report = dispatcher.run_until_idle()
    assert report.reconciled == 1 and report.sent == 1
    assert len(_sent(runtime)) == 1


def test_a_timeout_after_the_provider_accepted_is_found_and_never_resent(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    _store(runtime).inject(ADDRESS, "timeout_after_accept")
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    dispatcher.run_once()
    clock.advance(timedelta(minutes=2))
    report = dispatcher.run_until_idle()
    assert report.reconciled == 1
    assert len(_sent(runtime)) == 1  # the one copy the provider accepted
    assert _statuses(runtime)[0] == OutboundStatus.SENT


def test_a_failed_lookup_waits_and_checks_again_rather_than_sending(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    _store(runtime).inject(ADDRESS, "timeout", "lookup_error")
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    dispatcher.run_once()
    clock.advance(timedelta(minutes=2))
    assert dispatcher.run_once().reconciled == 1
    assert _statuses(runtime)[0] == OutboundStatus.SENDING and _sent(runtime) == []
    clock.advance(timedelta(minutes=3))
    dispatcher.run_until_idle()
    assert len(_sent(runtime)) == 1


def test_a_crashed_worker_row_is_reconciled_not_resent(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, candidates=2)
    clock.advance(timedelta(minutes=41))
    crashed = _dispatcher(runtime, "crashed")
    claim = crashed._claim()  # it claims two rows, sends one, then dies
    [first, second] = claim.rows[next(iter(claim.rows))]
    with transaction(runtime.sessions) as session:
        row = session.get(OutboundMessage, first)
        mailbox = session.get(Mailbox, row.mailbox_id)
        [item] = load_sendables(session, [first])
        email = compose(item, Planner(session, rng=random.Random(), now=clock.now()).steps(item.sequence_id),
                        clock.now())
        runtime.providers.for_mailbox(mailbox).send(email)
    survivor = _dispatcher(runtime, "survivor")
    assert survivor.run_once().claimed == 0  # the crashed worker's lease still holds
    clock.advance(timedelta(minutes=6))
    report = survivor.run_until_idle()
    assert report.reconciled == 2 and report.sent == 2
    ids = _sent(runtime)
    assert len(ids) == len(set(ids)) == 2


def test_reconnect_needed_pauses_the_mailboxes_campaigns_and_tells_the_owner_once(
        runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _started(runtime, clock, candidates=3)
    _store(runtime).inject(ADDRESS, "reconnect", "reconnect", "reconnect")
    clock.advance(timedelta(minutes=41))
    _dispatcher(runtime).run_until_idle()
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox)).status == MailboxStatus.NEEDS_RECONNECT
        campaign = session.get(Campaign, campaign_id)
        assert (campaign.status, campaign.pause_reason) == (CampaignStatus.PAUSED, PauseReason.NEEDS_RECONNECT)
        [notice] = session.scalars(select(Notification)).all()
        assert notice.kind == "needs_reconnect" and "1 campaign is paused" in notice.text
    assert set(_statuses(runtime)) == {OutboundStatus.PENDING}  # never sent, nothing lost
    assert _sent(runtime) == []


def test_a_permanent_failure_marks_the_step_failed_pauses_the_candidate_and_tells_the_owner(
        runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    _store(runtime).inject(ADDRESS, "permanent")
    clock.advance(timedelta(minutes=41))
    assert _dispatcher(runtime).run_once().failed == 1
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(OutboundMessage))
        assert row.status == OutboundStatus.FAILED and "invalid recipient" in row.error
        enrollment = session.scalar(select(Enrollment))
        assert enrollment.status == EnrollmentStatus.PAUSED
        assert "step 1 could not be sent" in enrollment.status_reason
        [notice] = session.scalars(select(Notification)).all()
        assert "could not be sent to Ana Candidate0" in notice.text


def test_a_refusal_that_names_an_address_added_by_hand_shows_it_only_to_who_added_it(
        runtime: Runtime, clock: FakeClock) -> None:
    """The provider's refusal names the address it refused. A teammate with edit access added it by
    hand, so Rita's DM and the candidate's status (seen by everyone the campaign is shared with) leave it out."""
    from bot.models import AddressKind
    from bot.services.campaigns import edit_candidate_in_campaign
    from bot.services.directory import Profile, ensure_user

    _started(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        teammate = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile("U0TEAM", name="Tea"))
        enrollment = session.scalar(select(Enrollment))
        edit_candidate_in_campaign(session, user=teammate, enrollment=enrollment, send_to=None,
                                   new_address="ana.private@home.example", new_kind=AddressKind.PERSONAL,
                                   use_first=False, fields={}, clock=clock)
    _store(runtime).inject(ADDRESS, "permanent:named")
    clock.advance(timedelta(minutes=41))
    assert _dispatcher(runtime).run_once().failed == 1
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(OutboundMessage))
        assert row.to_address == "ana.private@home.example" and row.to_address in row.error  # kept for on-call
        enrollment = session.scalar(select(Enrollment))
        [notice] = session.scalars(select(Notification)).all()
        for shown in (enrollment.status_reason, notice.text):
            assert "ana.private@home.example" not in shown and "the address added by hand" in shown, shown


def test_a_template_that_no_longer_renders_fails_that_step_with_the_field_named(
        runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Enrollment).values(fields_override={}))
        candidate = session.scalar(select(Enrollment)).candidate
        candidate.fields = {}  # 'company' is gone
    clock.advance(timedelta(minutes=41))
    assert _dispatcher(runtime).run_once().failed == 1
    with transaction(runtime.sessions) as session:
        assert "company" in session.scalar(select(OutboundMessage)).error
    assert _sent(runtime) == []


# -- a header the email package cannot write (issue 13) ---------------------------------------------

@pytest.mark.parametrize(("bad", "header"), [("field", "Subject"), ("owner name", "From")])
def test_a_header_that_cannot_be_written_fails_that_send_for_good_and_tells_the_owner(
        runtime: Runtime, clock: FakeClock, bad: str, header: str) -> None:
    """Values stored before entry checks existed (or written around them) reach compose: the send fails
    at once with its reason, never waits out an hour of 'unclear, look it up' as it did."""
    _started(runtime, clock, candidates=2)
    with transaction(runtime.sessions, write=True) as session:
        first = session.scalars(select(Enrollment).order_by(Enrollment.id)).first()
        if bad == "field":
            session.execute(update(Enrollment).where(Enrollment.id == first.id)
                            .values(fields_override={"company": "Acme\r\nBcc: evil@x.example"}))
        else:
            first.campaign.mailbox.owner.name = "Rita\nBcc: evil@x.example"
    clock.advance(timedelta(minutes=41))
    dispatcher = _dispatcher(runtime)
    report = dispatcher.run_until_idle()
    failed = 1 if bad == "field" else 2  # a bad From name breaks every send from that mailbox
    assert (report.failed, report.retrying, report.sent) == (failed, 0, 2 - failed)
    with transaction(runtime.sessions) as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).first()
        assert row.status == OutboundStatus.FAILED
        # The check before the provider call words it so; a provider that tried would say "cannot be written".
        assert row.error.startswith(f"the {header} header would contain a line break or control character")
        assert row.enrollment.status == EnrollmentStatus.PAUSED
        notices = session.scalars(select(Notification).where(Notification.kind == "send_failed")).all()
        assert len(notices) == failed
        assert f"the {header} header would contain a line break" in notices[0].text
    sent = PostOffice(_store(runtime)).all_sent()
    assert len(sent) == 2 - failed and all("evil" not in m.as_string() for m in sent)
    clock.advance(timedelta(hours=2))  # no lookup, no retry: the row is settled
    assert dispatcher.run_until_idle().claimed == 0
    assert _statuses(runtime)[0] == OutboundStatus.FAILED


def test_a_header_error_raised_inside_a_provider_is_a_permanent_failure() -> None:
    def send(email: object) -> object:  # a provider that builds the message itself, as SMTP and Gmail do
        raise HeaderParseError("header value appears to contain an embedded header")

    outcome = _attempt(7, send, object(), lambda row_id: True)  # type: ignore[arg-type]
    assert isinstance(outcome.error, PermanentFailure) and "cannot be written" in str(outcome.error)
