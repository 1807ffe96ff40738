"""Results per step (issue 19 §2): exact numbers from sends, bounces, out-of-office answers and replies
on different steps (a reply past the last step, two replies by one candidate, events recorded without
their send), periods, the median time to reply, opens by people and by machines, the owner's and the
team's scope, and a statement count that does not grow with the rows."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import count
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import session_factory, transaction
from bot.models import (EmailOpen, Enrollment, InboundEvent, InboundKind, OutboundKind, OutboundMessage,
                        OutboundStatus, User)
from bot.runtime import Runtime
from bot.services.directory import Profile, ensure_user
from bot.services.results import StepResult, campaign_results, owner_results, recruiter_summaries, team_results
from bot.services.sequences import StepDraft
from tests import factories

UNTIL = datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc)
NOV1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
THREE_STEPS = [StepDraft("Hello", "Hi"), StepDraft("Again", "Hi", delay_days=2), StepDraft("Last", "Hi", delay_days=2)]
_ids = count(1)


def at(day: int, hour: int = 15, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


def send(session: Session, enrollment: Enrollment, step: int, when: datetime, address: str | None = None,
         status: OutboundStatus = OutboundStatus.SENT) -> OutboundMessage:
    row = OutboundMessage(enrollment_id=enrollment.id, kind=OutboundKind.CAMPAIGN,
                          mailbox_id=enrollment.campaign.mailbox_id, step_position=step,
                          to_address=address or f"e{enrollment.id}@work.example", message_id=f"<m{next(_ids)}@x>",
                          status=status, due_at=when, sent_at=when if status == OutboundStatus.SENT else None,
                          created_at=when)
    session.add(row)
    session.flush()
    return row


def answer(session: Session, enrollment: Enrollment, kind: InboundKind, when: datetime,
           row: OutboundMessage | None) -> None:
    session.add(InboundEvent(mailbox_id=enrollment.campaign.mailbox_id, enrollment_id=enrollment.id,
                             outbound_message_id=row.id if row is not None else None, kind=kind,
                             provider_message_id=f"in{next(_ids)}", received_at=when, created_at=when))
    session.flush()


def opened(session: Session, row: OutboundMessage, when: datetime, *, machine: bool) -> None:
    session.add(EmailOpen(outbound_message_id=row.id, campaign_id=row.enrollment.campaign_id, opened_at=when,
                          machine=machine, machine_reason="apple_privacy" if machine else None))
    session.flush()


def story(session: Session, clock: FakeClock) -> tuple[int, int, int]:
    """Rita's three-step campaign of six candidates (a to f), and Omar's campaign of one, in one team.
    Returns (Rita's campaign, Rita, the organisation)."""
    rita = factories.recruiter(session, clock)
    mailbox = factories.sandbox_mailbox(session, rita, clock)
    campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=6, steps=THREE_STEPS)
    a, b, c, d, e, f = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)
                                       .order_by(Enrollment.id)).all()
    answer(session, a, InboundKind.REPLY, at(10, 11), send(session, a, 1, at(10, 9)))  # 2 h
    send(session, b, 1, at(10, 9))
    b2 = send(session, b, 2, at(12, 9))
    answer(session, b, InboundKind.REPLY, at(13, 9), b2)  # 1 day; then again: one reply
    answer(session, b, InboundKind.REPLY, at(14, 9), b2)
    answer(session, c, InboundKind.BOUNCE, at(10, 9, ) + timedelta(minutes=1),
           send(session, c, 1, at(10, 9), address="c@work.example"))
    answer(session, c, InboundKind.AUTO_REPLY, at(10, 11), send(session, c, 1, at(10, 10), address="c@home.example"))
    send(session, c, 2, at(12, 10), address="c@home.example")
    send(session, c, 3, at(14, 10), address="c@home.example")
    answer(session, c, InboundKind.REPLY, at(20, 16), None)  # past the last step, without its send: step 3
    send(session, d, 1, at(10, 9))
    answer(session, d, InboundKind.AUTO_REPLY, at(11, 9), None)  # without its send: step 1 (step 2 is later)
    send(session, d, 2, at(12, 9))
    send(session, d, 3, at(30), status=OutboundStatus.PENDING)  # not sent: never counted
    answer(session, e, InboundKind.REPLY, at(2), send(session, e, 1, at(20, 9, month=10)))  # sent in October
    send(session, f, 1, at(10, 9))
    answer(session, f, InboundKind.COMPLAINT, at(11), None)  # a complaint is no answer counted here
    omar = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile("U0OMAR", name="Omar Other"))
    omar_box = factories.sandbox_mailbox(session, omar, clock, address="omar@acme.example")
    theirs = factories.campaign_with_candidates(session, omar, omar_box, clock, candidates=1)
    theirs.name = "Frontend Q1"
    [g] = session.scalars(select(Enrollment).where(Enrollment.campaign_id == theirs.id)).all()
    answer(session, g, InboundKind.REPLY, at(16, 12), send(session, g, 1, at(15, 12)))  # 1 day
    return campaign.id, rita.id, rita.organisation_id


