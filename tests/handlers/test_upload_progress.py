"""Adding a confirmed upload through the local workspace, in chunks: the message with the Add button
turns into a progress message before any row is written, moves as chunks complete (at most once a
second by the runtime's clock, which a hook on each chunk advances), and ends with the summary; a run
that stops is resumed from its last chunk, nothing added twice or left out."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Message, Person
from bot.models import Campaign, Candidate, CandidateAddress, CandidateUpload, Enrollment, Mailbox, User
from bot.runtime import Runtime
from bot.services import candidate_rows, candidate_uploads
from bot.services.campaigns import create_campaign
from bot.services.sequences import StepDraft, create_sequence
from handlers.ids import Action
from handlers.upload_progress import ProgressMessage
from tests import factories
from tests.handlers.conftest import RITA

ROWS = 7
CSV = b"name,email,company\n" + b"".join(f"Dee{n} Eve,dee{n}@acme.example,Acme\n".encode() for n in range(ROWS))


@pytest.fixture
def campaign(runtime: Runtime, clock: FakeClock) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = session.scalar(select(Mailbox)) or factories.sandbox_mailbox(session, rita, clock)
        sequence = create_sequence(session, owner=rita, name="Backend engineers", clock=clock,
                                   steps=[StepDraft("Role at {{ company }}", "Hi {{ first_name }}")])
        return create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name="Backend Q4",
                               clock=clock).id


class Chunks:
    """Wraps the real confirm_chunk: notes what the person's message shows as each chunk starts,
    then runs it (or fails it, to stop the run there) and advances the clock by `step`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, rita: Person, message: Message,
                 step: timedelta) -> None:
        self.clock, self.rita, self.ts, self.step = clock, rita, message.ts, step
        self.seen: list[str] = []
        self.fail_at: int | None = None
        original: Callable[..., Any] = candidate_uploads.confirm_chunk

        def chunk(*args: Any, **kwargs: Any) -> Any:
            self.seen.append(self.shown().text)
            if self.fail_at == len(self.seen):
                raise RuntimeError("the database went away")
            result = original(*args, **kwargs)
            clock.advance(self.step)
            return result

        monkeypatch.setattr(candidate_uploads, "CHUNK_ROWS", 2)
        monkeypatch.setattr(candidate_uploads, "confirm_chunk", chunk)

    def shown(self) -> Message:
        return next(m for m in self.rita.dm_messages() if m.ts == self.ts)


def _share(rita: Person) -> Message:
    rita.upload("team.csv", CSV)
    return rita.dm_messages()[-1]


def _updates(workspace: LocalSlack, ts: str) -> list[str]:
    return [c.params.get("text", "") for c in workspace.calls if c.method == "chat.update" and c.params.get("ts") == ts]


def _rita(session: Session) -> User:
    return session.scalars(select(User).where(User.slack_user_id == RITA)).one()


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with transaction(runtime.sessions) as session:
        return (session.scalar(select(func.count()).select_from(Candidate)),
                session.scalar(select(func.count()).select_from(CandidateAddress)),
                session.scalar(select(func.count()).select_from(Enrollment)))  # type: ignore[return-value]


def test_progress_shows_before_the_first_chunk_moves_at_most_once_a_second_and_ends_with_the_summary(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, campaign: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    message = _share(rita)
    chunks = Chunks(monkeypatch, clock, rita, message, step=timedelta(milliseconds=600))
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=message).ok
    # 4 chunks of 2 rows; before the first one the message already said where it stood
    assert chunks.seen[0] == ":hourglass_flowing_sand: Adding 7 candidates to *Backend Q4*: 0 of 7 done…"
    assert len(chunks.seen) == 4
    # at 0 s, then 1.2 s (0.6 s after the first chunk is too soon), then the summary
    assert _updates(workspace, message.ts) == [
        "team.csv: 7 candidates ready",  # the "Reading team.csv…" message became the staged summary
        ":hourglass_flowing_sand: Adding 7 candidates to *Backend Q4*: 0 of 7 done…",
        ":hourglass_flowing_sand: Adding 7 candidates to *Backend Q4*: 4 of 7 done…",
        ":white_check_mark: Added 7 candidates to *Backend Q4*.",
    ]
    final = chunks.shown()
    assert final.text == ":white_check_mark: Added 7 candidates to *Backend Q4*." and final.blocks == []
    assert _counts(runtime) == (7, 7, 7)
    assert [c.error for c in workspace.calls if c.error] == []


