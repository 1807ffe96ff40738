"""Dispatcher throughput, against a floor measured in the same run.

For each database (SQLite; PostgreSQL when OUTREACH_TEST_DATABASE_URL or --pg is given), each size
(10,000 and 100,000 due sends over 100 sandbox mailboxes, zero provider latency) and 1 and 2 worker
processes, it prints one JSON line:
  sends_per_s     the bot's dispatchers, from the moment the workers start to the last send
  floor_per_s     the same rows claimed and marked sent by bare SQL, in batches of the same size,
                  with none of the bot's code (no templates, no MIME, no provider, no planning)
  ratio           sends_per_s / floor_per_s
  p99_lateness_s  99th percentile of sent_at − due_at (every row falls due as the workers start)
  peak_rss_mb     the largest worker's peak resident memory
The zero-latency runs send from one thread (OUTREACH_DISPATCH_CONCURRENCY=1): with nothing to wait
for, more threads only contend for the GIL. A second part sends through sandbox mailboxes with
200 ms of simulated latency per send and 128 sends in flight, over 10 and over 1,000 mailboxes, to
show that throughput comes from concurrency across mailboxes (each mailbox allows 4 in flight).

Usage: python bench/dispatch.py [--sizes 10000,100000] [--workers 1,2] [--pg URL] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._databases import drop_database, fresh_database  # noqa: E402
from bot.models import (  # noqa: E402
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    Enrollment,
    Mailbox,
    Organisation,
    OutboundMessage,
    OutboundStatus,
    Provider,
    Sequence,
    SequenceStep,
    User,
)

BATCH = 400  # the bot claims up to 4 rows per mailbox, 100 mailboxes: the floor uses the same batch
LATENCY_CONCURRENCY = 128  # sends in flight per worker when each send waits 200 ms
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


def seed(engine: Engine, rows: int, mailboxes: int, due: datetime) -> None:
    """Bulk-insert `rows` due step-1 sends spread over `mailboxes`, as the bot would have planned."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        org = conn.execute(insert(Organisation).values(slack_team_id="TBENCH", name="bench",
                                                       created_at=now).returning(Organisation.id)).scalar_one()
        user = conn.execute(insert(User).values(organisation_id=org, slack_user_id="UBENCH", name="Bench",
                                                tz="UTC", created_at=now).returning(User.id)).scalar_one()
        sequence = conn.execute(insert(Sequence).values(organisation_id=org, owner_id=user, name="bench",
                                                        created_at=now).returning(Sequence.id)).scalar_one()
        conn.execute(insert(SequenceStep).values(sequence_id=sequence, position=1, delay_days=0,
                                                 subject="Hello {{ first_name }}",
                                                 body="Hi {{ first_name }},\nA role at {{ company }}?\n"))
        boxes, campaigns = [], []
        for m in range(mailboxes):
            box = conn.execute(insert(Mailbox).values(
                organisation_id=org, owner_id=user, provider=Provider.SANDBOX, address=f"box{m}@bench.example",
                daily_cap=1_000_000, min_spacing_seconds=0, max_in_flight=4, created_at=now,
                connected_at=now).returning(Mailbox.id)).scalar_one()
            boxes.append(box)
            campaigns.append(conn.execute(insert(Campaign).values(
                organisation_id=org, owner_id=user, sequence_id=sequence, mailbox_id=box, name=f"c{m}",
                status=CampaignStatus.ACTIVE, timezone="UTC", started_at=now, created_at=now,
            ).returning(Campaign.id)).scalar_one())
        chunk = 5000
        for start in range(0, rows, chunk):
            n = range(start, min(rows, start + chunk))
            cand_ids = conn.execute(insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True), [
                {"organisation_id": org, "name": f"Cand {i}", "fields": {"company": "Acme"}, "created_at": now}
                for i in n]).scalars().all()
            conn.execute(insert(CandidateAddress), [
                {"candidate_id": c, "address": f"c{i}@work.example", "kind": "work", "position": 1}
                for i, c in zip(n, cand_ids)])
            enr_ids = conn.execute(insert(Enrollment).returning(Enrollment.id, sort_by_parameter_order=True), [
                {"campaign_id": campaigns[i % mailboxes], "candidate_id": c, "created_at": now}
                for i, c in zip(n, cand_ids)]).scalars().all()
            conn.execute(insert(OutboundMessage), [
                {"enrollment_id": e, "mailbox_id": boxes[i % mailboxes], "step_position": 1,
                 "to_address": f"c{i}@work.example", "message_id": f"<{uuid.uuid4().hex}@bench.example>",
                 "status": OutboundStatus.PENDING, "due_at": due, "created_at": now}
                for i, e in zip(n, enr_ids)])


# -- the floor: bare SQL, same batches --------------------------------------------------------------
def floor(engine: Engine, rows: int) -> float:
    t = OutboundMessage.__table__
    started = time.perf_counter()
    done = 0
    while done < rows:
        now = datetime.now(timezone.utc)
        with engine.begin() as conn:
            ids = conn.execute(
                update(t).where(t.c.id.in_(
                    select(t.c.id).where(t.c.status == "pending", t.c.due_at <= now)
                    .order_by(t.c.due_at, t.c.id).limit(BATCH)
                    .with_for_update(skip_locked=True).correlate(None).scalar_subquery()))
                .values(status="sending", claimed_by="floor", attempted_at=now).returning(t.c.id)).scalars().all()
        if not ids:
            break
        with engine.begin() as conn:
            conn.execute(update(t).where(t.c.id.in_(ids)).values(status="sent", sent_at=now, claimed_by=None))
        done += len(ids)
    return done / (time.perf_counter() - started)


