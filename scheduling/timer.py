"""APScheduler as the local timer only: it wakes the dispatcher; who sends what is decided in the
database, so any number of processes can run this side by side."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

DISPATCH_JOB_ID = "outreach.dispatch"
NOTICES_JOB_ID = "outreach.notices"
CAMPAIGN_MESSAGES_JOB_ID = "outreach.campaign_messages"
SYNC_JOB_ID = "outreach.sync"
EXPIRED_UPLOADS_JOB_ID = "outreach.expired_uploads"


class Timer:
    def __init__(self, *, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        # One run of a job at a time; a run missed while the process was busy is run once, late,
        # never skipped (the grace is far wider than any interval) and never run twice (coalesce).
        self.scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC",
        )
        self._done = threading.Condition()
        self._runs: dict[str, int] = {}
        self._on_shutdown: list[Callable[[], object]] = []
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def every(self, job_id: str, func: Callable[[], object], *, seconds: float | None = None) -> None:
        """Run `func` every `seconds` (the timer's interval unless given)."""
        # A stable id with replace_existing=True: a restart never doubles a job.
        self.scheduler.add_job(func, "interval", seconds=seconds or self.interval_seconds, id=job_id,
                               replace_existing=True)

    def start(self) -> None:
        self.scheduler.start()

    def on_shutdown(self, func: Callable[[], object]) -> None:
        self._on_shutdown.append(func)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for func in self._on_shutdown:
            func()

    def run_now(self, job_id: str, timeout: float = 30.0) -> None:
        """Fire a job at once through the scheduler and wait for that run to finish (the demo's
        simulated clock uses this: days pass without waiting for the interval)."""
        with self._done:
            before = self._runs.get(job_id, 0)
        self.scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
        with self._done:
            if not self._done.wait_for(lambda: self._runs.get(job_id, 0) > before, timeout=timeout):
                raise TimeoutError(f"job {job_id} did not run within {timeout} s")

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            log.error("scheduled job %s failed", event.job_id, exc_info=event.exception)
        with self._done:
            self._runs[event.job_id] = self._runs.get(event.job_id, 0) + 1
            self._done.notify_all()
