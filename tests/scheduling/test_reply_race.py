"""A reply committing while a send is recorded, in every order, on two real connections.

SPEC: "A reply, bounce or complaint recorded for a candidate is final: nothing recorded later (a send
that was in flight, a retry) may put the candidate back in the sequence." The candidate is in a
three-step sequence; step 2 is claimed and went out; then the reply (bot.services.replies, as mailbox
sync records it) and the recording of step 2 (the dispatcher's Recorder) meet in each order. On
PostgreSQL the orders where one transaction waits for the other's row lock are forced: the first is
left open, the second runs on its own connection until PostgreSQL reports it waiting for a lock,
then the first commits. SQLite serialises writers, so there only the orders without overlap exist.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
)
from bot.runtime import Runtime, build_runtime
from bot.services import transitions
from bot.services.campaigns import pause_candidate, resume_candidate, start_campaign
from bot.services.replies import Inbound, record_inbound
from bot.services.sequences import StepDraft
from providers.base import InboundKind, SentMessage
from providers.sandbox import PostOffice, recipient_of
from scheduling import claims
from scheduling.dispatcher import DispatchReport, Dispatcher
from scheduling.last_look import FRESH_SECONDS
from scheduling.outcomes import Outcome, Recorder
from tests import factories
from tests.conftest import make_settings
from tests.scheduling.interleave import started_campaign

O = OutboundMessage
WORKER = "w-race"
STEPS = [StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
         StepDraft("Following up", "Any thoughts?", delay_days=2),
         StepDraft("Last note", "Closing the loop", delay_days=2)]


def _step_two_in_flight(runtime: Runtime, clock: FakeClock) -> int:
    """Step 1 sent; step 2 due, claimed by WORKER and (as far as the provider knows) sent. Returns its row id."""
    started_campaign(runtime, clock, candidates=1, steps=STEPS)
    assert Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                      rng=random.Random(2), worker_id="w1").run_once().sent == 1
    clock.advance(timedelta(days=2, minutes=41))
    with transaction(runtime.sessions, write=True) as session:
        claim = claims.claim(session, now=clock.now(), worker_id=WORKER, lease=timedelta(minutes=5),
                             max_rows=10, max_mailboxes=10)
    [[row_id]] = claim.rows.values()
    return row_id


def _record_step_two(runtime: Runtime, row_id: int) -> Callable[[Session], None]:
    def record(session: Session) -> None:
        message_id = session.get(O, row_id).message_id  # type: ignore[union-attr]
        Recorder(session, clock=runtime.clock, rng=random.Random(3), worker_id=WORKER).record(
            [Outcome(row_id, sent=SentMessage(message_id, "provider-2", "thread-1"))])
    return record


def _reply(runtime: Runtime) -> Callable[[Session], None]:
    def reply(session: Session) -> None:
        mailbox = session.scalar(select(Mailbox))
        step_one = session.scalar(select(O).where(O.step_position == 1))
        outcome = record_inbound(session, mailbox=mailbox, clock=runtime.clock, rng=random.Random(4),
                                 reply_watch=timedelta(days=30), inbound=Inbound(
            provider_message_id="reply-1", thread_id=None, from_address="ana0@work.example", subject="Re: Backend",
            received_at=runtime.clock.now(), references=(step_one.message_id,), kind=InboundKind.REPLY))
        assert outcome.effect == "replied"
    return reply


def _backend_pid(session: Session) -> int:
    return int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _wait_until_waiting_for_a_lock(engine: Engine, pid: int) -> None:
    """Until PostgreSQL reports that backend blocked on a lock (bounded: the test fails, never hangs)."""
    deadline = time.monotonic() + 20
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                                         {"pid": pid}).scalar()
            connection.rollback()  # pg_stat_activity is read once per transaction
            if waiting == "Lock":
                return
            time.sleep(0.002)
    raise AssertionError(f"backend {pid} never waited for the lock")


def _first_holds_second_waits(runtime: Runtime, engine: Engine, first: Callable[[Session], None],
                              second: Callable[[Session], None]) -> None:
    """`first` runs and keeps its transaction open; `second` runs on another connection until it
    blocks on first's row lock; then first commits, and second goes on and commits."""
    failures: list[BaseException] = []
    pid: list[int] = []
    started = threading.Event()

    def run_second() -> None:
        try:
            with transaction(runtime.sessions, write=True) as session:
                pid.append(_backend_pid(session))
                started.set()
                second(session)
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)
            started.set()

    with transaction(runtime.sessions, write=True) as session:
        first(session)
        session.flush()
        thread = threading.Thread(target=run_second)
        thread.start()
        assert started.wait(20)
        assert not failures, failures
        _wait_until_waiting_for_a_lock(engine, pid[0])
    thread.join(30)
    assert not thread.is_alive()
    if failures:
        raise failures[0]


