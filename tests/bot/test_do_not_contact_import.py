"""A CSV for the do-not-contact list: read with the candidate reader's helpers (one address or domain
a row, first column, header optional), each bad line reported by number, and 10,000 lines added in a
handful of statements, not one per line."""
from __future__ import annotations

import random

from sqlalchemy import Engine, event, func, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import AuditEntry, DoNotContact, DoNotContactSource, Enrollment, EnrollmentStatus
from bot.runtime import Runtime
from bot.services import do_not_contact
from bot.services.campaigns import start_campaign
from bot.services.candidate_rows import first_cells
from tests import factories


def test_the_first_column_is_read_with_its_line_whatever_the_delimiter_or_encoding() -> None:
    cells, problems = first_cells("Email;Why\r\nana@acme.example;asked\r\n\r\n\"client.example\";x\r\n".encode("utf-16"))
    assert (cells, problems) == ([(1, "Email"), (2, "ana@acme.example"), (4, "client.example")], [])
    assert first_cells(b"PK\x03\x04binary")[1][0].message.startswith("this is not a CSV file")
    assert first_cells("")[1][0].message == "there are no rows: one address or domain a line"


def test_a_header_is_skipped_bad_lines_are_named_and_duplicates_kept_once(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        do_not_contact.add(session, organisation_id=rita.organisation_id, text="old@acme.example", reason="before",
                           source=DoNotContactSource.COMMAND, added_by=rita, clock=clock)
        cells, _ = first_cells("address\nold@acme.example\nnew@acme.example\nNEW@acme.example\nbad@\nacme\n")
        imported = do_not_contact.add_many(session, organisation_id=rita.organisation_id, cells=cells, reason="",
                                           added_by=rita, clock=clock)
        assert (imported.added, imported.already) == (1, 2)
        assert [p.line for p in imported.problems] == [5, 6]
        kept = session.scalar(select(DoNotContact).where(DoNotContact.value == "old@acme.example"))
        assert kept.reason == "before" and kept.source == DoNotContactSource.COMMAND  # type: ignore[union-attr]


def test_ten_thousand_lines_are_a_few_statements_and_end_who_they_cover(
        runtime: Runtime, clock: FakeClock, engine: Engine) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=3)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        org, rita_id = rita.organisation_id, rita.id
    lines = "address\n" + "".join(f"person{n}@list.example\n" for n in range(9_998)) + "ana1@home.example\nwork.example\n"
    cells, problems = first_cells(lines.encode())
    assert len(cells) == 10_001 and not problems
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with transaction(runtime.sessions, write=True) as session:
            imported = do_not_contact.add_many(session, organisation_id=org, cells=cells, reason="old tool",
                                               added_by=session.get(type(rita), rita_id), clock=clock)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert (imported.added, imported.already, imported.stopped, imported.problems) == (10_000, 0, 3, [])
    assert len(statements) < 40, f"{len(statements)} statements for 10,000 lines"
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(DoNotContact)) == 10_000
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "dnc.added")) \
            == 10_000
        assert set(session.scalars(select(Enrollment.status))) == {EnrollmentStatus.DO_NOT_CONTACT}