def numbers(step: StepResult) -> tuple[int, int, int, int, int]:
    return step.position, step.sent, step.bounced, step.out_of_office, step.replied


def test_a_campaign_per_step_and_in_total(engine: Engine, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign, _, _ = story(session, clock)
    with transaction(runtime.sessions) as session:
        results = campaign_results(session, campaign, since=NOV1, until=UNTIL)
    assert [numbers(s) for s in results.steps] == [(1, 6, 1, 2, 1), (2, 3, 0, 0, 1), (3, 1, 0, 0, 1)]
    assert numbers(results.total) == (0, 10, 1, 2, 3)
    assert results.total.reply_rate == pytest.approx(3 / 9)
    assert results.steps[0].reply_rate == pytest.approx(1 / 5)
    assert [s.median_reply for s in results.steps] == [timedelta(hours=2), timedelta(days=1),
                                                       timedelta(days=6, hours=6)]
    assert results.total.median_reply == timedelta(days=1)
    assert results.steps[0].opened is None and results.total.machine_opened is None and not results.tracked
    # replies by day, in the campaign's zone (New York: Nov 1 at 0:00 UTC is Oct 31 there), up to `until`'s
    assert results.replies_by_day[0] == (date(2026, 10, 31), 0) and results.replies_by_day[-1][0] == date(2026, 11, 23)
    assert len(results.replies_by_day) == 24
    assert {day: n for day, n in results.replies_by_day if n} == {
        date(2026, 11, 2): 1, date(2026, 11, 10): 1, date(2026, 11, 13): 1, date(2026, 11, 20): 1}
    assert results.scope == "Backend Q4" and results.since == NOV1 and results.until == UNTIL


def test_the_period_chooses_the_sends(engine: Engine, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign, _, _ = story(session, clock)
    with transaction(runtime.sessions) as session:
        ever = campaign_results(session, campaign, until=UNTIL)
        later = campaign_results(session, campaign, since=at(12, 0), until=UNTIL)
        to_nov_12 = campaign_results(session, campaign, since=NOV1, until=at(12, 9, ))
    assert numbers(ever.total) == (0, 11, 1, 2, 4)  # e's October send and its reply
    assert ever.replies_by_day[0] == (date(2026, 10, 20), 0)  # from the first send
    assert [numbers(s) for s in later.steps] == [(1, 0, 0, 0, 0), (2, 3, 0, 0, 1), (3, 1, 0, 0, 1)]
    assert later.steps[0].reply_rate is None
    # b's and d's step 2 at 9:00 are in (c's at 10:00 is not); b's reply the day after counts for its send
    assert [numbers(s) for s in to_nov_12.steps] == [(1, 6, 1, 2, 1), (2, 2, 0, 0, 1), (3, 0, 0, 0, 0)]
    assert sum(n for _, n in to_nov_12.replies_by_day) == 2  # e's and a's: received in the period only


def test_opens_by_people_and_by_machines(engine: Engine, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=4)
        campaign.track_opens = True
        a, b, c, d = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)
                                     .order_by(Enrollment.id)).all()
        first = send(session, a, 1, at(10, 9))
        opened(session, first, at(10, 9) + timedelta(seconds=2), machine=True)  # too soon, then a person
        opened(session, first, at(10, 12), machine=False)
        opened(session, first, at(10, 13), machine=False)  # twice: one send opened
        opened(session, send(session, b, 1, at(10, 9)), at(10, 10), machine=True)  # only a proxy
        send(session, c, 1, at(10, 9))  # never opened
        opened(session, send(session, d, 1, at(10, 9)), at(24), machine=False)  # opened later: counted
        opened(session, send(session, a, 2, at(12, 9)), at(12, 10), machine=False)
        campaign_id = campaign.id
    with transaction(runtime.sessions) as session:
        results = campaign_results(session, campaign_id, until=UNTIL)
    assert [(s.opened, s.machine_opened) for s in results.steps] == [(2, 1), (1, 0)]
    assert (results.total.opened, results.total.machine_opened, results.tracked) == (3, 1, True)