def _in_order(runtime: Runtime, *steps: Callable[[Session], None]) -> None:
    for step in steps:
        with transaction(runtime.sessions, write=True) as session:
            step(session)


def _state(runtime: Runtime) -> tuple[EnrollmentStatus, dict[int, OutboundStatus]]:
    with transaction(runtime.sessions) as session:
        enrollment = session.scalar(select(Enrollment))
        rows = dict(session.execute(select(O.step_position, O.status).where(O.to_address == "ana0@work.example")).all())
        return enrollment.status, rows


ORDERS = ["reply-then-record", "record-then-reply", "reply-holds-record-waits", "record-holds-reply-waits"]


@pytest.mark.parametrize("order", ORDERS)
def test_a_reply_stays_final_whatever_the_commit_order_with_the_send_being_recorded(
        runtime: Runtime, engine: Engine, clock: FakeClock, order: str) -> None:
    if "waits" in order and engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: one transaction never waits inside another")
    row_id = _step_two_in_flight(runtime, clock)
    record, reply = _record_step_two(runtime, row_id), _reply(runtime)
    if order == "reply-then-record":
        _in_order(runtime, reply, record)
    elif order == "record-then-reply":
        _in_order(runtime, record, reply)
    elif order == "reply-holds-record-waits":  # the order that undid replies: the record read, then wrote
        _first_holds_second_waits(runtime, engine, reply, record)
    else:
        _first_holds_second_waits(runtime, engine, record, reply)

    status, rows = _state(runtime)
    assert status == EnrollmentStatus.REPLIED
    assert rows[1] == rows[2] == OutboundStatus.SENT  # step 2 did go out: it is recorded as sent
    assert rows.get(3) in (None, OutboundStatus.CANCELLED)  # planned only if the record won, then cancelled
    clock.advance(timedelta(days=10))
    assert Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                      rng=random.Random(5), worker_id="w2").run_until_idle().sent == 0
    assert [m["Subject"] for m in PostOffice(runtime.providers.sandbox).all_sent()] == [  # type: ignore[attr-defined]
        "Backend role at Acme"]  # step 2's provider call was simulated here; nothing else left


def test_a_reply_holding_the_candidate_makes_a_resume_wait_and_then_refuse(
        runtime: Runtime, engine: Engine, clock: FakeClock) -> None:
    """Planning a step (a resumed candidate) against a reply committing: the reply wins, nothing is planned."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers")
    row_id = _step_two_in_flight(runtime, clock)
    _in_order(runtime, _record_step_two(runtime, row_id))
    with transaction(runtime.sessions, write=True) as session:
        pause_candidate(session, enrollment=session.scalar(select(Enrollment)), clock=clock)

    def resume(session: Session) -> None:
        resume_candidate(session, enrollment=session.scalar(select(Enrollment)), clock=clock, rng=random.Random(6))

    with pytest.raises(UserError, match="not paused"):
        _first_holds_second_waits(runtime, engine, _reply(runtime), resume)
    status, rows = _state(runtime)
    assert status == EnrollmentStatus.REPLIED
    assert rows.get(3) in (None, OutboundStatus.CANCELLED)


def _three_due(runtime: Runtime, clock: FakeClock) -> None:
    started_campaign(runtime, clock, candidates=3, steps=STEPS)


def _reply_after_first_send(runtime: Runtime, clock: FakeClock, dispatcher: Dispatcher,
                            then: Callable[[], None] = lambda: None) -> DispatchReport:
    """The real send loop, one send at a time; between the first send and the second, the second
    candidate's reply commits, then `then` runs."""
    real_run_sends, sent = dispatcher._run_sends, []

    def run_sends(jobs):  # type: ignore[no-untyped-def]
        for outcome in real_run_sends(jobs):
            sent.append(outcome.row_id)
            if len(sent) == 1:
                with transaction(runtime.sessions, write=True) as session:
                    enrollment = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(1))
                    assert transitions.end(session, enrollment, EnrollmentStatus.REPLIED, ended_at=clock.now())
                then()
            yield outcome

    dispatcher._run_sends = run_sends  # type: ignore[method-assign]
    return dispatcher.run_once()


