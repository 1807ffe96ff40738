"""One tick of the campaign-message refresher at 50 and 500 campaigns, against the old full
recompute, in the same run.

One recruiter has N started campaigns of 5 candidates, each with its message in Slack (a local
workspace). Per size and database (SQLite, and PostgreSQL when OUTREACH_TEST_DATABASE_URL or --pg
is given), two cases:
  unchanged  nothing changed since the last tick
  one        one campaign changed (renamed and marked stale, as a worker's write marks it)
`new` is refresh_campaign_messages (only campaigns marked stale are read); `old` is what each tick
did before issue 15: every unfinished campaign with a message read and drawn (campaign_status and
its blocks), then the changed ones shown. Each JSON line holds the seconds of both (best of a few),
ratio = old / new, and the SQL statements each issued.

Usage: python bench/refresh_tick.py [--sizes 50,500] [--pg URL]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._databases import drop_database, fresh_database  # noqa: E402
from bench._timing import best  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.crypto import new_key  # noqa: E402
from bot.db import transaction  # noqa: E402
from bot.local.slack import LocalSlack, SkipClock  # noqa: E402
from bot.models import AddressKind, Campaign, CampaignStatus, Provider  # noqa: E402
from bot.runtime import Runtime, build_runtime  # noqa: E402
from bot.services.campaign_marks import mark_stale  # noqa: E402
from bot.services.campaigns import create_campaign, enroll, start_campaign  # noqa: E402
from bot.services.candidates import add_candidate  # noqa: E402
from bot.services.directory import Profile, ensure_user  # noqa: E402
from bot.services.mailboxes import connect_mailbox  # noqa: E402
from bot.services.sequences import StepDraft, create_sequence  # noqa: E402
from bot.slack_app import bot_client  # noqa: E402
from handlers.campaign_message import _draw, _record, _show, campaign_message, refresh_campaign_messages  # noqa: E402
from handlers.slack import Slack  # noqa: E402

T0 = datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc)
RITA = "U0RITA"


def old_tick(runtime: Runtime, slack: Slack) -> int:
    """The refresher before issue 15: every unfinished campaign's full status, every tick."""
    with transaction(runtime.sessions) as session:
        campaigns = session.scalars(select(Campaign).where(Campaign.status_ts.is_not(None)).where(
            (Campaign.status != CampaignStatus.FINISHED) | ~Campaign.status_hash.startswith("finished:")))
        changed = [drawn for drawn in (_draw(session, c, now=runtime.clock.now()) for c in campaigns) if drawn.key != drawn.shown_key]
    return sum(_record(runtime, slack, drawn, *_show(slack, drawn)) for drawn in changed)


def seed(runtime: Runtime, slack: Slack, clock: FakeClock, count: int) -> list[int]:
    with transaction(runtime.sessions, write=True) as session:
        rita = ensure_user(session, slack_team_id="T0LOCAL", clock=clock,
                           profile=Profile(RITA, name="Rita Recruiter", email="rita@acme.example",
                                           tz="America/New_York"))
        mailbox = connect_mailbox(session, owner=rita, provider=Provider.SANDBOX, address="rita@acme.example",
                                  credentials=None, clock=clock)
        sequence = create_sequence(session, owner=rita, name="Backend", clock=clock, steps=[
            StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
            StepDraft("Following up", "Any thoughts?", delay_days=2)])
        ids = []
        for n in range(count):
            campaign = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox,
                                       name=f"Campaign {n}", clock=clock)
            people = [add_candidate(session, added_by=rita, name=f"Ana {n}-{k}", fields={"company": "Acme"},
                                    clock=clock, addresses=[(f"ana{n}-{k}@work.example", AddressKind.WORK)])
                      for k in range(5)]
            enroll(session, campaign=campaign, candidates=people, clock=clock)
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(n))
            ids.append(campaign.id)
    for campaign_id in ids:
        campaign_message(runtime, slack, campaign_id)
    return ids


def counted(engine: Engine, run: Callable[[], Any]) -> int:
    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def measure(backend: str, pg_url: str | None, size: int, workdir: Path) -> list[dict[str, Any]]:
    url, engine = fresh_database(backend, pg_url, workdir)
    clock, slack_time = FakeClock(T0), SkipClock()
    settings = Settings(_env_file=None, DATABASE_URL=url, OUTREACH_SANDBOX_MAILBOXES=True,  # type: ignore[call-arg]
                        OUTREACH_SANDBOX_DIR=str(workdir / "sandbox"), OUTREACH_ENCRYPTION_KEYS=new_key())
    runtime = build_runtime(settings, clock=clock, rng=random.Random(7), engine=engine)
    lines = []
    try:
        with LocalSlack(monotonic=slack_time) as workspace:
            workspace.add_user(RITA, name="rita", real_name="Rita Recruiter", tz="America/New_York")
            client = bot_client(workspace.bot_token, workspace.api_url, sleep=slack_time.sleep)
            slack = Slack(client)
            ids = seed(runtime, slack, clock, size)
            refresh_campaign_messages(runtime, client)  # every version drawn once
            renames = iter(range(10**6))

            def change_one() -> None:
                with transaction(runtime.sessions, write=True) as session:
                    session.execute(update(Campaign).where(Campaign.id == ids[size // 2])
                                    .values(name=f"Renamed {next(renames)}"))
                    mark_stale(session, [ids[size // 2]])

            def one(tick: Callable[[], int]) -> Callable[[], None]:
                def run() -> None:
                    change_one()
                    assert tick() == 1
                return run

            new_tick = lambda: refresh_campaign_messages(runtime, client)  # noqa: E731
            old = lambda: old_tick(runtime, slack)  # noqa: E731
            cases = {"unchanged": (lambda: None if new_tick() == 0 else 1 / 0, lambda: None if old() == 0 else 1 / 0),
                     "one": (one(new_tick), one(old))}
            for case, (new_run, old_run) in cases.items():
                new_s, old_s = best(new_run), best(old_run)
                lines.append({"bench": "refresh_tick", "backend": backend, "campaigns": size, "changed": case,
                              "new_seconds": round(new_s, 5), "old_seconds": round(old_s, 5),
                              "ratio": round(old_s / new_s, 1),
                              "new_statements": counted(engine, new_run), "old_statements": counted(engine, old_run)})
    finally:
        drop_database(backend, url, engine, pg_url)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,500")
    parser.add_argument("--pg", default=os.environ.get("OUTREACH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for size in (int(s) for s in args.sizes.split(",")):
                for line in measure(backend, args.pg, size, Path(tmp)):
                    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
