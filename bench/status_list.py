"""`/outreach status` with no argument at 60 and 600 campaigns, against the old way, in the same run.

One recruiter has N campaigns (60, then 600) of 10 candidates each; every other campaign is started
(step 1 planned for each candidate) and in those one candidate in five has replied. Two parts per
size (SQLite, and PostgreSQL when OUTREACH_TEST_DATABASE_URL or --pg is given):
  service  the answer's work in one read transaction: campaign_page (one page of 20) and its blocks,
           against the old way: every campaign the user owns, campaign_status for every campaign, then the list of
           the newest 40 (what handlers/campaigns.py did before issue 14)
  slash    `/outreach status` through the real Bolt app from the local Slack workspace (a signed
           request, Bolt's request path, the ack checked as Slack checks it), against the old
           listener registered in the same app as `/outreach-old`
Each JSON line holds the seconds of both (best of a few runs), ratio = old seconds / new seconds
(how many times faster the answer is now), the SELECTs each issued, and for `slash` the share of
Slack's 3-second ack window each uses and how many of the runs took longer (Slack then shows the
person an error and drops the answer).

Usage: python bench/status_list.py [--sizes 60,600] [--pg URL]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._databases import drop_database, fresh_database  # noqa: E402
from bench._recruiter import RITA, rita_and_campaigns, workspace_settings  # noqa: E402
from bench._timing import best  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.db import session_factory, transaction  # noqa: E402
from bot.local.slack import BoltTarget, LocalSlack, Person  # noqa: E402
from bot.models import (  # noqa: E402
    AddressKind,
    Campaign,
    Candidate,
    CandidateAddress,
    Enrollment,
    EnrollmentStatus,
    User,
)
from bot.runtime import Runtime, build_runtime  # noqa: E402
from bot.services.campaign_list import campaign_page  # noqa: E402
from bot.services.campaign_status import CampaignStatusView, campaign_status  # noqa: E402
from bot.services.campaigns import start_campaign  # noqa: E402
from bot.slack_app import build_app  # noqa: E402
from handlers.context import current_user  # noqa: E402
from handlers.slack import Slack  # noqa: E402
from handlers.views.campaigns import CAMPAIGN_STATUS, campaign_list_blocks  # noqa: E402

CANDIDATES = 10
REPEAT = 3
ACK_WINDOW = 3.0  # seconds Slack gives an app to acknowledge



def _owned(session, user):  # type: ignore[no-untyped-def]
    """The old way's list: every campaign the user owns, newest first (as campaigns_of read them)."""
    from sqlalchemy import select

    from bot.models import Campaign
    return list(session.scalars(select(Campaign).where(Campaign.owner_id == user.id)
                                .order_by(Campaign.created_at.desc())))

def line(part: str, backend: str, campaigns: int, new: float, old: float, **extra: Any) -> None:
    record: dict[str, Any] = {"bench": "status_list", "part": part, "backend": backend, "campaigns": campaigns,
                              "candidates_each": CANDIDATES, "seconds": round(new, 4), "old_seconds": round(old, 4),
                              "ratio": round(old / new, 1)}
    record.update(extra)
    print(json.dumps(record), flush=True)


# -- the campaigns --------------------------------------------------------------------------------
def seed(engine: Engine, clock: FakeClock, campaigns: int) -> None:
    """Rita's campaigns: created through the services, candidates inserted in bulk, every other one
    started through start_campaign (which plans step 1 for each candidate), replies set by SQL."""
    sessions = session_factory(engine)
    with transaction(sessions, write=True) as session:
        rita, _, named = rita_and_campaigns(session, clock, [f"Campaign {n:04d}" for n in range(campaigns)])
        ids = list(named.values())
        now, org, owner = clock.now(), rita.organisation_id, rita.id
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        people = conn.execute(insert(Candidate).returning(Candidate.id, sort_by_parameter_order=not sqlite), [
            {"organisation_id": org, "name": f"Person {n}", "fields": {"company": "Acme"}, "created_by_id": owner,
             "created_at": now} for n in range(campaigns * CANDIDATES)]).scalars().all()
        people = sorted(people) if sqlite else people
        conn.execute(insert(CandidateAddress), [
            {"candidate_id": c, "address": f"p{c}@work.example", "kind": AddressKind.WORK, "position": 1}
            for c in people])
        conn.execute(insert(Enrollment), [
            {"campaign_id": ids[n // CANDIDATES], "candidate_id": c, "created_at": now, "tried_addresses": []}
            for n, c in enumerate(people)])
    with transaction(sessions, write=True) as session:
        for campaign_id in ids[::2]:
            start_campaign(session, campaign=session.get(Campaign, campaign_id),  # type: ignore[arg-type]
                           clock=clock, rng=random.Random(campaign_id))
        session.execute(update(Enrollment).where(Enrollment.campaign_id.in_(ids[::2]), Enrollment.id % 5 == 0)
                        .values(status=EnrollmentStatus.REPLIED))


# -- the old way, as handlers/campaigns.py answered before issue 14 --------------------------------
def old_list_blocks(views: Sequence[CampaignStatusView]) -> list[Any]:
    from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

    lines = [f"*{v.name}* · {CAMPAIGN_STATUS[v.status.value]} · {v.total} candidates" for v in views[:40]]
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000])),
            ContextBlock(elements=[MarkdownTextObject(text="`/outreach status <campaign>` shows one in full.")])]


