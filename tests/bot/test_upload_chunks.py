"""A confirm written in chunks: each chunk records its progress with its rows, a run that stopped is
resumed from there under a new claim (the old one writes no more), a stopped confirm's rows still
expire a day after its last progress, and after a bulk confirm PostgreSQL's statistics are fresh."""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Campaign, Candidate, CandidateUpload, Enrollment, Mailbox, OutboundMessage, User
from bot.runtime import Runtime
from bot.services import candidate_uploads
from bot.services.campaigns import start_campaign
from bot.services.candidate_rows import read_csv
from bot.services.fresh_statistics import TABLES, BULK_ROWS, analyze_after_bulk_write
from tests import factories


def _csv(rows: int, who: str = "dee") -> bytes:
    return b"name,email,company\n" + b"".join(f"{who}{n} Eve,{who}{n}@acme.example,Acme\n".encode()
                                               for n in range(rows))


def _stage(runtime: Runtime, clock: FakeClock, rows: int, *, started: bool = False) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = session.scalar(select(Mailbox)) or factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=1 if started else 0)
        if started:
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return candidate_uploads.stage_upload(session, campaign=campaign, user=rita, source="a.csv", clock=clock,
                                              parsed=read_csv(_csv(rows), source="a.csv")).id


def _begin(runtime: Runtime, clock: FakeClock, upload_id: int) -> candidate_uploads.ConfirmJob:
    with transaction(runtime.sessions, write=True) as session:
        return candidate_uploads.begin_confirm(session, upload_id=upload_id, user=session.scalars(select(User)).one(),
                                               clock=clock)


def _chunk(runtime: Runtime, clock: FakeClock, job: candidate_uploads.ConfirmJob, size: int) -> None:
    with transaction(runtime.sessions, write=True) as session:
        candidate_uploads.confirm_chunk(session, job=job, user=session.scalars(select(User)).one(), clock=clock,
                                        rng=random.Random(2), size=size)