def test_a_claimed_send_whose_candidate_replies_is_cancelled_at_the_last_look_not_sent_nor_pending(
        runtime: Runtime, clock: FakeClock) -> None:
    """The last look is at most FRESH_SECONDS old when a send's provider call starts: a reply that
    commits after the batch was composed, longer than that before this send's turn, stops it, and
    the row is cancelled, never pending again."""
    _three_due(runtime, clock)
    ticks = [0.0]
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), worker_id="w1", concurrency=1, monotonic=lambda: ticks[0])

    def time_passes() -> None:
        ticks[0] += FRESH_SECONDS + 0.001

    report = _reply_after_first_send(runtime, clock, dispatcher, then=time_passes)
    assert report.claimed == 3 and report.sent == 2
    with transaction(runtime.sessions) as session:
        second = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(1))
        assert second.status == EnrollmentStatus.REPLIED
        assert session.scalar(select(O.status).where(O.enrollment_id == second.id)) == OutboundStatus.CANCELLED
    recipients = sorted(recipient_of(m) for m in PostOffice(runtime.providers.sandbox).all_sent())  # type: ignore[attr-defined]
    assert recipients == ["ana0@work.example", "ana2@work.example"]


def test_one_read_answers_the_next_sends_while_fresh_and_its_answer_is_used_once(
        runtime: Runtime, clock: FakeClock) -> None:
    """The window the last look leaves, written down: within FRESH_SECONDS of the read that covered
    it, a send goes out on that read (its step is recorded sent and the reply still ends the
    sequence); and the read is made once for the three sends, not once each."""
    _three_due(runtime, clock)
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), worker_id="w1", concurrency=1, monotonic=lambda: 0.0)
    reads = []
    real_batch = dispatcher.last_look.batch

    @contextmanager
    def counted(order=()):  # type: ignore[no-untyped-def]
        with real_batch(order) as looks:
            yield looks
        reads.append(looks.reads)

    dispatcher.last_look.batch = counted  # type: ignore[method-assign]
    report = _reply_after_first_send(runtime, clock, dispatcher)
    assert (report.claimed, report.sent, reads) == (3, 3, [1])
    with transaction(runtime.sessions) as session:
        second = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(1))
        assert second.status == EnrollmentStatus.REPLIED  # the reply stays final; nothing after it is planned
        assert session.scalar(select(func.count()).select_from(O).where(
            O.enrollment_id == second.id, O.status == OutboundStatus.PENDING)) == 0


def test_many_sends_in_flight_look_through_a_few_connections_and_all_go_out(
        engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    """Forty sends in flight at once, each looked at before its provider call: the looks share a few
    connections, so the engine's pool (15) still has room for the batch's recording."""
    runtime = build_runtime(make_settings(tmp_path, OUTREACH_SANDBOX_LATENCY_MS=50), clock=clock,
                            rng=random.Random(7), engine=engine)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        for m in range(10):
            mailbox = factories.sandbox_mailbox(session, rita, clock, address=f"box{m}@acme.example")
            mailbox.min_spacing_seconds = 0
            campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=4)
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(m))
    clock.advance(timedelta(minutes=41))
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), worker_id="w1", concurrency=64, record_every=10)
    try:
        report = dispatcher.run_once()
    finally:
        dispatcher.close()
    assert (report.claimed, report.sent) == (40, 40)
