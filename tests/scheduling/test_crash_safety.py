"""Worker processes killed with SIGKILL at random moments, restarted, and every step still goes out
exactly once (counted at the sandbox mail server), and nothing goes to a candidate after their reply
was recorded. PostgreSQL: three workers sharing the database; SQLite: one worker."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, EnrollmentStatus, OutboundMessage, OutboundStatus
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign, enroll, start_campaign
from bot.services.candidates import add_candidate
from bot.services.mailboxes import connect_mailbox
from bot.services.sequences import StepDraft, create_sequence
from bot.models import AddressKind, Provider
from providers.sandbox import PostOffice
from tests import factories
from tests.conftest import PROCESS_URLS

# Both variants in one xdist worker, one after the other: together they start six worker processes,
# which on a two-core machine would starve each other (and the rest of the suite).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("worker-processes")]
MAILBOXES, PER_MAILBOX = 10, 300
KILLS = 6
DEADLINE = 240  # seconds; it takes 15 to 45 on an idle machine
START_UP = 1.8  # seconds for a worker process to import, migrate and start: strike after it works


def _seed(runtime: Runtime) -> None:
    """Steps due an hour ago (workers run on the real clock), spread over ten mailboxes."""
    clock = FakeClock(datetime.now(timezone.utc) - timedelta(hours=2))
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        sequence = create_sequence(session, owner=rita, name="One step", clock=clock,
                                   steps=[StepDraft("Hello {{ first_name }}", "Hi {{ first_name }}")])
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
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    assert _unsettled(runtime) == 0, f"workers did not finish within {DEADLINE} s: {_stuck(runtime)}"
    assert kills >= 3, "the workers finished before the chaos began: seed more steps"
    print(f"{backend}: {workers_wanted} worker(s), {kills} SIGKILLs, {time.monotonic() - started:.1f} s")

    copies = Counter(str(m["Message-ID"]) for m in PostOffice(runtime.providers.sandbox).all_sent())  # type: ignore[attr-defined]
    with transaction(runtime.sessions) as session:
        sent = dict(session.execute(select(OutboundMessage.message_id, OutboundMessage.enrollment_id)
                                    .where(OutboundMessage.status == OutboundStatus.SENT)).all())
        attempts = dict(session.execute(select(OutboundMessage.enrollment_id, OutboundMessage.attempted_at)
                                        .where(OutboundMessage.status == OutboundStatus.SENT)).all())
    assert [mid for mid, n in copies.items() if n > 1] == []  # no double send
    assert set(copies) == set(sent)  # every copy is recorded as sent, every sent row has its copy
    assert len(sent) + len(replied_at) >= MAILBOXES * PER_MAILBOX - len(replied_at)
    late = [e for e, at in replied_at.items() if e in attempts and attempts[e] > at]
    assert late == []  # nothing was claimed for sending after its reply was recorded
