"""Dispatcher throughput, against a same-work floor and a peer queue measured in the same run.

For each database (SQLite; PostgreSQL when OUTREACH_TEST_DATABASE_URL or --pg is given) and each size
(10,000 and 100,000 due sends over 100 sandbox mailboxes, zero provider latency, 1 worker process
sending from one thread), runs alternate between the bot and the floor, 3 of each, on the same rows
(set back to due, and vacuumed on PostgreSQL, before every run), and one JSON line gives the medians:
  sends_per_s     the bot's worker, from the moment it starts to its last send
  floor_per_s     bench/_floor.py: one process, none of the bot's code, doing the same work per send:
                  a batched bare-SQL claim (SKIP LOCKED; BEGIN IMMEDIATE on SQLite), the same sandboxed
                  Jinja template rendered, the same MIME bytes, the same sandbox file write, and one
                  batched mark-sent per claim (bench/_same_work.py)
  ratio           sends_per_s / floor_per_s (target: at least 0.5)
  p99_lateness_s  99th percentile of sent_at − due_at in the bot's median run
  peak_rss_mb     the worker's peak resident memory
A `dispatch_scale` line compares each backend's bot at 100,000 rows with itself at 10,000 (target on
PostgreSQL: at least 0.85).
`dispatch_latency`: 1,000 sandbox mailboxes, 200 ms per send, 128 sends in flight; the physical limit
is in-flight ÷ latency = 640 sends a second, `fraction` the share of it reached (target: 0.9).
`dispatch_peer` (PostgreSQL): pgqueuer, installed in a virtual environment of its own
(bench/_peer.py), doing the same per-message work on the same server and the same N
(bench/_peer_pgqueuer.py); ratio = the bot's sends_per_s / pgqueuer's (target: 1.5).

Usage: python bench/dispatch.py [--sizes 10000,100000] [--workers 1] [--runs 3] [--pg URL] [--quick] [--no-peer]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._databases import drop_database, fresh_database  # noqa: E402
from bench._floor import floor as same_work_floor  # noqa: E402
from bench._peer import peer_rate  # noqa: E402
from bot.models import (  # noqa: E402
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    MailboxSendCount,
    Organisation,
    OutboundMessage,
    OutboundStatus,
    Provider,
    Sequence,
    SequenceStep,
    User,
)

BATCH = 400  # the bot claims up to 4 rows per mailbox, 100 mailboxes: the floor uses the same batch
LATENCY_MAILBOXES, LATENCY_ROWS, LATENCY_MS, LATENCY_IN_FLIGHT = 1000, 5000, 200, 128
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


def reset(engine: Engine) -> None:
    """Every row due again, as seeded; on PostgreSQL the dead rows of the last run vacuumed away, so
    each run starts from the same tables."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(update(OutboundMessage).values(
            status=OutboundStatus.PENDING, due_at=now - timedelta(seconds=1), sent_at=None, claimed_by=None,
            attempted_at=None, lease_expires_at=None, attempts=0, provider_message_id=None,
            provider_thread_id=None, sent_message_id=None, error=None))
        conn.execute(update(Enrollment).values(
            status=EnrollmentStatus.NOT_STARTED, steps_sent=0, thread_id=None, thread_references=None,
            thread_subject=None, first_send_local=None, last_sent_at=None, ended_at=None))
        conn.execute(update(Campaign).values(status=CampaignStatus.ACTIVE))
        conn.execute(update(Mailbox).values(last_send_at=None, not_before=None))
        conn.execute(delete(MailboxSendCount))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def run_floor(engine: Engine) -> float:
    sandbox = SCRATCH / f"bench-floor-{uuid.uuid4().hex[:6]}"
    try:
        return same_work_floor(engine, 10**9, sandbox)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)


# -- the bot: worker processes ----------------------------------------------------------------------
def worker_main(url: str, sandbox: str, latency_ms: int, concurrency: int) -> None:
    """Runs in a child process, as a worker runs for days: at each "go" from the parent, the real
    Dispatcher until nothing is left, then "done" with its peak memory; ends at anything else."""
    from bot.clock import SystemClock
    from bot.config import Settings
    from bot.runtime import build_runtime
    from scheduling.dispatcher import Dispatcher

    settings = Settings(_env_file=None, DATABASE_URL=url, OUTREACH_SANDBOX_MAILBOXES=True,  # type: ignore[call-arg]
                        OUTREACH_SANDBOX_DIR=sandbox, OUTREACH_SANDBOX_LATENCY_MS=latency_ms)
    runtime = build_runtime(settings, clock=SystemClock())
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                            batch_size=BATCH, max_mailboxes=1000, concurrency=concurrency)
    print("ready", flush=True)
    while sys.stdin.readline().strip() == "go":  # the parent starts every worker at once
        while True:
            report = dispatcher.run_until_idle()
            with runtime.sessions() as session:
                left = session.scalar(select(func.count()).where(OutboundMessage.status == OutboundStatus.PENDING))
            if not left and not report.claimed:
                break
        print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
    dispatcher.close()


