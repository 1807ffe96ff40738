"""The Slack side at scale: how fast `outreach serve` acknowledges, against a bare Bolt app, in the same run.

One recruiter owns 50 campaigns, one of 10,000 candidates and one of 5,000 (both started: step 1
planned for each candidate), the rest of 10; rows are inserted in bulk, then the statistics are
refreshed as the bulk writers do (bot/services/fresh_statistics.py). The bot's own WSGI app
(bot.web.wsgi_app over build_app, process_before_response off, as `outreach serve` runs it in HTTP
mode) is served by waitress on a loopback port; its Web API calls go to the local Slack workspace
(its rate limits hold, their waits cost no real time: a SkipClock). A bare Bolt app with the same
signing secret, whose command, action and event listeners only ack, is served the same way in the
same process (which favours acks as `serve` does: bot.web.favour_acks). Bot and bare requests
alternate, each signed as Slack signs it and sent over HTTP; the ack time runs from sending it to the
HTTP response. Before the next request the listener's work after the ack is waited out (so one
request's work never slows the next one's ack); that time is kept too: when the person sees the answer.

For each action it prints one JSON line:
  {"bench": "slack_ack", "action", "backend", "p50_ms", "p99_ms", "bare_p99_ms", "ratio", "answer_p50_ms", ...}
ratio = p99_ms / bare_p99_ms (the target: at most 2); over_ack_window counts requests not answered
200 within Slack's 3 seconds. Then, on PostgreSQL, a "fresh_statistics" line per read
(bench/_fresh_statistics.py): status, when, the campaign message and the list of a 10,000-candidate
campaign right after a bulk insert, before ANALYZE, against the same after refresh_after_bulk_write.

Usage: python bench/slack.py [--samples 200] [--warmup 20] [--pg URL] [--backends sqlite,postgresql]
                             [--actions help,status_all,...]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt import App  # noqa: E402

from bench._databases import drop_database, fresh_database  # noqa: E402
from bench._recruiter import RITA, workspace_settings  # noqa: E402
from bench._slack_seed import BIG, seed  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.db import session_factory  # noqa: E402
from bot.local.slack import HttpTarget, LocalSlack, Person, SkipClock, TargetResponse  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from bot.services.fresh_statistics import refresh_after_bulk_write  # noqa: E402
from bot.slack_app import build_app  # noqa: E402
from bot.web import favour_acks, wsgi_app  # noqa: E402
from handlers.ids import Action  # noqa: E402


ACK_WINDOW = 3.0  # seconds Slack waits for an ack


# -- serving: waitress on a loopback port, as `outreach serve` does ---------------------------------
@contextmanager
def served(app: App) -> Iterator[str]:
    from waitress import create_server

    server = create_server(wsgi_app(app), host="127.0.0.1", port=0, threads=4)

    def run() -> None:
        try:
            server.run()
        except OSError:  # its socket closed under it: the bench is done with it
            pass
    threading.Thread(target=run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"  # type: ignore[union-attr]
    finally:
        logging.getLogger("waitress").setLevel(logging.CRITICAL)  # open keep-alive channels, closed at once
        server.close()


class Quiet:
    """Wraps the app's listener executor: counts what runs after the ack, so the bench can wait
    until the work of one request is done before sending the next."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.busy, self.cond = inner, 0, threading.Condition()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        with self.cond:
            self.busy += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self.cond:
                    self.busy -= 1
                    self.cond.notify_all()
        return self.inner.submit(run)

    def wait(self, timeout: float = 60.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.busy == 0, timeout=timeout):
                raise AssertionError("the work after the ack did not finish within a minute")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def quiet(app: App) -> Quiet:
    runner = app.listener_runner
    wrapped = Quiet(runner.listener_executor)  # type: ignore[attr-defined]
    runner.listener_executor = wrapped  # type: ignore[attr-defined]
    lazy = runner.lazy_listener_runner  # type: ignore[attr-defined]
    lazy.executor = wrapped  # lazy listeners run on the same executor
    return wrapped


class Timed(HttpTarget):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.last = 0.0

    def send(self, body: str, headers: dict[str, str]) -> TargetResponse:
        started = time.perf_counter()
        response = super().send(body, headers)
        self.last = time.perf_counter() - started
        return response


def bare_app(ws: LocalSlack) -> App:
    """The floor: the same signing secret, one listener of each kind, each only acks."""
    app = App(token=ws.bot_token, signing_secret=ws.signing_secret, process_before_response=False,
              token_verification_enabled=False, raise_error_for_unhandled_request=False)
    app.client.base_url = ws.api_url
    app.command("/outreach")(lambda ack: ack())
    app.action(re.compile(".*"))(lambda ack: ack())
    app.event("app_home_opened")(lambda ack: ack())
    return app


# -- the actions ------------------------------------------------------------------------------------
def actions(rita: Person) -> dict[str, Callable[[], Any]]:
    def page_click() -> Any:
        message = next(m for m in reversed(rita.dm_messages())
                       if any(e.get("action_id", "").startswith(Action.CAMPAIGN_PAGE.value)
                              for b in m.blocks if b.get("type") == "actions" for e in b.get("elements", [])))
        return rita.click(f"{Action.CAMPAIGN_PAGE.value}.next", in_message=message)

    return {
        "help": lambda: rita.slash("/outreach", "help"),
        "status_campaign": lambda: rita.slash("/outreach", f"status {BIG}"),
        "status_all": lambda: rita.slash("/outreach", "status"),
        "when": lambda: rita.slash("/outreach", f"when {BIG}"),
        "campaign_new": lambda: rita.slash("/outreach", "campaign new"),
        "page_click": page_click,
        "app_home_opened": lambda: rita.open_home(),
    }


