"""`outreach campaign import` of 10,000 candidates against the CSV confirm of the same rows, and how
soon a person confirming 10,000 rows in Slack sees progress.

The same N people (3 addresses and 3 fields each) are written as a campaign file and as a CSV. Lines:
  campaign_import   import_campaign_text of the file (read, checked, written in one transaction;
                    with --start semantics for campaign "started"), against the CSV path for the
                    same rows into a campaign of the same sequence: read_csv + stage_upload +
                    confirm_upload in one transaction (into a draft, or into a campaign already
                    started with one other person), each on a fresh database, best of a few runs;
                    ratio = import_s / confirm_s (issue 16: at most 2)
  confirm_progress  the CSV shared in the bot's DM through the local Slack workspace and the real
                    Bolt app, then "Add N to <campaign>" clicked, on the real clock: seconds from
                    the click to the first change of the message (first_progress_s, issue 16: under
                    1) and the longest wait between two changes until the summary (max_gap_s, under 2)
SQLite on a temporary file; PostgreSQL too when OUTREACH_TEST_DATABASE_URL or --pg is given.

Usage: python bench/campaign_import.py [--rows 10000] [--pg URL] [--repeat 3]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._databases import drop_database, fresh_database  # noqa: E402
from bot.campaign_import import import_campaign_text  # noqa: E402
from bot.clock import Clock, FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.crypto import new_key  # noqa: E402
from bot.db import transaction  # noqa: E402
from bot.local.slack import BoltTarget, LocalSlack, Person  # noqa: E402
from bot.models import Campaign, Enrollment, Mailbox  # noqa: E402
from bot.runtime import Runtime, build_runtime  # noqa: E402
from bot.services.campaigns import create_campaign, start_campaign  # noqa: E402
from bot.services.candidate_rows import read_csv  # noqa: E402
from bot.services.candidate_uploads import confirm_upload, stage_upload  # noqa: E402
from bot.services.directory import Profile, ensure_user  # noqa: E402
from bot.services.mailboxes import connect_mailbox, set_limits  # noqa: E402
from bot.models import Provider  # noqa: E402
from bot.services.sequences import StepDraft, create_sequence  # noqa: E402
from bot.slack_app import build_app  # noqa: E402
from handlers.ids import Action  # noqa: E402

RITA, TEAM = "U0RITA", "T0LOCAL"
STEPS = [  # (subject, body, delay_days)
    ("A {{ role }} role at {{ company }}", "Hi {{ first_name }},\nA {{ role }} role in {{ city }}?\n", 0),
    ("Following up", "Hi {{ first_name }}, the {{ role }} role is still open.", 2),
    ("Last note", "Hi {{ first_name }}, last note from {{ company }}.", 3),
]


def people(rows: int, who: str) -> list[dict[str, Any]]:
    return [{"name": f"{who.title()}{n} Lima {n}", "work": f"{who}{n}@acme{n % 50}.example",
             "personal": f"{who}.lima{n}@mail.example", "other": f"{who}{n}@old.example",
             "company": f"Acme {n % 50}", "role": "Backend", "city": "Lisbon"} for n in range(rows)]


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Name", "Work Email", "Personal Email", "Other Email", "Company", "Role", "City"])
    writer.writerows([r["name"], r["work"], r["personal"], r["other"], r["company"], r["role"], r["city"]]
                     for r in rows)
    return out.getvalue().encode()


def as_yaml(rows: list[dict[str, Any]], *, start: bool) -> str:
    """The campaign file: flow style per candidate, so 10,000 fit the 2 MB limit."""
    steps = "".join(f"    - subject: {json.dumps(s)}\n      body: {json.dumps(b)}\n"
                    + (f"      delay_days: {d}\n" if d else "") for s, b, d in STEPS)
    head = (f"owner: {{team: {TEAM}, user: {RITA}, name: Rita, email: rita@acme.example, tz: UTC}}\n"
            "mailbox: {address: rita@acme.example, provider: sandbox, daily_cap: 1000}\n"
            f"sequence:\n  name: Backend engineers\n  steps:\n{steps}"
            f"campaign: {{name: Backend Q4, timezone: UTC, start: {'true' if start else 'false'}}}\ncandidates:\n")
    return head + "".join(
        f"- {{name: {r['name']}, fields: {{company: {r['company']}, role: {r['role']}, city: {r['city']}}}, "
        f"addresses: [work: {r['work']}, personal: {r['personal']}, other: {r['other']}]}}\n" for r in rows)


def settings(url: str, workdir: Path, ws: LocalSlack | None = None) -> Settings:
    slack = {"SLACK_BOT_TOKEN": ws.bot_token, "SLACK_SIGNING_SECRET": ws.signing_secret,
             "SLACK_API_URL": ws.api_url} if ws else {}
    return Settings(_env_file=None, DATABASE_URL=url, OUTREACH_SANDBOX_MAILBOXES=True,  # type: ignore[call-arg]
                    OUTREACH_SANDBOX_DIR=str(workdir / "sandbox-mail"), OUTREACH_ENCRYPTION_KEYS=new_key(), **slack)


def campaign_for_csv(runtime: Runtime, *, started: bool) -> int:
    """What the file sets up, made ahead (not timed): Rita, her mailbox, the sequence, the campaign;
    a started one has one other person in it, since a campaign starts with candidates."""
    clock = runtime.clock
    with transaction(runtime.sessions, write=True) as session:
        rita = ensure_user(session, slack_team_id=TEAM, clock=clock,
                           profile=Profile(RITA, name="Rita", email="rita@acme.example", tz="UTC"))
        mailbox = session.scalar(select(Mailbox)) or connect_mailbox(
            session, owner=rita, provider=Provider.SANDBOX, address="rita@acme.example", credentials=None, clock=clock)
        set_limits(mailbox, daily_cap=1000)
        sequence = create_sequence(session, owner=rita, name="Backend engineers", clock=clock,
                                   steps=[StepDraft(s, b, delay_days=d) for s, b, d in STEPS])
        campaign = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name="Backend Q4",
                                   clock=clock, timezone="UTC")
        if started:
            upload = stage_upload(session, campaign=campaign, user=rita, source="one.csv", clock=clock,
                                  parsed=read_csv(as_csv(people(1, "bo")), source="one.csv"))
            confirm_upload(session, upload_id=upload.id, user=rita, clock=clock, rng=random.Random(1))
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return campaign.id


def confirm_csv(runtime: Runtime, campaign_id: int, data: bytes) -> float:
    started = time.perf_counter()
    parsed = read_csv(data, source="people.csv")
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        upload = stage_upload(session, campaign=campaign, user=campaign.owner, parsed=parsed, source="people.csv",
                              clock=runtime.clock)
        confirm_upload(session, upload_id=upload.id, user=campaign.owner, clock=runtime.clock, rng=random.Random(2))
    return time.perf_counter() - started


def enrolled(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(Enrollment.id)).all())


def bench_import(backend: str, pg_url: str | None, rows: int, workdir: Path, repeat: int) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc))
    group = people(rows, "ana")
    data = as_csv(group)
    for variant in ("draft", "started"):
        text = as_yaml(group, start=variant == "started")
        import_times, confirm_times = [], []
        for _ in range(repeat):  # each on a fresh database, so no run meets another's rows
            url, engine = fresh_database(backend, pg_url, workdir)
            runtime = build_runtime(settings(url, workdir), clock=clock, rng=random.Random(1), engine=engine)
            started = time.perf_counter()
            result = import_campaign_text(runtime, text, file="bench.yaml")
            import_times.append(time.perf_counter() - started)
            assert len(result.candidate_ids) == rows and enrolled(engine) == rows
            drop_database(backend, url, engine, pg_url)
            url, engine = fresh_database(backend, pg_url, workdir)
            runtime = build_runtime(settings(url, workdir), clock=clock, rng=random.Random(1), engine=engine)
            confirm_times.append(confirm_csv(runtime, campaign_for_csv(runtime, started=variant == "started"), data))
            assert enrolled(engine) == rows + (variant == "started")
            drop_database(backend, url, engine, pg_url)
        import_s, confirm_s = min(import_times), min(confirm_times)
        print(json.dumps({"bench": "campaign_import", "backend": backend, "campaign": variant, "rows": rows,
                          "import_s": round(import_s, 3), "confirm_s": round(confirm_s, 3),
                          "ratio": round(import_s / confirm_s, 3), "yaml_bytes": len(text.encode())}), flush=True)


def wait_for(found: Callable[[], Any], limit: float = 600) -> Any:
    """What `found` returns once it is something: listeners run on Bolt's threads after the ack."""
    until = time.perf_counter() + limit
    while (value := found()) is None and time.perf_counter() < until:
        time.sleep(0.01)
    assert value is not None, "gave up waiting"
    return value


