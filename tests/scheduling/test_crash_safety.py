"""Worker processes killed with SIGKILL at random moments, restarted, and every step still goes out
exactly once (counted at the sandbox mail server), and nothing goes to a candidate after their reply
was recorded. PostgreSQL: three workers sharing the database; SQLite: one worker.

Meanwhile the test plays the rest of the world: time runs fast (each step planned for days later is
made due at once), and candidates reply through the bot's own reply handling, most of them while a
later step of theirs is in flight, so replies commit while sends are being recorded."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, EnrollmentStatus, Mailbox, OutboundMessage, OutboundStatus
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign, enroll, start_campaign
from bot.services.candidates import add_candidate
from bot.services.mailboxes import connect_mailbox
from bot.services.replies import Inbound, record_inbound
from bot.services.sequences import StepDraft, create_sequence
from bot.models import AddressKind, Provider
from providers.base import InboundKind
from providers.sandbox import PostOffice
from tests import factories
from tests.conftest import PROCESS_URLS

# Both variants in one xdist worker, one after the other: together they start six worker processes,
# which on a two-core machine would starve each other (and the rest of the suite).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("worker-processes")]
MAILBOXES, PER_MAILBOX, STEPS = 10, 100, 3
KILLS = 6
DEADLINE = 240  # seconds; it takes 15 to 45 on an idle machine
START_UP = 1.8  # seconds for a worker process to import, migrate and start: strike after it works


def _seed(runtime: Runtime) -> None:
    """Steps due an hour ago (workers run on the real clock), spread over ten mailboxes."""
    clock = FakeClock(datetime.now(timezone.utc) - timedelta(hours=2))
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        sequence = create_sequence(session, owner=rita, name="Three steps", clock=clock, steps=[
            StepDraft("Hello {{ first_name }}", "Hi {{ first_name }}"),
            StepDraft("Following up", "Any thoughts?", delay_days=2),
            StepDraft("Last note", "Closing the loop", delay_days=3)])
        for m in range(MAILBOXES):
            mailbox = connect_mailbox(session, owner=rita, provider=Provider.SANDBOX, address=f"box{m}@acme.example",
                                      credentials=None, clock=clock)
            mailbox.min_spacing_seconds, mailbox.daily_cap = 0, 10_000
            campaign = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox,
                                       name=f"Campaign {m}", clock=clock)
            people = [add_candidate(session, added_by=rita, name=f"Cand {m}-{n}", clock=clock,
                                    addresses=[(f"c{m}-{n}@work.example", AddressKind.WORK)])
                      for n in range(PER_MAILBOX)]
            enroll(session, campaign=campaign, candidates=people, clock=clock)
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(m))


def _worker(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _sent(runtime: Runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count()).where(OutboundMessage.status == OutboundStatus.SENT)) or 0


def _wait_for_progress(runtime: Runtime, *, since: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while _sent(runtime) <= since and time.monotonic() < deadline:
        time.sleep(0.05)


def _unsettled(runtime: Runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count()).select_from(OutboundMessage).join(Enrollment).where(
            (OutboundMessage.status == OutboundStatus.SENDING)
            | ((OutboundMessage.status == OutboundStatus.PENDING)
               & Enrollment.status.in_([s for s in EnrollmentStatus if s.sends])))) or 0


def _stuck(runtime: Runtime) -> list[tuple[object, ...]]:
    with transaction(runtime.sessions) as session:
        return [tuple(r) for r in session.execute(
            select(OutboundMessage.status, OutboundMessage.claimed_by, OutboundMessage.lease_expires_at,
                   OutboundMessage.attempts, OutboundMessage.error, func.count())
            .where(OutboundMessage.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING]))
            .group_by(OutboundMessage.status, OutboundMessage.claimed_by, OutboundMessage.lease_expires_at,
                      OutboundMessage.attempts, OutboundMessage.error).limit(10))]


O = OutboundMessage
SENDS = [s for s in EnrollmentStatus if s.sends]


def _time_flies(runtime: Runtime) -> None:
    """Every step planned for later is due now, as if its days had passed."""
    now = datetime.now(timezone.utc)
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(O).where(O.status == OutboundStatus.PENDING, O.due_at > now).values(due_at=now))


def _a_candidate_replies(runtime: Runtime, n: int) -> tuple[int, set[str]] | None:
    """A candidate whose later step is in flight (else any in progress) replies to step 1, recorded as
    mailbox sync records it. Returns them and the Message-IDs that were sent or in flight at the
    moment the reply committed: nothing else may ever reach them."""
    with transaction(runtime.sessions, write=True) as session:
        in_flight = select(O.enrollment_id).where(O.status == OutboundStatus.SENDING, O.step_position > 1)
        started = select(O.enrollment_id).where(O.status == OutboundStatus.SENT, O.step_position == 1)
        who = select(Enrollment.id).where(Enrollment.status.in_(SENDS), Enrollment.id.in_(started))
        enrollment_id = (session.scalar(who.where(Enrollment.id.in_(in_flight)).order_by(func.random()).limit(1))
                         or session.scalar(who.order_by(func.random()).limit(1)))
        if enrollment_id is None:
            return None
        step_one = session.scalar(select(O).where(O.enrollment_id == enrollment_id, O.step_position == 1,
                                                  O.status == OutboundStatus.SENT))
        now = datetime.now(timezone.utc)
        outcome = record_inbound(
            session, mailbox=session.get(Mailbox, step_one.mailbox_id), clock=FakeClock(now), rng=random.Random(n),
            reply_watch=timedelta(days=30), inbound=Inbound(
                provider_message_id=f"reply-{n}", thread_id=None, from_address=step_one.to_address,
                subject="Re: Hello", received_at=now, references=(step_one.message_id,), kind=InboundKind.REPLY))
        assert outcome.effect == "replied", outcome
        allowed = set(session.scalars(select(O.message_id).where(
            O.enrollment_id == enrollment_id, O.status.in_([OutboundStatus.SENT, OutboundStatus.SENDING]))))
    return enrollment_id, allowed


def _the_world(runtime: Runtime, stop: threading.Event, replies: dict[int, set[str]],
               failures: list[BaseException]) -> None:
    n = 0
    try:
        while not stop.wait(0.03):
            _time_flies(runtime)
            n += 1
            if n % 2 == 0 and len(replies) < 150:
                replied = _a_candidate_replies(runtime, n)
                if replied is not None:
                    replies[replied[0]] = replied[1]
    except BaseException as exc:  # handed to the test thread
        failures.append(exc)


def test_killed_workers_send_every_step_exactly_once_and_never_after_a_reply(
        runtime: Runtime, engine: Engine, tmp_path: Path) -> None:
    _seed(runtime)
    backend = engine.dialect.name
    workers_wanted = 3 if backend == "postgresql" else 1
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": PROCESS_URLS[id(engine)],
           "OUTREACH_SANDBOX_MAILBOXES": "true", "OUTREACH_SANDBOX_DIR": str(runtime.settings.sandbox_dir),
           "OUTREACH_SANDBOX_LATENCY_MS": "3", "OUTREACH_DISPATCH_INTERVAL_SECONDS": "0.1",
           "OUTREACH_DISPATCH_LEASE_SECONDS": "2", "OUTREACH_DISPATCH_CONCURRENCY": "8"}
    chaos = random.Random(20261122)
    workers = [_worker(env, tmp_path) for _ in range(workers_wanted)]
    kills, replied_at = 0, {}
    replies: dict[int, set[str]] = {}
    stop, failures = threading.Event(), []
    world = threading.Thread(target=_the_world, args=(runtime, stop, replies, failures))
    world.start()
    started = time.monotonic()
    try:
        while kills < KILLS and _unsettled(runtime):
            # Strike once sending has moved on since the last strike, a random moment later: gated on
            # progress, not on time, so a fast machine cannot finish the work before the chaos begins.
            _wait_for_progress(runtime, since=_sent(runtime), limit=START_UP + 5)
            time.sleep(chaos.uniform(0.0, 0.6))
            victim = chaos.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = _worker(env, tmp_path)
            with transaction(runtime.sessions, write=True) as session:  # some candidates reply meanwhile
                ids = list(session.scalars(select(Enrollment.id).where(
                    Enrollment.status == EnrollmentStatus.NOT_STARTED).limit(5)))
                now = datetime.now(timezone.utc)
                session.execute(update(Enrollment).where(Enrollment.id.in_(ids))
                                .values(status=EnrollmentStatus.REPLIED, ended_at=now))
                replied_at.update({i: now for i in ids})
        while _unsettled(runtime) and time.monotonic() < started + DEADLINE:
            time.sleep(0.2)
    finally:
        stop.set()
        world.join()
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    assert not failures, failures
    assert _unsettled(runtime) == 0, f"workers did not finish within {DEADLINE} s: {_stuck(runtime)}"
    assert kills >= 3, "the workers finished before the chaos began: seed more steps"
    assert len(replies) >= 20, "too few replies met sends in flight"
    print(f"{backend}: {workers_wanted} worker(s), {kills} SIGKILLs, {len(replies)} replies, "
          f"{time.monotonic() - started:.1f} s")

    received = PostOffice(runtime.providers.sandbox).all_sent()  # type: ignore[attr-defined]
    copies = Counter(str(m["Message-ID"]) for m in received)
    with transaction(runtime.sessions) as session:
        sent = dict(session.execute(select(OutboundMessage.message_id, OutboundMessage.enrollment_id)
                                    .where(OutboundMessage.status == OutboundStatus.SENT)).all())
        attempts = dict(session.execute(select(OutboundMessage.enrollment_id, OutboundMessage.attempted_at)
                                        .where(OutboundMessage.status == OutboundStatus.SENT)).all())
    assert [mid for mid, n in copies.items() if n > 1] == []  # no double send
    assert set(copies) == set(sent)  # every copy is recorded as sent, every sent row has its copy
    assert len(sent) >= MAILBOXES * PER_MAILBOX * STEPS - (len(replied_at) + len(replies)) * STEPS
    late = [e for e, at in replied_at.items() if e in attempts and attempts[e] > at]
    assert late == []  # nothing was claimed for sending after its reply was recorded
    with transaction(runtime.sessions) as session:
        ended = dict(session.execute(select(Enrollment.id, Enrollment.status).where(Enrollment.id.in_(replies))).all())
    assert {e: s for e, s in ended.items() if s != EnrollmentStatus.REPLIED} == {}  # a reply is final
    after_reply = [mid for mid, enrollment in sent.items()
                   if enrollment in replies and mid not in replies[enrollment]]
    assert after_reply == []  # nothing planned or claimed after a reply committed ever reached the candidate
