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
  3. runs one QueueManager, one process, one asyncpg connection (pgqueuer's AsyncpgDriver), an
     entrypoint with no concurrency limit whose handler calls SameWork.send inline: the work is
     ~50 µs of CPU and local file writes, so a thread hop (asyncio.to_thread) would cost more than
     it saves, and with one core per process more tasks in flight buy nothing. run(batch_size=100)
     with max_concurrent_tasks=2×batch (the least pgqueuer allows: the next batch is fetched while
     the last runs). --to-thread and --pool try the alternatives the docs name;
  4. times from the consumer's start (QueueManager.run called) to the Nth job done (peer_per_s),
     and to run() returning with every job acknowledged (acked_per_s);
  5. drops its database and the sandbox folder.
Prints one JSON line: {"peer": "pgqueuer", "rows": N, "peer_per_s": ..., ...}.

Usage: python bench/peer_pgqueuer.py --url postgresql://... --rows 10000 [--mailboxes 100]
Without --url (as `make bench` runs every bench script) it says how it is run and exits.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
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


async def run(url: str, rows: int, mailboxes: int, batch_size: int, max_concurrent_tasks: int,
              to_thread: bool, pool: bool) -> dict[str, object]:
    import asyncpg
    import pgqueuer
    from pgqueuer import AsyncpgDriver, AsyncpgPoolDriver, Queries, QueueManager

    from bench._same_work import SameWork

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
        await setup.close()

        if pool:
            connections = await asyncpg.create_pool(_dsn(url, database), min_size=2, max_size=4)
            driver = AsyncpgPoolDriver(connections)
        else:
            connection = await asyncpg.connect(_dsn(url, database))
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
            if to_thread:
                await asyncio.to_thread(send, job.payload)
            else:
                send(job.payload)
            done += 1
            if done == rows:
                finished = time.perf_counter()
                qm.shutdown.set()

        began = time.perf_counter()
        await qm.run(batch_size=batch_size, max_concurrent_tasks=max_concurrent_tasks or None,
                     dequeue_timeout=timedelta(seconds=1))
        acked = time.perf_counter()
        work.close()
        check = await asyncpg.connect(_dsn(url, database))
        left = await check.fetchval("SELECT count(*) FROM pgqueuer")
        await check.close()
        if pool:
            await connections.close()
        else:
            await connection.close()
        sent = sum(int((box / ".lock").read_text() or 0) for box in sandbox.iterdir())
        assert done == rows and sent == rows, f"{done} jobs done, {sent} messages written, of {rows}"
        return {"peer": "pgqueuer", "rows": rows, "peer_per_s": round(rows / (finished - began), 1),
                "acked_per_s": round(rows / (acked - began), 1), "left_in_queue": left,
                "enqueue_s": round(enqueue_s, 2), "mailboxes": mailboxes, "batch_size": batch_size,
                "max_concurrent_tasks": max_concurrent_tasks, "to_thread": to_thread, "pool": pool,
                "pgqueuer_version": pgqueuer.__version__, "payload": "job"}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(sandbox, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL URL (the bench's own database; a new one is made beside it)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--max-concurrent-tasks", type=int, default=None, help="default: 2 × batch size")
    parser.add_argument("--to-thread", action="store_true", help="run each send in asyncio.to_thread")
    parser.add_argument("--pool", action="store_true", help="an asyncpg pool (AsyncpgPoolDriver)")
    args = parser.parse_args()
    if not args.url:
        print("bench/peer_pgqueuer.py runs in its own virtual environment: bench/dispatch.py starts it through "
              "bench/_peer.py (or give --url with that environment's python)", file=sys.stderr)
        return
    mct = 2 * args.batch_size if args.max_concurrent_tasks is None else args.max_concurrent_tasks
    result = asyncio.run(run(args.url, args.rows, args.mailboxes, args.batch_size, mct, args.to_thread, args.pool))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