def bench_progress(backend: str, pg_url: str | None, rows: int, workdir: Path) -> None:
    """The Slack path on the real clock: when the message the person clicked changes."""
    url, engine = fresh_database(backend, pg_url, workdir)
    with LocalSlack() as ws:
        ws.add_user(RITA, name="rita", real_name="Rita Recruiter", tz="UTC", email="rita@acme.example")
        clock: Clock | None = None  # the real one: the progress throttle runs on it
        runtime = build_runtime(settings(url, workdir, ws), clock=clock, rng=random.Random(1), engine=engine)
        campaign_for_csv(runtime, started=True)
        rita = Person(ws, RITA, BoltTarget(build_app(runtime)))  # as served: the ack first, the listener after it
        rita.upload("people.csv", as_csv(people(rows, "ana")))
        message = wait_for(lambda: next((m for m in rita.dm_messages() if "candidate(s) ready" in m.text), None))
        changes: list[float] = []
        update = ws._update_message

        def timed(changed: Any, *args: Any, **kwargs: Any) -> None:  # chat.update and response_url replace
            if changed.ts == message.ts:  # not the campaign's own message, redrawn at the end
                changes.append(time.perf_counter())
            update(changed, *args, **kwargs)

        ws._update_message = timed  # type: ignore[method-assign]
        before = len(rita.dm_messages())
        clicked = time.perf_counter()
        assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=message).ok  # acked within Slack's 3 s
        shown = wait_for(lambda: next((m.text for m in rita.dm_messages() if m.ts == message.ts and m.text.startswith(
            (":white_check_mark:", ":warning:", ":x:"))), None))
        done = changes[-1]
        wait_for(lambda: len(rita.dm_messages()) > before or None, limit=60)  # then the campaign's message
        assert shown.startswith(":white_check_mark: Added") and enrolled(engine) == rows + 1, shown
        moments = [clicked, *changes]
        print(json.dumps({"bench": "confirm_progress", "backend": backend, "rows": rows,
                          "first_progress_s": round(changes[0] - clicked, 3),
                          "max_gap_s": round(max(b - a for a, b in zip(moments, moments[1:])), 3),
                          "updates": len(changes), "total_s": round(done - clicked, 3)}), flush=True)
        if os.environ.get("BENCH_GAPS"):
            print([round(b - a, 3) for a, b in zip(moments, moments[1:])], file=sys.stderr)
    drop_database(backend, url, engine, pg_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("OUTREACH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        for backend in backends:
            bench_import(backend, args.pg, args.rows, Path(tmp), args.repeat)
            bench_progress(backend, args.pg, args.rows, Path(tmp))


if __name__ == "__main__":
    main()