class Workers:
    """Worker processes kept across runs (imports, connections and compiled statements are not what
    is measured; the first run of each is as cold as the floor's first)."""

    def __init__(self, url: str, count: int, latency_ms: int = 0, concurrency: int = 1) -> None:
        self.sandbox = SCRATCH / f"bench-mail-{uuid.uuid4().hex[:6]}"
        self.procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, str(self.sandbox),
                                        str(latency_ms), str(concurrency)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for _ in range(count)]
        for proc in self.procs:
            assert proc.stdout and proc.stdout.readline().strip() == "ready"

    def run(self, engine: Engine) -> dict[str, float]:
        """Zero latency: one sending thread (OUTREACH_DISPATCH_CONCURRENCY=1), since threads only
        contend for the GIL when sends cost no waiting; with latency, a large pool."""
        for sent in self.sandbox.glob("*/Sent"):  # the last run's files, as the floor starts each run empty
            shutil.rmtree(sent)
            sent.mkdir()
        start = datetime.now(timezone.utc)  # every row is due (reset, seed): lateness counts from here
        began = time.perf_counter()
        for proc in self.procs:
            assert proc.stdin
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = [json.loads(proc.stdout.readline()) for proc in self.procs]  # type: ignore[union-attr]
        elapsed = time.perf_counter() - began
        with engine.connect() as conn:
            sent = conn.execute(select(OutboundMessage.sent_at).where(
                OutboundMessage.status == OutboundStatus.SENT)).scalars().all()
        lateness = sorted((s - start).total_seconds() for s in sent)
        return {"sent": len(sent), "sends_per_s": round(len(sent) / elapsed, 1),
                "p99_lateness_s": round(lateness[int(len(lateness) * 0.99) - 1], 2) if lateness else None,
                "peak_rss_mb": round(max(r["peak_rss_mb"] for r in reports), 1)}

    def close(self) -> None:
        for proc in self.procs:
            proc.communicate("exit\n")
        shutil.rmtree(self.sandbox, ignore_errors=True)


def measure(backend: str, pg_url: str | None, rows: int, workers: int, runs: int,
            workdir: Path) -> tuple[float, float]:
    """Bot and floor alternating on the same rows; prints the line, returns both medians."""
    url, engine = fresh_database(backend, pg_url, workdir)
    seed(engine, rows, mailboxes=100, due=datetime.now(timezone.utc) - timedelta(seconds=1))
    bots, floors = [], []
    pool = Workers(url, workers)
    for _ in range(runs):
        reset(engine)
        floors.append(run_floor(engine))
        reset(engine)
        bot = pool.run(engine)
        assert bot["sent"] == rows, f"only {bot['sent']} of {rows} were sent"
        bots.append(bot)
    pool.close()
    median_bot = sorted(bots, key=lambda b: b["sends_per_s"])[len(bots) // 2]
    sends, floor_rate = median_bot["sends_per_s"], statistics.median(floors)
    print(json.dumps({"bench": "dispatch", "floor": "same-work", "backend": backend, "rows": rows,
                      "workers": workers, "mailboxes": 100, "sends_per_s": sends, "floor_per_s": round(floor_rate, 1),
                      "ratio": round(sends / floor_rate, 3), "bot_runs": [b["sends_per_s"] for b in bots],
                      "floor_runs": [round(f, 1) for f in floors], "p99_lateness_s": median_bot["p99_lateness_s"],
                      "peak_rss_mb": median_bot["peak_rss_mb"]}), flush=True)
    drop_database(backend, url, engine, pg_url)
    return sends, floor_rate


def measure_latency(backend: str, pg_url: str | None, workdir: Path) -> None:
    url, engine = fresh_database(backend, pg_url, workdir)
    seed(engine, LATENCY_ROWS, mailboxes=LATENCY_MAILBOXES, due=datetime.now(timezone.utc))
    pool = Workers(url, 1, latency_ms=LATENCY_MS, concurrency=LATENCY_IN_FLIGHT)
    result = pool.run(engine)
    pool.close()
    limit = LATENCY_IN_FLIGHT / (LATENCY_MS / 1000)
    print(json.dumps({"bench": "dispatch_latency", "backend": backend, "rows": LATENCY_ROWS,
                      "mailboxes": LATENCY_MAILBOXES, "in_flight": LATENCY_IN_FLIGHT, "latency_ms": LATENCY_MS,
                      "sends_per_s": result["sends_per_s"], "limit_per_s": limit,
                      "fraction": round(result["sends_per_s"] / limit, 3),
                      "p99_lateness_s": result["p99_lateness_s"]}), flush=True)
    drop_database(backend, url, engine, pg_url)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--workers", default="1")
    parser.add_argument("--runs", type=int, default=3, help="runs of the bot and of the floor, alternating")
    parser.add_argument("--pg", default=os.environ.get("OUTREACH_TEST_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true", help="10,000 rows only, one run of each")
    parser.add_argument("--no-peer", action="store_true", help="skip pgqueuer (it installs a venv)")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 1 if args.quick else args.runs
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        for backend in backends:
            rates, floors = {}, {}
            for rows in sizes:
                for workers in [int(w) for w in args.workers.split(",")]:
                    rate, floor_rate = measure(backend, args.pg, rows, workers, runs, Path(tmp))
                    if workers == 1:
                        rates[rows], floors[rows] = rate, floor_rate
                if backend == "postgresql" and not args.no_peer:
                    peer = peer_rate(args.pg, rows)
                    if peer:
                        print(json.dumps({"bench": "dispatch_peer", "peer": "pgqueuer", "backend": backend,
                                          "rows": rows, "sends_per_s": rates[rows], "peer_per_s": round(peer, 1),
                                          "ratio": round(rates[rows] / peer, 3),
                                          # the peer against the same-work floor of the same rows
                                          "peer_vs_floor": round(peer / floors[rows], 3)}), flush=True)
            if len(rates) > 1:
                small, large = min(rates), max(rates)
                print(json.dumps({"bench": "dispatch_scale", "backend": backend, "rows_small": small,
                                  "rows_large": large, "ratio": round(rates[large] / rates[small], 3)}), flush=True)
        measure_latency(backends[-1], args.pg, Path(tmp))


if __name__ == "__main__":
    main()
