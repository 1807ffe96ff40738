"""Sends that wait on the provider (concurrency > 1): the dispatcher records what finished and
claims what is due while a slow send still waits, and the last look still stops a send whose
candidate replied meanwhile. Threads wait on events the test sets, never on wall time."""
from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, EnrollmentStatus, OutboundMessage, OutboundStatus
from bot.runtime import Runtime
from bot.services import transitions
from bot.services.campaigns import start_campaign
from providers.base import OutgoingEmail, SentMessage
from providers.sandbox import SandboxProvider
from scheduling.dispatcher import DispatchReport, Dispatcher
from tests import factories

WAIT = 30  # seconds an event may take before the test fails (never reached when it passes)


def _started(runtime: Runtime, clock: FakeClock, candidates: int) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mailbox.min_spacing_seconds = 0  # at most 4 in flight (max_in_flight), no spacing
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    clock.advance(timedelta(minutes=41))


def _statuses(runtime: Runtime) -> dict[str, OutboundStatus]:
    with transaction(runtime.sessions) as session:
        return dict(session.execute(select(OutboundMessage.to_address, OutboundMessage.status)
                                    .where(OutboundMessage.step_position == 1)).all())


class _Gate:
    """Holds the provider call for the given recipients until released; others go through at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *recipients: str) -> None:
        self.reached = {to: threading.Event() for to in recipients}
        self.open = threading.Event()
        real: Callable[[SandboxProvider, OutgoingEmail], SentMessage] = SandboxProvider.send

        def send(provider: SandboxProvider, email: OutgoingEmail) -> SentMessage:
            if email.to_address in self.reached:
                self.reached[email.to_address].set()
                assert self.open.wait(WAIT)
            return real(provider, email)

        monkeypatch.setattr(SandboxProvider, "send", send)

    def wait_reached(self) -> None:
        assert all(event.wait(WAIT) for event in self.reached.values())


def _run_in_thread(dispatcher: Dispatcher) -> Callable[[], DispatchReport]:
    """Starts dispatcher.run_until_idle in a thread; the returned call waits for its report."""
    result: dict[str, DispatchReport] = {}
    thread = threading.Thread(target=lambda: result.setdefault("report", dispatcher.run_until_idle()), daemon=True)
    thread.start()

    def report() -> DispatchReport:
        thread.join(WAIT)
        assert "report" in result, "the run did not end"
        return result["report"]

    return report


def _until(condition: Callable[[], bool]) -> None:
    """Waits for a state the dispatcher's thread reaches, looking every 10 ms for at most WAIT s."""
    pause = threading.Event()
    for _ in range(WAIT * 100):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("the dispatcher never got there")


def test_finished_sends_are_recorded_and_more_claimed_while_a_slow_one_still_waits(
        runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    _started(runtime, clock, candidates=12)  # the mailbox allows 4 in flight: three claims at least
    gate = _Gate(monkeypatch, "ana0@work.example")
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), worker_id="w1", concurrency=2, batch_size=4, record_seconds=0.01)
    report = _run_in_thread(dispatcher)
    gate.wait_reached()
    try:  # one thread is held; the other sends, the records free the mailbox's room, claims go on
        _until(lambda: list(_statuses(runtime).values()).count(OutboundStatus.SENT) == 11)
        held = {to: status for to, status in _statuses(runtime).items() if status != OutboundStatus.SENT}
        assert held == {"ana0@work.example": OutboundStatus.SENDING}
    finally:
        gate.open.set()
    assert (report().claimed, report().sent) == (12, 12)
    assert set(_statuses(runtime).values()) == {OutboundStatus.SENT}


def test_a_reply_recorded_while_the_threads_wait_stops_a_send_already_claimed_and_composed(
        runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads, both held by their sends; the third send waits for a thread, claimed and
    composed. Its candidate replies meanwhile: the look before its send (the read that covered it
    is older than FRESH_SECONDS by the injected clock, so it is read again) withdraws it, and the
    row is cancelled."""
    _started(runtime, clock, candidates=3)
    gate = _Gate(monkeypatch, "ana0@work.example", "ana1@work.example")
    ticks = [0.0]
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), worker_id="w1", concurrency=2, batch_size=3,
                            monotonic=lambda: ticks[0])
    report = _run_in_thread(dispatcher)
    gate.wait_reached()
    assert _statuses(runtime)["ana2@work.example"] == OutboundStatus.SENDING  # claimed, waiting for a thread
    with transaction(runtime.sessions, write=True) as session:
        third = session.scalar(select(Enrollment).order_by(Enrollment.id).offset(2))
        assert transitions.end(session, third, EnrollmentStatus.REPLIED, ended_at=clock.now())
    ticks[0] += 1.0
    gate.open.set()
    assert (report().claimed, report().sent) == (3, 2)
    assert _statuses(runtime) == {"ana0@work.example": OutboundStatus.SENT, "ana1@work.example": OutboundStatus.SENT,
                                  "ana2@work.example": OutboundStatus.CANCELLED}
