"""Rules of engagement between teammates: a person is matched by any of their addresses across the
organisation; a teammate's live campaign or recent email is named with who and when, never an
address; warn lets them in, block holds them back at the confirm and at Start; the owner's override
is kept, audited and told to the teammate; and the check is a few statements whatever the rows."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    AddressKind,
    AuditEntry,
    DirectMessage,
    EngagementRule,
    Enrollment,
    EnrollmentStatus,
    Notification,
    Organisation,
    User,
)
from bot.runtime import Runtime
from bot.services import candidate_rows, candidate_uploads, engagement
from bot.services.campaigns import create_campaign, enroll, start_campaign
from bot.services.candidates import add_candidate
from bot.services.directory import Profile, ensure_user
from tests import factories


def _omar(session, clock: FakeClock) -> User:  # type: ignore[no-untyped-def]
    return ensure_user(session, slack_team_id="T0LOCAL", clock=clock,
                       profile=Profile("U0OMAR", name="Omar Other", email="omar@acme.example"))


def _world(runtime: Runtime, clock: FakeClock, *, rule: EngagementRule = EngagementRule.WARN) -> dict[str, int]:
    """Omar's started 'Backend Q4' with Ana Candidate0 (ana0@work, ana0@home); Rita's own draft 'Platform Q1'."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        omar = _omar(session, clock)
        session.get(Organisation, rita.organisation_id).engagement_rule = rule  # type: ignore[union-attr]
        theirs = factories.campaign_with_candidates(session, omar, factories.sandbox_mailbox(
            session, omar, clock, address="omar@acme.example"), clock)
        start_campaign(session, campaign=theirs, clock=clock, rng=random.Random(1))
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mine = create_campaign(session, owner=rita, sequence=theirs.sequence, mailbox=mailbox, name="Platform Q1",
                               clock=clock)
        return {"rita": rita.id, "omar": omar.id, "mine": mine.id, "theirs": theirs.id}


def _stage(runtime: Runtime, clock: FakeClock, ids: dict[str, int], csv: bytes) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = session.get(User, ids["rita"])
        campaign = session.get(engagement.Campaign, ids["mine"])
        parsed = candidate_rows.read_csv(csv, source="list.csv")
        return candidate_uploads.stage_upload(session, campaign=campaign, user=rita, parsed=parsed, source="list.csv",
                                              clock=clock).id


CSV = b"name,work email,personal email\nAna Elsewhere,ana.new@work.example,ana0@home.example\nBo New,bo@x.example,\n"


