"""Staged candidate rows wait a day: until then they can be confirmed; from then on confirming is
refused as expired, and the periodic job deletes them. Confirmed uploads are never deleted."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import CandidateUpload, Enrollment, Mailbox, User
from bot.runtime import Runtime
from bot.services.candidate_rows import read_csv
from bot.services.candidate_uploads import (
    UPLOAD_TTL,
    UploadExpired,
    confirm_upload,
    delete_expired_uploads,
    stage_upload,
)
from tests import factories

CSV = b"name,email\nDee Eve,dee@acme.example\n"


def _stage(runtime: Runtime, clock: FakeClock) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = session.scalar(select(Mailbox)) or factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=0)
        return stage_upload(session, campaign=campaign, user=rita, parsed=read_csv(CSV, source="a.csv"),
                            source="a.csv", clock=clock).id


def _confirm(runtime: Runtime, clock: FakeClock, upload_id: int) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalars(select(User)).one()
        confirm_upload(session, upload_id=upload_id, user=rita, clock=clock, rng=random.Random(1))


def _delete(runtime: Runtime, clock: FakeClock) -> int:
    with transaction(runtime.sessions, write=True) as session:
        return delete_expired_uploads(session, clock=clock)


def _uploads(runtime: Runtime) -> list[int]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(CandidateUpload.id).order_by(CandidateUpload.id)))


def test_rows_can_be_confirmed_until_a_day_has_passed_then_are_refused_as_expired(
        runtime: Runtime, clock: FakeClock) -> None:
    early, late = _stage(runtime, clock), _stage(runtime, clock)
    clock.advance(UPLOAD_TTL - timedelta(seconds=1))
    _confirm(runtime, clock, early)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(UploadExpired, match="This upload expired.*Share the file again"):
        _confirm(runtime, clock, late)
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(Enrollment)).all()) == 1


def test_the_job_deletes_only_unconfirmed_rows_older_than_a_day(runtime: Runtime, clock: FakeClock) -> None:
    confirmed, waiting = _stage(runtime, clock), _stage(runtime, clock)
    _confirm(runtime, clock, confirmed)
    clock.advance(timedelta(hours=12))
    younger = _stage(runtime, clock)
    clock.advance(timedelta(hours=12) - timedelta(seconds=1))
    assert _delete(runtime, clock) == 0
    clock.advance(timedelta(seconds=1))
    assert _delete(runtime, clock) == 1
    assert _uploads(runtime) == [confirmed, younger]
    clock.advance(timedelta(hours=12))
    assert _delete(runtime, clock) == 1
    assert _uploads(runtime) == [confirmed]
    assert waiting not in _uploads(runtime)
