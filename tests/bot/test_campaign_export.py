"""The export's CSV (bot/services/campaign_export.py), on both databases: statuses and dates as
recorded, only the addresses the viewer may see, formula-looking cells defused, and 10,000
candidates in a fixed number of queries."""
from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

from sqlalchemy import event, insert, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    AddressKind, Candidate, CandidateAddress, Enrollment, EnrollmentStatus, InboundEvent, InboundKind, OutboundKind,
    OutboundMessage, OutboundStatus,
)
from bot.runtime import Runtime
from bot.services.campaign_export import export_campaign, safe_cell
from tests import factories


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_formula_cells_are_defused() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "Ana", "", None, 3)] == [
        "'=1+1", "'+SUM(A1)", "'-2", "'@cmd", "'\tx", "Ana", "", "", "3"]


def test_dates_statuses_and_addresses_as_the_viewer_may_see_them(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        omar = factories.recruiter(session, clock, slack_id="U0OMAR")
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=2)
        first, second = session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)
                                        .order_by(Enrollment.id)).all()
        first.candidate.name = "=HYPERLINK(\"http://evil.example\")"
        first.candidate.time_zone = "Europe/Berlin"
        session.add(CandidateAddress(candidate_id=second.candidate_id, address="secret@home.example",
                                     kind=AddressKind.PERSONAL, position=3, added_by_id=rita.id))
        sent_at = clock.now()
        sent = OutboundMessage(enrollment_id=second.id, kind=OutboundKind.CAMPAIGN, mailbox_id=mailbox.id,
                               step_position=1, to_address="ana1@work.example", message_id="<s1@test>",
                               status=OutboundStatus.SENT, due_at=sent_at, sent_at=sent_at, created_at=sent_at)
        session.add(sent)
        session.flush()
        session.add(InboundEvent(mailbox_id=mailbox.id, enrollment_id=second.id, outbound_message_id=sent.id,
                                 kind=InboundKind.REPLY, provider_message_id="r1",
                                 received_at=sent_at + timedelta(hours=3), created_at=sent_at))
        second.status, second.steps_sent = EnrollmentStatus.REPLIED, 1
        session.flush()
        as_rita = _rows(export_campaign(session, campaign, viewer_id=rita.id).content)
        as_omar = _rows(export_campaign(session, campaign, viewer_id=omar.id).content)
    by_name = {r["name"]: r for r in as_rita}
    assert set(by_name) == {"'=HYPERLINK(\"http://evil.example\")", "Ana Candidate1"}
    replied = by_name["Ana Candidate1"]
    assert replied["status"] == "Replied (ended)"
    assert replied["step 1 sent (UTC)"] == f"{sent_at:%Y-%m-%d %H:%M}"
    assert replied["replied (UTC)"] == f"{sent_at + timedelta(hours=3):%Y-%m-%d %H:%M}"
    assert replied["step 2 sent (UTC)"] == replied["bounced (UTC)"] == replied["out of office (UTC)"] == ""
    assert replied["addresses"] == "ana1@work.example; ana1@home.example; secret@home.example"
    assert by_name["'=HYPERLINK(\"http://evil.example\")"]["time zone"] == "Europe/Berlin"
    assert replied["time zone"] == "America/New_York"  # the campaign's
    assert [r["addresses"] for r in as_omar if r["name"] == "Ana Candidate1"] == ["ana1@work.example; ana1@home.example"]


def test_ten_thousand_candidates_export_in_a_fixed_number_of_queries(runtime: Runtime, clock: FakeClock) -> None:
    n = 10_000
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=0)
        now, base = clock.now(), 1_000_000
        session.execute(insert(Candidate), [dict(id=base + i, organisation_id=rita.organisation_id,
                                                 name=f"Person {i:05}", fields={}, created_at=now) for i in range(n)])
        session.execute(insert(CandidateAddress), [dict(candidate_id=base + i, address=f"p{i}@work.example",
                                                        kind=AddressKind.WORK, position=1) for i in range(n)])
        session.execute(insert(Enrollment), [dict(id=base + i, campaign_id=campaign.id, candidate_id=base + i,
                                                  status=EnrollmentStatus.IN_PROGRESS, steps_sent=1, created_at=now)
                                             for i in range(n)])
        session.execute(insert(OutboundMessage), [dict(enrollment_id=base + i, kind=OutboundKind.CAMPAIGN,
                                                       mailbox_id=mailbox.id, step_position=1,
                                                       to_address=f"p{i}@work.example", message_id=f"<{i}@t>",
                                                       status=OutboundStatus.SENT, due_at=now, sent_at=now,
                                                       created_at=now) for i in range(n)])
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        with transaction(runtime.sessions) as session:
            campaign = session.merge(campaign)
            started = time.perf_counter()
            built = export_campaign(session, campaign, viewer_id=rita.id)
            elapsed = time.perf_counter() - started
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)
    rows = _rows(built.content)
    assert built.rows == len(rows) == n and rows[0]["name"] == "Person 00000"
    assert all(r["step 1 sent (UTC)"] for r in rows)
    assert len(statements) <= 10, statements  # never one per candidate (5 reads, plus loading the campaign)
    print(f"export of {n} candidates: {elapsed:.2f} s, {len(statements)} queries, {len(built.content):,} bytes")
