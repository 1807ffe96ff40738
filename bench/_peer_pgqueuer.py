"""The dispatch benchmark's peer: pgqueuer doing the same per-message work as the bot's dispatcher.

Runs in its own virtual environment (pgqueuer, asyncpg, jinja2; bench/_peer.py builds it and runs
this script), never in the bench's: nothing of the bot is imported, only bench/_same_work.py.

What it does, on the PostgreSQL server of --url:
  1. creates a database of its own (pgq_bench_<hex>) and installs pgqueuer's tables there;
  2. enqueues --rows jobs, one per send, in batches of 5,000 (timed apart: enqueue_s);
     each job's payload is the JSON of what the send needs: mailbox address and owner's name,
     recipient, candidate name and fields, Message-ID; so a job reads no table (the natural
     pgqueuer design, and the cheaper one for the peer: the bot reads these by a join per claim);
     the rows are spread over --mailboxes sandbox mailboxes as bench/dispatch.py seeds them;
  3. runs one QueueManager, one process, one asyncpg connection (pgqueuer's AsyncpgDriver), on
     uvloop (as `pgq run` does when it is installed), an entrypoint with no concurrency limit whose
     handler calls SameWork.send inline: the work is ~0.1 ms of CPU and local file writes, so a
     thread hop (asyncio.to_thread) costs more than it saves, and in one process more jobs in flight
     buy nothing (the GIL). run(batch_size=100) with max_concurrent_tasks=2×batch (the least pgqueuer
     allows: the next batch is fetched while the last one runs). --to-thread, --pool,
     --max-concurrent-tasks 0 (unlimited) and --no-uvloop are the alternatives the docs name; on
     this 2-core machine each measured slower than this choice (10,000 rows, 3 interleaved runs);
  4. times from the consumer's start (QueueManager.run called) to the Nth job done (peer_per_s),
     and to run() returning with every job acknowledged (acked_per_s). With --workers K, K such
     processes (mode=drain) start at once, timed to the last one's exit: both rates are then that;
  5. drops its database and the sandbox folder.
Prints one JSON line: {"peer": "pgqueuer", "rows": N, "peer_per_s": ..., ...}.

Usage: python bench/_peer_pgqueuer.py --url postgresql://... --rows 10000 [--mailboxes 100] [--workers 1]
Without --url (as `make bench` runs every bench script) it says how it is run and exits.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENTRYPOINT = "send"
ENQUEUE_CHUNK = 5000
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


def _dsn(url: str, database: str | None = None) -> str:
    """A libpq URL asyncpg takes: no SQLAlchemy driver suffix, no query (a search_path option)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    path = f"/{database}" if database else parts.path
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def payloads(rows: int, mailboxes: int) -> list[bytes]:
    """The sends bench/dispatch.py seeds: candidate i, mailbox i % mailboxes, owner "Bench"."""
    return [json.dumps({"from": f"box{i % mailboxes}@bench.example", "from_name": "Bench",
                        "to": f"c{i}@work.example", "name": f"Cand {i}", "fields": {"company": "Acme"},
                        "message_id": f"<{uuid.uuid4().hex}@bench.example>"}).encode()
            for i in range(rows)]


@dataclass(frozen=True)
class Config:
    batch_size: int = 100
    max_concurrent_tasks: int = 200
    to_thread: bool = False
    pool: bool = False


async def consume(dsn: str, sandbox: Path, config: Config, stop_after: int | None) -> dict[str, float]:
    """One QueueManager until `stop_after` jobs are done (then shut down), or, without it, until the
    queue is drained (a worker process of --workers; it starts on a line on stdin)."""
    import asyncpg
    import pgqueuer
    from pgqueuer import AsyncpgDriver, AsyncpgPoolDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    from bench._same_work import SameWork

    if config.pool:
        connections = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
        driver: AsyncpgDriver | AsyncpgPoolDriver = AsyncpgPoolDriver(connections)
    else:
        connection = await asyncpg.connect(dsn)
        driver = AsyncpgDriver(connection)
    qm = QueueManager(Queries(driver))
    work = SameWork(sandbox)
    done = 0
    finished = 0.0

    def send(job_payload: bytes) -> None:
        p = json.loads(job_payload)
        work.send(p["from"], p["from_name"], p["to"], p["name"], p["fields"], p["message_id"],
                  datetime.now(timezone.utc))

    @qm.entrypoint(ENTRYPOINT)
    async def handle(job: pgqueuer.Job) -> None:
        nonlocal done, finished
        assert job.payload is not None
        if config.to_thread:
            await asyncio.to_thread(send, job.payload)
        else:
            send(job.payload)
        done += 1
        finished = time.perf_counter()
        if done == stop_after:
            qm.shutdown.set()

    if stop_after is None:
        print("ready", flush=True)
        sys.stdin.readline()
    began, cpu = time.perf_counter(), time.process_time()
    await qm.run(batch_size=config.batch_size, max_concurrent_tasks=config.max_concurrent_tasks or None,
                 # drained workers: how soon an idle one looks again, and so exits (no NOTIFY comes then)
                 dequeue_timeout=timedelta(seconds=1 if stop_after else 0.1),
                 mode=QueueExecutionMode.continuous if stop_after else QueueExecutionMode.drain)
    acked, cpu = time.perf_counter(), time.process_time() - cpu
    work.close()
    await (connections.close() if config.pool else connection.close())
    return {"done": done, "began": began, "finished": finished, "acked": acked, "cpu_s": cpu}