# -- the bot: worker processes ----------------------------------------------------------------------
def worker_main(url: str, sandbox: str, latency_ms: int, concurrency: int) -> None:
    """Runs in a child process: the real Dispatcher until nothing is left, then reports memory."""
    from bot.clock import SystemClock
    from bot.config import Settings
    from bot.runtime import build_runtime
    from scheduling.dispatcher import Dispatcher

    settings = Settings(_env_file=None, DATABASE_URL=url, OUTREACH_SANDBOX_MAILBOXES=True,  # type: ignore[call-arg]
                        OUTREACH_SANDBOX_DIR=sandbox, OUTREACH_SANDBOX_LATENCY_MS=latency_ms)
    runtime = build_runtime(settings, clock=SystemClock())
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                            batch_size=BATCH * 10 if latency_ms else BATCH, max_mailboxes=1000,
                            concurrency=concurrency)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent starts every worker at once
    while True:
        report = dispatcher.run_until_idle()
        with runtime.sessions() as session:
            left = session.scalar(select(func.count()).where(OutboundMessage.status == OutboundStatus.PENDING))
        if not left and not report.claimed:
            break
    dispatcher.close()
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


def run_workers(url: str, engine: Engine, rows: int, workers: int, latency_ms: int = 0,
                concurrency: int = 1) -> dict[str, float]:
    """Zero latency: one sending thread (OUTREACH_DISPATCH_CONCURRENCY=1), since threads only contend
    for the GIL when sends cost no waiting; with latency, a large pool."""
    sandbox = SCRATCH / f"bench-mail-{uuid.uuid4().hex[:6]}"
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, str(sandbox), str(latency_ms),
                               str(concurrency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(workers)]
    for proc in procs:  # imports and connections are not what is measured
        assert proc.stdout and proc.stdout.readline().strip() == "ready"
    start = datetime.now(timezone.utc)
    with engine.begin() as conn:  # every row falls due now
        conn.execute(update(OutboundMessage).values(due_at=start))
    began = time.perf_counter()
    for proc in procs:
        assert proc.stdin
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    elapsed = time.perf_counter() - began
    with engine.connect() as conn:
        sent = conn.execute(select(OutboundMessage.sent_at).where(
            OutboundMessage.status == OutboundStatus.SENT)).scalars().all()
    shutil.rmtree(sandbox, ignore_errors=True)
    lateness = sorted((s - start).total_seconds() for s in sent)
    return {"sent": len(sent), "sends_per_s": round(len(sent) / elapsed, 1),
            "p99_lateness_s": round(lateness[int(len(lateness) * 0.99) - 1], 2) if lateness else None,
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in reports), 1)}


def measure(backend: str, pg_url: str | None, rows: int, workers: int, workdir: Path) -> None:
    url, engine = fresh_database(backend, pg_url, workdir)
    seed(engine, rows, mailboxes=100, due=datetime.now(timezone.utc) - timedelta(seconds=1))
    floor_rate = floor(engine, rows)
    with engine.begin() as conn:  # the same rows again, for the bot
        conn.execute(update(OutboundMessage).values(status=OutboundStatus.PENDING, sent_at=None, claimed_by=None,
                                                    attempted_at=None))
    result = run_workers(url, engine, rows, workers)
    assert result["sent"] == rows, f"only {result['sent']} of {rows} were sent"
    print(json.dumps({"bench": "dispatch", "backend": backend, "rows": rows, "workers": workers,
                      "mailboxes": 100, "sends_per_s": result["sends_per_s"],
                      "floor_per_s": round(floor_rate, 1), "ratio": round(result["sends_per_s"] / floor_rate, 3),
                      "p99_lateness_s": result["p99_lateness_s"], "peak_rss_mb": result["peak_rss_mb"]}),
          flush=True)
    drop_database(backend, url, engine, pg_url)


def measure_latency(backend: str, pg_url: str | None, mailboxes: int, rows: int, workdir: Path) -> None:
    url, engine = fresh_database(backend, pg_url, workdir)
    seed(engine, rows, mailboxes=mailboxes, due=datetime.now(timezone.utc))
    result = run_workers(url, engine, rows, workers=1, latency_ms=200, concurrency=LATENCY_CONCURRENCY)
    print(json.dumps({"bench": "dispatch_latency", "backend": backend, "rows": rows, "mailboxes": mailboxes,
                      "provider_latency_ms": 200, "concurrency": LATENCY_CONCURRENCY,
                      "sends_per_s": result["sends_per_s"],
                      "p99_lateness_s": result["p99_lateness_s"]}), flush=True)
    drop_database(backend, url, engine, pg_url)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--pg", default=os.environ.get("OUTREACH_TEST_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true", help="10,000 rows only, one worker count")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    worker_counts = [1] if args.quick else [int(w) for w in args.workers.split(",")]
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        for backend in backends:
            for rows in sizes:
                for workers in worker_counts:
                    measure(backend, args.pg, rows, workers, Path(tmp))
        for mailboxes in (10, 1000):
            measure_latency(backends[-1], args.pg, mailboxes, rows=2000, workdir=Path(tmp))


if __name__ == "__main__":
    main()