def _count(runtime: Runtime, model: type) -> int:
    with transaction(runtime.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_each_chunk_records_its_progress_and_the_last_confirms_the_upload(runtime: Runtime, clock: FakeClock) -> None:
    upload_id = _stage(runtime, clock, 5, started=True)
    job = _begin(runtime, clock, upload_id)
    for done in (2, 4, 5):
        _chunk(runtime, clock, job, 2)
        with transaction(runtime.sessions) as session:
            upload = session.get(CandidateUpload, upload_id)
            assert upload is not None
            assert (upload.rows_done, upload.confirmed_at is not None) == (done, done == 5)
            assert upload.counts == {"added": done, "merged_with_existing": 0, "already_enrolled": 0,
                                     "do_not_contact": 0, "held": 0}
        assert _count(runtime, Enrollment) == 1 + done
        assert _count(runtime, OutboundMessage) == 1 + done  # step 1 planned chunk by chunk, as at Start
    assert job.result.describe() == "Added 5 candidates"


def test_a_stopped_run_is_taken_over_after_the_lease_and_the_old_run_writes_no_more(
        runtime: Runtime, clock: FakeClock) -> None:
    upload_id = _stage(runtime, clock, 5)
    old = _begin(runtime, clock, upload_id)
    _chunk(runtime, clock, old, 2)
    with pytest.raises(candidate_uploads.ConfirmRunning, match=r"being added now \(2 of 5 so far\)"):
        _begin(runtime, clock, upload_id)  # still moving, as far as anyone can tell
    clock.advance(candidate_uploads.CONFIRM_LEASE)
    new = _begin(runtime, clock, upload_id)
    assert (new.done, new.result.added) == (2, 2)
    with pytest.raises(candidate_uploads.ConfirmRunning, match="Another run took over"):
        _chunk(runtime, clock, old, 2)
    _chunk(runtime, clock, new, 10)
    assert (_count(runtime, Candidate), _count(runtime, Enrollment)) == (5, 5)
    with pytest.raises(candidate_uploads.UserError, match="already added"):
        _begin(runtime, clock, upload_id)


def test_a_failed_chunk_writes_nothing_and_a_released_claim_resumes_at_once(runtime: Runtime, clock: FakeClock,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    upload_id = _stage(runtime, clock, 4)
    job = _begin(runtime, clock, upload_id)
    _chunk(runtime, clock, job, 2)
    original = candidate_uploads._Writer._insert_enrollments

    def fail(self: candidate_uploads._Writer, enrollments: dict[int, dict[str, str]]) -> list[int]:
        raise RuntimeError("the connection dropped")

    monkeypatch.setattr(candidate_uploads._Writer, "_insert_enrollments", fail)
    with pytest.raises(RuntimeError):
        _chunk(runtime, clock, job, 2)  # its candidates were inserted, then rolled back with the chunk
    monkeypatch.setattr(candidate_uploads._Writer, "_insert_enrollments", original)
    assert (_count(runtime, Candidate), _count(runtime, Enrollment)) == (2, 2)
    with transaction(runtime.sessions, write=True) as session:
        candidate_uploads.release_confirm(session, job=job, clock=clock)
    again = _begin(runtime, clock, upload_id)
    _chunk(runtime, clock, again, 10)
    assert (_count(runtime, Candidate), _count(runtime, Enrollment)) == (4, 4)
    assert again.result.describe() == "Added 4 candidates"


def test_a_stopped_confirms_rows_expire_a_day_after_its_last_progress(runtime: Runtime, clock: FakeClock) -> None:
    upload_id = _stage(runtime, clock, 3)
    clock.advance(timedelta(hours=20))
    job = _begin(runtime, clock, upload_id)
    _chunk(runtime, clock, job, 1)
    clock.advance(timedelta(hours=20))  # 40 hours after staging, 20 after the last progress
    with transaction(runtime.sessions, write=True) as session:
        assert candidate_uploads.delete_expired_uploads(session, clock=clock) == 0
    clock.advance(timedelta(hours=4))
    with pytest.raises(candidate_uploads.UploadExpired, match="1 of these were added before adding stopped"):
        _begin(runtime, clock, upload_id)
    with transaction(runtime.sessions, write=True) as session:
        assert candidate_uploads.delete_expired_uploads(session, clock=clock) == 1
    assert _count(runtime, Enrollment) == 1  # what was added stays


def test_analyze_runs_only_on_postgresql_only_for_bulk_writes_and_only_on_our_tables(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        assert analyze_after_bulk_write(session, rows=BULK_ROWS - 1) is False
        assert analyze_after_bulk_write(session, rows=BULK_ROWS) is postgres
        if postgres:
            with pytest.raises(ValueError, match="not a table of the bot"):
                analyze_after_bulk_write(session, ["pg_class; DROP TABLE users"])


def test_after_a_bulk_confirm_postgresql_has_analyzed_the_tables_it_wrote(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite keeps no such statistics here")
        before = session.scalar(text("SELECT now()"))
    upload_id = _stage(runtime, clock, BULK_ROWS, started=True)
    with transaction(runtime.sessions, write=True) as session:
        candidate_uploads.confirm_upload(session, upload_id=upload_id, user=session.scalars(select(User)).one(),
                                         clock=clock, rng=random.Random(3))
    with transaction(runtime.sessions) as session:
        analyzed = dict(session.execute(text(
            "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE schemaname = current_schema()")).all())
        planned = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass"))
    assert all(analyzed[table] is not None and analyzed[table] >= before for table in TABLES), analyzed
    assert planned == BULK_ROWS + 1  # the planner knows the rows are there
    assert _count(runtime, Campaign) == 1


def _analyzed_since(runtime: Runtime, before: object) -> dict[str, bool]:
    with transaction(runtime.sessions) as session:
        rows = session.execute(text("SELECT relname, last_analyze FROM pg_stat_user_tables "
                                    "WHERE schemaname = current_schema()")).all()
    return {name: when is not None and when >= before for name, when in rows if name in TABLES}


def test_the_campaign_import_analyzes_the_tables_it_wrote_on_postgresql(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.campaign_import import import_campaign
    from bot.services import fresh_statistics

    with transaction(runtime.sessions) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite keeps no such statistics here")
        before = session.scalar(text("SELECT now()"))
    monkeypatch.setattr(fresh_statistics, "BULK_ROWS", 1)  # the fixture file has a few candidates, not 500
    result = import_campaign(runtime, Path(__file__).parent / "fixtures" / "import" / "good.yaml", start=True)
    assert result.candidate_ids
    assert _analyzed_since(runtime, before) == {table: True for table in TABLES}
