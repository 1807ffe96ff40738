"""An out-of-office reply that states a return date holds the candidate's next step until the first
send day after it (issue 19 §4), through the sandbox post office and the real sync job: the date
is read from the subject under basic permissions, from the body too under enhanced ones."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person, render_blocks
from bot.models import Campaign, Enrollment, EnrollmentStatus, Mailbox, OutboundMessage, OutboundStatus, PermissionLevel
from bot.runtime import Runtime
from bot.services.campaign_status import campaign_status
from bot.services.campaigns import start_campaign
from providers.sandbox import PostOffice, recipient_of
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import RITA

MAILBOX = "rita@acme.example"
NEW_YORK = ZoneInfo("America/New_York")  # the campaign's zone (Rita's)


def _step_one_sent(runtime: Runtime, clock: FakeClock, *, enhanced: bool, send_days: str = "0123456") -> PostOffice:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        if enhanced:
            mailbox.permission_level = PermissionLevel.ENHANCED
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        campaign.send_days = send_days
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))  # step 1 goes Mon 23 Nov, step 2 is planned Wed 25 Nov
    post = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    assert [recipient_of(m) for m in post.sent(MAILBOX)] == ["ana0@work.example"]
    return post


def _step_two(runtime: Runtime) -> tuple[datetime, datetime, date | None]:
    with transaction(runtime.sessions) as session:
        due, start = session.execute(select(OutboundMessage.due_at, OutboundMessage.window_start)
                                     .where(OutboundMessage.status == OutboundStatus.PENDING)).one()
        return due.astimezone(NEW_YORK), start.astimezone(NEW_YORK), session.scalar(select(Enrollment.away_until))


def _auto_reply(runtime: Runtime, clock: FakeClock, post: PostOffice, body: str, subject: str | None = None) -> None:
    post.auto_reply(MAILBOX, post.sent(MAILBOX)[0], body, clock.now(), subject=subject)
    sync_mailboxes(runtime, clock)


def test_a_stated_return_date_moves_step_two_to_the_first_send_day_after_it(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _step_one_sent(runtime, clock, enhanced=True)
    before, before_start, _ = _step_two(runtime)
    assert before.date() == date(2026, 11, 25)
    _auto_reply(runtime, clock, post, "Thanks for your email. I am out of the office and back on 14 December.")
    due, start, away = _step_two(runtime)
    assert away == date(2026, 12, 14)
    assert due.date() == date(2026, 12, 15)  # the first send day after the date
    assert start.time() == before_start.time()  # at the candidate's usual time of day
    with transaction(runtime.sessions) as session:
        line = campaign_status(session, session.scalars(select(Campaign)).one()).candidates[0]
        assert line.label.startswith("Out of office until Mon 14 Dec")
    rita.slash("/outreach", "when backend q4")
    shown = render_blocks(workspace.ephemerals(RITA)[-1].blocks)
    assert "Tue 15 Dec" in shown and "waits for their return from out of office" in shown
    dispatch_for(runtime, clock, timedelta(days=21))  # up to Mon 14 Dec: nothing more goes
    assert len(post.sent(MAILBOX)) == 1
    dispatch_for(runtime, clock, timedelta(days=2))
    assert len(post.sent(MAILBOX)) == 2  # then it resumes


def test_send_days_are_kept_when_the_step_resumes(runtime: Runtime, clock: FakeClock) -> None:
    post = _step_one_sent(runtime, clock, enhanced=False, send_days="01234")
    _auto_reply(runtime, clock, post, "", subject="Out of office until Friday 11 December")
    due, _, away = _step_two(runtime)
    assert away == date(2026, 12, 11) and due.date() == date(2026, 12, 14)  # Saturday, Sunday skipped


@pytest.mark.parametrize("body", ["I am away until further notice.", "Back on 03/04, I hope."])
def test_a_date_that_cannot_be_read_leaves_the_schedule_alone(runtime: Runtime, clock: FakeClock, body: str) -> None:
    post = _step_one_sent(runtime, clock, enhanced=True)
    before = _step_two(runtime)
    _auto_reply(runtime, clock, post, body)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.OUT_OF_OFFICE
    assert _step_two(runtime) == before


def test_under_basic_permissions_the_body_is_not_read(runtime: Runtime, clock: FakeClock) -> None:
    post = _step_one_sent(runtime, clock, enhanced=False)
    before = _step_two(runtime)
    _auto_reply(runtime, clock, post, "I am out of the office until 14 December.")
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.OUT_OF_OFFICE
        assert session.scalar(select(Mailbox.permission_level)) == PermissionLevel.BASIC
    assert _step_two(runtime) == before


def test_a_real_reply_later_ends_the_sequence_as_usual(runtime: Runtime, clock: FakeClock) -> None:
    post = _step_one_sent(runtime, clock, enhanced=True)
    _auto_reply(runtime, clock, post, "Back on 14 December.")
    clock.advance(timedelta(days=1))
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Back early, happy to talk.", clock.now())
    sync_mailboxes(runtime, clock)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.REPLIED
        assert session.scalar(select(OutboundMessage.id).where(OutboundMessage.status == OutboundStatus.PENDING)) is None


def test_a_step_planned_while_they_are_away_waits_for_their_return(runtime: Runtime, clock: FakeClock) -> None:
    """The auto-reply came while step 2 was already leaving: step 3, planned when it is recorded,
    still waits for the return."""
    from bot.services.planner import plan_step

    _step_one_sent(runtime, clock, enhanced=True)
    with transaction(runtime.sessions, write=True) as session:
        enrollment = session.scalars(select(Enrollment)).one()
        enrollment.away_until = date(2026, 12, 14)
        session.execute(delete(OutboundMessage).where(OutboundMessage.status == OutboundStatus.PENDING))
        row = plan_step(session, enrollment=enrollment, position=2, rng=runtime.rng, now=clock.now())
        assert row is not None and row.window_start.astimezone(NEW_YORK).date() == date(2026, 12, 15)