def test_the_owner_and_the_team(engine: Engine, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        _, rita, organisation = story(session, clock)
    with transaction(runtime.sessions) as session:
        hers = owner_results(session, rita, since=NOV1, until=UNTIL)
        team = team_results(session, organisation, since=NOV1, until=UNTIL)
        people = recruiter_summaries(session, organisation, since=NOV1, until=UNTIL)
        omar = session.scalar(select(User.id).where(User.slack_user_id == "U0OMAR"))
        his = owner_results(session, omar, since=NOV1, until=UNTIL)
    assert numbers(hers.total) == (0, 10, 1, 2, 3) and hers.scope == "Rita Recruiter's campaigns"
    assert [numbers(s) for s in team.steps] == [(1, 7, 1, 2, 2), (2, 3, 0, 0, 1), (3, 1, 0, 0, 1)]
    assert numbers(team.total) == (0, 11, 1, 2, 4) and team.scope == "the team"
    assert [(name, numbers(total)) for name, total in people] == [
        ("Omar Other", (0, 1, 0, 0, 1)), ("Rita Recruiter", (0, 10, 1, 2, 3))]
    assert people[0][1].median_reply == timedelta(days=1)
    assert [numbers(s) for s in his.steps] == [(1, 1, 0, 0, 1)] and his.replies_by_day[-1] == (date(2026, 11, 23), 0)


def test_a_campaign_without_sends_shows_its_steps_at_zero(engine: Engine, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, steps=THREE_STEPS)
        campaign_id = campaign.id
    with transaction(runtime.sessions) as session:
        results = campaign_results(session, campaign_id, until=UNTIL)
    assert [numbers(s) for s in results.steps] == [(1, 0, 0, 0, 0), (2, 0, 0, 0, 0), (3, 0, 0, 0, 0)]
    assert results.total.reply_rate is None and results.total.median_reply is None and results.replies_by_day == ()


def _many(session: Session, clock: FakeClock, candidates: int) -> int:
    """A campaign of `candidates`, each sent three steps, with a bounce, an auto-reply, a reply (some
    without their send) and opens spread over them: bulk inserts, as the seed of a bench would."""
    rita = factories.recruiter(session, clock, slack_id=f"U0R{candidates}")
    campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(
        session, rita, clock, address=f"r{candidates}@acme.example"), clock, candidates=candidates, steps=THREE_STEPS)
    campaign.track_opens = True
    enrollments = session.scalars(select(Enrollment.id).where(Enrollment.campaign_id == campaign.id)).all()
    sends = [{"enrollment_id": e, "kind": OutboundKind.CAMPAIGN, "mailbox_id": campaign.mailbox_id, "step_position": s,
              "to_address": f"x{e}@work.example", "message_id": f"<bulk{e}.{s}@x>", "status": OutboundStatus.SENT,
              "due_at": at(9 + 2 * s), "sent_at": at(9 + 2 * s, n % 10), "created_at": at(9)}
             for n, e in enumerate(enrollments) for s in (1, 2, 3)]
    session.execute(insert(OutboundMessage), sends)
    rows = session.execute(select(OutboundMessage.id, OutboundMessage.enrollment_id)
                           .where(OutboundMessage.enrollment_id.in_(enrollments))).all()
    kinds = [InboundKind.REPLY, InboundKind.BOUNCE, InboundKind.AUTO_REPLY, None]
    session.execute(insert(InboundEvent), [
        {"mailbox_id": campaign.mailbox_id, "enrollment_id": e, "outbound_message_id": row if n % 8 else None,
         "kind": kinds[n % 4], "provider_message_id": f"bulk{row}", "received_at": at(20), "created_at": at(20)}
        for n, (row, e) in enumerate(rows) if kinds[n % 4] is not None])
    session.execute(insert(EmailOpen), [
        {"outbound_message_id": row, "campaign_id": campaign.id, "opened_at": at(21), "machine": n % 3 == 0}
        for n, (row, _) in enumerate(rows) if n % 2])
    return campaign.id


def test_a_few_statements_whatever_the_rows(engine: Engine, runtime: Runtime, clock: FakeClock) -> None:
    """Grouped statements: ten candidates or two thousand (6,000 sends), the same few statements."""
    with transaction(runtime.sessions, write=True) as session:
        small, big = _many(session, clock, 10), _many(session, clock, 2_000)
    statements: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def counted(campaign_id: int) -> tuple[int, StepResult]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", keep)
        try:
            with transaction(session_factory(engine)) as session:
                results = campaign_results(session, campaign_id, until=UNTIL)
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")]), results.total

    (few, small_total), (many, big_total) = counted(small), counted(big)
    assert few == many <= 5, statements
    assert big_total.sent == 6_000 and big_total.replied == 1_500 and big_total.bounced == 1_500
    assert (big_total.opened or 0) + (big_total.machine_opened or 0) == 3_000
    assert small_total.sent == 30
