"""The periodic job that deletes candidate rows nobody confirmed within a day: registered with the
scheduler under a stable id, and run on the runtime's clock."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import CandidateUpload
from bot.runtime import Runtime
from bot.services.candidate_rows import read_csv
from bot.services.candidate_uploads import UPLOAD_TTL, stage_upload
from bot.jobs import start_scheduler
from scheduling.timer import EXPIRED_UPLOADS_JOB_ID
from tests import factories


def test_the_scheduler_deletes_expired_uploads_on_the_runtimes_clock(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        stage_upload(session, campaign=None, user=rita, source="a.csv", clock=clock,
                     parsed=read_csv(b"name,email\nDee Eve,dee@acme.example\n", source="a.csv"))
    timer = start_scheduler(runtime, interval_seconds=3600)
    try:
        job = timer.scheduler.get_job(EXPIRED_UPLOADS_JOB_ID)
        assert job is not None and job.trigger.interval == timedelta(hours=1)
        timer.run_now(EXPIRED_UPLOADS_JOB_ID)
        with transaction(runtime.sessions) as session:
            assert len(session.scalars(select(CandidateUpload)).all()) == 1  # a day has not passed yet
        clock.advance(UPLOAD_TTL)
        timer.run_now(EXPIRED_UPLOADS_JOB_ID)
        with transaction(runtime.sessions) as session:
            assert session.scalars(select(CandidateUpload)).all() == []
    finally:
        timer.shutdown()