def test_a_teammates_candidate_is_named_with_who_and_when_by_any_of_their_addresses(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _world(runtime, clock)
    clock.advance(timedelta(days=3))
    upload_id = _stage(runtime, clock, ids, CSV)
    with transaction(runtime.sessions) as session:
        rita = session.get(User, ids["rita"])
        upload = session.get(candidate_uploads.CandidateUpload, upload_id)
        check = engagement.check_rows(session, user=rita, campaign=session.get(engagement.Campaign, ids["mine"]),
                                      rows=upload.rows, now=clock.now())
        (conflict,) = check.conflicts
        text = check.summary(clock.now())
    assert conflict.name == "Ana Elsewhere" and conflict.line == 2 and not check.held  # warn: none held
    assert conflict.describe(clock.now()) == "Ana Elsewhere is in Omar Other's 'Backend Q4' (scheduled)"
    assert "@" not in text  # never an address


def test_warn_lets_them_in_and_block_holds_them_back_until_the_owner_overrides(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _world(runtime, clock, rule=EngagementRule.BLOCK)
    upload_id = _stage(runtime, clock, ids, CSV)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.get(User, ids["rita"])
        with pytest.raises(UserError, match="Say why"):
            engagement.override_row(session, user=rita, upload_id=upload_id, line=2, reason="  ", clock=clock)
        engagement.override_row(session, user=rita, upload_id=upload_id, line=2, reason="Ana asked me directly",
                                clock=clock)
        result = candidate_uploads.confirm_upload(session, upload_id=upload_id, user=rita, clock=clock)
    assert (result.added, result.held) == (2, 0)
    again = _stage(runtime, clock, ids, b"name,email\nAna Twice,ana0@work.example\n")
    with transaction(runtime.sessions, write=True) as session:
        rita = session.get(User, ids["rita"])
        held = candidate_uploads.confirm_upload(session, upload_id=again, user=rita, clock=clock)
    assert (held.added, held.held) == (0, 1) and "1 held back" in held.describe()
    with transaction(runtime.sessions) as session:
        overrides = {e.candidate.name: e.engagement_override for e in session.scalars(
            select(Enrollment).where(Enrollment.campaign_id == ids["mine"]))}
        # the row merged with the candidate the organisation had (by ana0@home.example): one person
        assert overrides == {"Ana Candidate0": "Ana asked me directly", "Bo New": None}
        (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "engagement.overridden"))
        assert audit.detail["reason"] == "Ana asked me directly"
        (notice,) = session.scalars(select(Notification).where(Notification.kind == "engagement_override"))
        assert notice.user_id == ids["omar"]
        assert notice.text == ("Rita Recruiter is also contacting Ana Elsewhere in 'Platform Q1': "
                               "Ana asked me directly")


def test_start_holds_back_under_block_and_the_override_resumes_them(runtime: Runtime, clock: FakeClock) -> None:
    ids = _world(runtime, clock, rule=EngagementRule.BLOCK)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.get(User, ids["rita"])
        mine = session.get(engagement.Campaign, ids["mine"])
        # the same person as a row of Rita's own: two candidate rows, linked by ana0@home.example
        same = add_candidate(session, added_by=rita, name="Ana Mine", fields={"company": "Acme"}, clock=clock,
                             addresses=[("ana0@home.example", AddressKind.PERSONAL)])
        free = add_candidate(session, added_by=rita, name="Cy Free", fields={"company": "Acme"}, clock=clock,
                             addresses=[("cy@x.example", AddressKind.WORK)])
        enroll(session, campaign=mine, candidates=[same, free], clock=clock)
        planned = start_campaign(session, campaign=mine, clock=clock, rng=random.Random(2))
        assert planned == 1
        statuses = {e.candidate.name: (e.status, e.status_reason) for e in session.scalars(
            select(Enrollment).where(Enrollment.campaign_id == mine.id))}
        assert statuses["Ana Mine"] == (EnrollmentStatus.PAUSED, engagement.HELD)
        held = session.scalar(select(Enrollment).where(Enrollment.candidate_id == same.id))
        from bot.services.campaigns import resume_candidate
        with pytest.raises(UserError, match="override"):
            resume_candidate(session, enrollment=held, clock=clock, rng=random.Random(3))
        omar = session.get(User, ids["omar"])
        with pytest.raises(UserError, match="Only Rita Recruiter"):
            engagement.override_enrollment(session, user=omar, enrollment=held, reason="mine", clock=clock)
        engagement.override_enrollment(session, user=rita, enrollment=held, reason="referred", clock=clock)
        assert held.status == EnrollmentStatus.NOT_STARTED and held.engagement_override == "referred"


def test_a_teammates_recent_one_off_counts_within_the_days_only(runtime: Runtime, clock: FakeClock) -> None:
    ids = _world(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        omar = session.get(User, ids["omar"])
        mailbox_id = session.scalar(select(engagement.Campaign.mailbox_id).where(engagement.Campaign.id == ids["theirs"]))
        for address, days in (("dee@x.example", 3), ("old@x.example", 40)):
            session.add(DirectMessage(mailbox_id=mailbox_id, sender_id=omar.id, to_address=address,
                                      message_id=f"<{address}>", subject="Hi", sent_at=clock.now() - timedelta(days=days)))
    with transaction(runtime.sessions) as session:
        found = engagement.engaged(session, organisation_id=session.get(User, ids["rita"]).organisation_id,
                                   ours={ids["rita"]}, addresses=["dee@x.example", "old@x.example"],
                                   since=clock.now() - timedelta(days=30))
    assert list(found) == ["dee@x.example"]
    conflict = engagement.Conflict("Dee", found["dee@x.example"])
    assert conflict.describe(clock.now()) == "Dee is emailed by Omar Other 3 days ago"


def test_the_check_is_a_few_statements_whatever_the_number_of_rows(runtime: Runtime, clock: FakeClock) -> None:
    ids = _world(runtime, clock)
    rows = [{"line": n + 2, "name": f"P{n}", "addresses": [[f"p{n}@x.example", "work"], [f"p{n}@y.example", "other"]]}
            for n in range(3_000)] + [{"line": 9_999, "name": "Ana", "addresses": [["ana0@work.example", "work"]]}]
    statements: list[str] = []
    with transaction(runtime.sessions) as session:
        rita = session.get(User, ids["rita"])
        bind = session.connection()
        event.listen(bind, "before_cursor_execute", lambda *a: statements.append(a[2]))
        check = engagement.check_rows(session, user=rita, campaign=None, rows=rows, now=clock.now())
    assert [c.name for c in check.conflicts] == ["Ana"]
    assert len(statements) <= 8, statements