def old_answer(session: Any, user: User) -> list[dict[str, Any]]:
    views = [campaign_status(session, c) for c in _owned(session, user)]
    return [b.to_dict() for b in old_list_blocks(views)]


def new_answer(session: Any, user: User) -> list[dict[str, Any]]:
    return [b.to_dict() for b in campaign_list_blocks(campaign_page(session, user=user, offset=0))]


@contextmanager
def counting_selects(engine: Engine) -> Iterator[list[int]]:
    seen = [0]

    def count(conn, cursor, statement, *args: Any) -> None:  # type: ignore[no-untyped-def]
        seen[0] += statement.lstrip().upper().startswith("SELECT")

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def bench_service(engine: Engine, backend: str, campaigns: int) -> None:
    sessions = session_factory(engine)

    def run(answer: Callable[[Any, User], list[dict[str, Any]]]) -> Callable[[], Any]:
        def once() -> Any:
            with transaction(sessions) as session:
                user = session.scalars(select(User).where(User.slack_user_id == RITA)).one()
                return answer(session, user)
        return once

    with counting_selects(engine) as new_selects:
        new_blocks = run(new_answer)()
    with counting_selects(engine) as old_selects:
        run(old_answer)()
    assert f"1–20 of {campaigns}" in json.dumps(new_blocks, ensure_ascii=False)
    line("service", backend, campaigns, best(run(new_answer), REPEAT), best(run(old_answer), REPEAT),
         selects=new_selects[0], old_selects=old_selects[0])


# -- through Slack: the real Bolt app and the local workspace ---------------------------------------
def bench_slash(url: str, engine: Engine, clock: FakeClock, backend: str, campaigns: int, workdir: Path) -> None:
    with LocalSlack() as ws:
        ws.add_user(RITA, name="rita", real_name="Rita Recruiter", tz="UTC", email="rita@acme.example")
        settings = workspace_settings(ws, url, workdir)
        runtime: Runtime = build_runtime(settings, clock=clock, rng=random.Random(1), engine=engine)
        app = build_app(runtime, process_before_response=True)

        @app.command("/outreach-old")
        def _old(ack: Any, context: Any, client: Any) -> None:
            with transaction(runtime.sessions) as session:
                user = current_user(session, runtime, context, Slack(client))
                views = [campaign_status(session, c) for c in _owned(session, user)]
                ack(text="Your campaigns", blocks=old_list_blocks(views))

        ws.manifest.commands["/outreach-old"] = ws.manifest.commands["/outreach"]  # the old way, beside it
        rita = Person(ws, RITA, BoltTarget(app))

        late: dict[str, int] = {"/outreach": 0, "/outreach-old": 0}

        def slash(command: str, text: str, expect: str) -> Callable[[], None]:
            def once() -> None:
                result = rita.slash(command, text)
                # /outreach acks at once and answers through the response_url (issue 16); the old
                # listener answered in the ack. process_before_response: both are in before the HTTP answer.
                shown = [result.ack, *[(e.text, e.blocks) for e in ws.ephemerals(user=RITA)[-1:]]]
                assert result.status == 200 and expect in json.dumps(shown, ensure_ascii=False), result.body[:200]
                late[command] += result.timed_out  # over 3 s: Slack would have shown an error instead
            return once

        new = best(slash("/outreach", "status", f"Campaigns 1–20 of {campaigns}"), REPEAT)
        old = best(slash("/outreach-old", "", "Your campaigns"), REPEAT)
        line("slash", backend, campaigns, new, old, ack_window_used=round(new / ACK_WINDOW, 3),
             old_ack_window_used=round(old / ACK_WINDOW, 3),
             runs_over_ack_window=late["/outreach"], old_runs_over_ack_window=late["/outreach-old"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="60,600")
    parser.add_argument("--pg", default=os.environ.get("OUTREACH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.pg else [])
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        for backend in backends:
            for campaigns in (int(size) for size in args.sizes.split(",")):
                clock = FakeClock(datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc))
                url, engine = fresh_database(backend, args.pg, Path(tmp))
                started = time.perf_counter()
                seed(engine, clock, campaigns)
                print(json.dumps({"bench": "status_list", "part": "seed", "backend": backend, "campaigns": campaigns,
                                  "seconds": round(time.perf_counter() - started, 2)}), file=sys.stderr, flush=True)
                bench_service(engine, backend, campaigns)
                bench_slash(url, engine, clock, backend, campaigns, Path(tmp))
                drop_database(backend, url, engine, args.pg)


if __name__ == "__main__":
    main()