async def run(url: str, rows: int, mailboxes: int, config: Config, workers: int) -> dict[str, object]:
    import asyncpg
    import pgqueuer
    from pgqueuer import AsyncpgDriver, Queries

    database = f"pgq_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_dsn(url))
    await admin.execute(f'CREATE DATABASE "{database}"')
    sandbox = SCRATCH / f"pgq-mail-{uuid.uuid4().hex[:6]}"
    try:
        setup = await asyncpg.connect(_dsn(url, database))
        queries = Queries(AsyncpgDriver(setup))
        await queries.install()
        started = time.perf_counter()
        data = payloads(rows, mailboxes)
        for start in range(0, rows, ENQUEUE_CHUNK):
            chunk = data[start:start + ENQUEUE_CHUNK]
            await queries.enqueue([ENTRYPOINT] * len(chunk), chunk, [0] * len(chunk))
        enqueue_s = time.perf_counter() - started
        await setup.execute("ANALYZE")  # as autovacuum would have by the time a real queue runs

        if workers == 1:
            timed = await consume(_dsn(url, database), sandbox, config, stop_after=rows)
            done, elapsed, acked_s = timed["done"], timed["finished"] - timed["began"], timed["acked"] - timed["began"]
            cpu_s = timed["cpu_s"]
        else:
            elapsed, done, cpu_s = await asyncio.to_thread(_processes, _dsn(url, database), sandbox, config, workers)
            acked_s = elapsed
        left = await setup.fetchval("SELECT count(*) FROM pgqueuer")
        await setup.close()
        sent = sum(int((box / ".lock").read_text() or 0) for box in sandbox.iterdir())
        assert done == rows and sent == rows, f"{done} jobs done, {sent} messages written, of {rows}"
        return {"peer": "pgqueuer", "rows": rows, "workers": workers, "peer_per_s": round(rows / elapsed, 1),
                "acked_per_s": round(rows / acked_s, 1), "left_in_queue": left,
                "consumer_cpu_us_per_job": round(cpu_s / rows * 1e6, 1),
                "enqueue_s": round(enqueue_s, 2), "mailboxes": mailboxes, "batch_size": config.batch_size,
                "max_concurrent_tasks": config.max_concurrent_tasks, "to_thread": config.to_thread,
                "pool": config.pool, "pgqueuer_version": pgqueuer.__version__, "payload": "job"}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(sandbox, ignore_errors=True)


def _processes(dsn: str, sandbox: Path, config: Config, workers: int) -> tuple[float, int, float]:
    """`workers` consumer processes started at once, timed to the last one's exit (every job acked)."""
    command = [sys.executable, __file__, "--consume", dsn, "--sandbox", str(sandbox),
               "--batch-size", str(config.batch_size), "--max-concurrent-tasks", str(config.max_concurrent_tasks),
               *(["--to-thread"] if config.to_thread else []), *(["--pool"] if config.pool else [])]
    procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(workers)]
    for proc in procs:  # imports and connections are not what is measured
        assert proc.stdout and proc.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    for proc in procs:
        assert proc.stdin
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    return (time.perf_counter() - began, sum(int(r["done"]) for r in reports),
            sum(float(r["cpu_s"]) for r in reports))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL URL (the bench's own database; a new one is made beside it)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="consumer processes (each one QueueManager)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--max-concurrent-tasks", type=int, default=None, help="default: 2 × batch size")
    parser.add_argument("--to-thread", action="store_true", help="run each send in asyncio.to_thread")
    parser.add_argument("--pool", action="store_true", help="an asyncpg pool (AsyncpgPoolDriver)")
    parser.add_argument("--no-uvloop", action="store_true", help="asyncio's own event loop, not uvloop")
    parser.add_argument("--consume", metavar="DSN", help=argparse.SUPPRESS)  # a worker process of --workers
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.url and not args.consume:
        print("bench/_peer_pgqueuer.py runs in its own virtual environment: bench/dispatch.py starts it through "
              "bench/_peer.py (or give --url with that environment's python)", file=sys.stderr)
        return
    config = Config(args.batch_size, 2 * args.batch_size if args.max_concurrent_tasks is None
                    else args.max_concurrent_tasks, args.to_thread, args.pool)
    try:  # the event loop `pgq run` picks: uvloop when it is installed
        import uvloop
    except ImportError:
        uvloop = None
    loop = "asyncio" if args.no_uvloop or uvloop is None else "uvloop"
    if args.consume:
        coro = consume(args.consume, Path(args.sandbox), config, stop_after=None)
    else:
        coro = run(args.url, args.rows, args.mailboxes, config, args.workers)
    result = asyncio.run(coro) if loop == "asyncio" else uvloop.run(coro)
    print(json.dumps({**result, "loop": loop}), flush=True)


if __name__ == "__main__":
    main()