def test_a_run_that_stops_says_how_far_it_got_and_resume_adds_the_rest_once(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, campaign: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    message = _share(rita)
    chunks = Chunks(monkeypatch, clock, rita, message, step=timedelta(seconds=2))
    chunks.fail_at = 3
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=message).ok
    stopped = chunks.shown()
    assert stopped.text.startswith(":warning: Something went wrong on our side (reference ")
    assert stopped.text.endswith("4 of 7 candidates were added to *Backend Q4* before it stopped.")
    assert _counts(runtime) == (4, 4, 4)  # two whole chunks, nothing of the third
    chunks.fail_at = None
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=stopped).ok  # Resume
    assert chunks.shown().text == ":white_check_mark: Added 7 candidates to *Backend Q4*."
    assert _counts(runtime) == (7, 7, 7)
    with transaction(runtime.sessions) as session:
        upload = session.scalars(select(CandidateUpload)).one()
        assert (upload.rows_done, upload.confirmed_at) == (7, clock.now() - timedelta(seconds=2))


def test_after_a_crash_resume_waits_for_the_lease_then_goes_on_from_the_last_chunk(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, campaign: int) -> None:
    message = _share(rita)
    with transaction(runtime.sessions, write=True) as session:  # a run that wrote one chunk, then died
        upload = session.scalars(select(CandidateUpload)).one()
        job = candidate_uploads.begin_confirm(session, upload_id=upload.id, user=_rita(session), clock=clock,
                                              campaign=session.get(Campaign, campaign))
    with transaction(runtime.sessions, write=True) as session:
        candidate_uploads.confirm_chunk(session, job=job, user=_rita(session), clock=clock, size=3)
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=message).ok
    (refusal,) = [e.text for e in rita.ephemerals()]
    assert refusal == (":warning: These rows are being added now (3 of 7 so far). If the message stops moving for "
                       "2 minutes, press Resume.")
    assert _counts(runtime) == (3, 3, 3)
    clock.advance(candidate_uploads.CONFIRM_LEASE)
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=message).ok
    assert next(m for m in rita.dm_messages() if m.ts == message.ts).text == (
        ":white_check_mark: Added 7 candidates to *Backend Q4*.")
    assert _counts(runtime) == (7, 7, 7)
    with transaction(runtime.sessions, write=True) as session:  # the dead run, were it only slow, writes no more
        with pytest.raises(candidate_uploads.ConfirmRunning):
            candidate_uploads.confirm_chunk(session, job=job, user=_rita(session), clock=clock)
    assert _counts(runtime) == (7, 7, 7)


def test_on_postgresql_the_tables_are_analyzed_once_the_last_chunk_is_in(
        rita: Person, runtime: Runtime, clock: FakeClock, campaign: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from bot.services import fresh_statistics

    with transaction(runtime.sessions) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite keeps no such statistics here")
        before = session.scalar(text("SELECT now()"))
    monkeypatch.setattr(fresh_statistics, "BULK_ROWS", ROWS)
    message = _share(rita)
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=message).ok
    with transaction(runtime.sessions) as session:
        analyzed = dict(session.execute(text("SELECT relname, last_analyze FROM pg_stat_user_tables "
                                             "WHERE schemaname = current_schema()")).all())
    assert all(analyzed[t] is not None and analyzed[t] >= before for t in fresh_statistics.TABLES)


def test_a_shared_file_shows_its_reading_then_becomes_the_summary(
        rita: Person, workspace: LocalSlack, clock: FakeClock, campaign: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17 §7: "Reading team.csv…" before the download, then the rows read (every PROGRESS_ROWS,
    at most once a second by the runtime's clock: a hook makes each report 0.6 s later), then the summary."""
    monkeypatch.setattr(candidate_rows, "PROGRESS_ROWS", 2)
    original = ProgressMessage.show

    def later(self: ProgressMessage, now: Any, *args: Any, **kwargs: Any) -> None:
        original(self, clock.advance(timedelta(milliseconds=600)), *args, **kwargs)

    monkeypatch.setattr(ProgressMessage, "show", later)
    message = _share(rita)
    assert next(c.params["text"] for c in workspace.calls if c.method == "chat.postMessage") == (
        ":hourglass_flowing_sand: Reading *team.csv*…")
    assert _updates(workspace, message.ts) == [
        ":hourglass_flowing_sand: Reading *team.csv*: 2 rows read…",  # 4 rows came 0.6 s later: too soon
        ":hourglass_flowing_sand: Reading *team.csv*: 6 rows read…",
        "team.csv: 7 candidates ready",
    ]
    assert "Add" in str(message.blocks)