class Samples:
    """One app's ack and answer times for one action, and how many requests Slack would have given
    up on (no 200 within 3 s: Bolt itself answers 404 when a listener has not acked by then)."""

    def __init__(self, run: Callable[[], Any], target: Timed, work: Quiet) -> None:
        self.run, self.target, self.work = run, target, work
        self.acks: list[float] = []
        self.answers: list[float] = []
        self.failed = 0

    def once(self) -> None:
        started = time.perf_counter()
        result = self.run()
        # a non-200, or an ack over Slack's 3 s by real time (Slack's clock skips the bot's 429 waits)
        self.failed += (result is not None and result.status != 200) or self.target.last > ACK_WINDOW
        self.work.wait()
        self.acks.append(self.target.last)
        self.answers.append(time.perf_counter() - started)


def sample(bot: Samples, bare: Samples, count: int) -> None:
    """Bot and bare requests alternate, so both meet the same moments of a shared machine."""
    for _ in range(count):
        bot.once()
        bare.once()


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def bench_acks(url: str, backend: str, samples: int, warmup: int, workdir: Path, only: list[str] | None) -> None:
    slack_time = SkipClock()  # Slack's rate limits hold; their waits (chat.update: 50 a minute) cost no real time
    with LocalSlack(monotonic=slack_time) as ws:
        ws.add_user(RITA, name="rita", real_name="Rita Recruiter", tz="UTC", email="rita@acme.example")
        settings = workspace_settings(ws, url, workdir)
        runtime = build_runtime(settings, clock=SystemClock(), rng=random.Random(1))
        bot = build_app(runtime, slack_sleep=slack_time.sleep)  # process_before_response off, as `serve` runs it
        favour_acks()  # as `serve` does
        bare = bare_app(ws)
        bot_work, bare_work = quiet(bot), quiet(bare)
        with served(bot) as bot_url, served(bare) as bare_url:
            bot_target, bare_target = Timed(bot_url), Timed(bare_url)
            rita_bot = Person(ws, RITA, bot_target)
            rita_bare = Person(ws, RITA, bare_target)
            bot_actions = actions(rita_bot)
            bot_actions["status_campaign"]()  # the owner's status posts the campaign message the click pages
            bot_work.wait()
            bare_actions = actions(rita_bare)  # the same requests: the bare app's click carries the same message
            for name, run in bot_actions.items():
                if only and name not in only:
                    continue
                sample(Samples(run, bot_target, bot_work), Samples(bare_actions[name], bare_target, bare_work), warmup)
                bot_samples = Samples(run, bot_target, bot_work)
                bare_samples = Samples(bare_actions[name], bare_target, bare_work)
                sample(bot_samples, bare_samples, samples)
                acks, answers, failed, bare_acks = (bot_samples.acks, bot_samples.answers, bot_samples.failed,
                                                    bare_samples.acks)
                p99, bare_p99 = percentile(acks, 99), percentile(bare_acks, 99)
                print(json.dumps({
                    "bench": "slack_ack", "action": name, "backend": backend,
                    "p50_ms": round(percentile(acks, 50) * 1000, 1), "p99_ms": round(p99 * 1000, 1),
                    "bare_p99_ms": round(bare_p99 * 1000, 1), "ratio": round(p99 / bare_p99, 2),
                    "bare_p50_ms": round(percentile(bare_acks, 50) * 1000, 1),
                    "answer_p50_ms": round(percentile(answers, 50) * 1000, 1),
                    "answer_p99_ms": round(percentile(answers, 99) * 1000, 1), "samples": samples,
                    "over_ack_window": failed}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--pg", default=os.environ.get("OUTREACH_TEST_DATABASE_URL"))
    parser.add_argument("--backends", default=None, help="sqlite,postgresql (default: both when --pg is known)")
    parser.add_argument("--actions", default=None, help="only these, e.g. status_all,page_click")
    args = parser.parse_args()
    backends = args.backends.split(",") if args.backends else ["sqlite"] + (["postgresql"] if args.pg else [])
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        for backend in backends:
            url, engine = fresh_database(backend, args.pg, Path(tmp))
            started = time.perf_counter()
            seed(engine)
            refresh_after_bulk_write(session_factory(engine), rows=10_000)  # as the bulk writers do after a write
            print(json.dumps({"bench": "slack_ack", "part": "seed", "backend": backend,
                              "seconds": round(time.perf_counter() - started, 2)}), file=sys.stderr, flush=True)
            bench_acks(url, backend, args.samples, args.warmup, Path(tmp),
                       args.actions.split(",") if args.actions else None)
            drop_database(backend, url, engine, args.pg)
        if args.pg and "postgresql" in backends:
            from bench._fresh_statistics import bench_fresh_statistics

            bench_fresh_statistics(args.pg, Path(tmp))


if __name__ == "__main__":
    main()
