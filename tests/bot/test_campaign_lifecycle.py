"""bot.services.campaign_lifecycle (issue 17 §1): archive a finished campaign, delete a draft, remove a
candidate. Real database (SQLite, and PostgreSQL when configured), real dispatcher for the sends."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    Campaign,
    CampaignShare,
    CampaignStatus,
    Candidate,
    CandidateUpload,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    OutboundMessage,
    OutboundStatus,
    ShareLevel,
    User,
)
from bot.runtime import Runtime
from bot.services import access, campaign_lifecycle, candidate_rows, candidate_uploads
from bot.services.campaign_list import campaign_page
from bot.services.campaigns import create_campaign, pause_campaign, start_campaign
from bot.services.directory import Profile, ensure_user
from providers.base import InboundKind
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.scheduling.interleave import started_campaign

O = OutboundMessage


def _running(runtime: Runtime, clock: FakeClock, candidates: int = 2) -> int:
    """Rita's two-step campaign, started, step 1 sent to everyone. Returns its id."""
    campaign_id = started_campaign(runtime, clock, candidates=candidates)
    assert _dispatch(runtime, clock) == candidates
    return campaign_id


def _dispatch(runtime: Runtime, clock: FakeClock) -> int:
    return Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                      rng=random.Random(2), worker_id="w1").run_until_idle().sent


def _as(session, slack_id: str, campaign_id: int, need: access.Need = access.Need.SEE) -> access.Access:  # type: ignore[no-untyped-def]
    user = session.scalars(select(User).where(User.slack_user_id == slack_id)).one()
    return access.campaign(session, user=user, campaign_id=campaign_id, need=need)


def _enrollments(session, campaign_id: int) -> list[Enrollment]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign_id).order_by(Enrollment.id)))


def test_removing_a_candidate_cancels_their_planned_sends_and_keeps_their_history(
        runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _running(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        first, second = _enrollments(session, campaign_id)
        session.add(InboundEvent(mailbox_id=session.get(Campaign, campaign_id).mailbox_id,  # type: ignore[union-attr]
                                 kind=InboundKind.AUTO_REPLY, enrollment_id=first.id, provider_message_id="ooo-1",
                                 from_address="ana0@work.example", subject="Away", received_at=clock.now(),
                                 created_at=clock.now()))
        session.flush()
        cancelled = campaign_lifecycle.remove_candidate(session, access=_as(session, "U0RITA", campaign_id),
                                                        enrollment=first, clock=clock)
        first_id, second_id = first.id, second.id
    assert cancelled == 1  # step 2 was planned
    with transaction(runtime.sessions) as session:
        removed = session.get(Enrollment, first_id)
        assert removed is not None and removed.status == EnrollmentStatus.REMOVED and removed.ended_at == clock.now()
        assert dict(session.execute(select(O.step_position, O.status).where(O.enrollment_id == first_id)).all()) == {
            1: OutboundStatus.SENT, 2: OutboundStatus.CANCELLED}  # what was sent stays
        assert session.scalar(select(func.count()).select_from(InboundEvent)) == 1  # and what they answered
        assert session.scalar(select(func.count()).select_from(Candidate)) == 2  # the candidate stays
        assert session.get(Campaign, campaign_id).status == CampaignStatus.ACTIVE  # type: ignore[union-attr]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.candidate_removed")).one()
        assert (audit.actor, audit.subject_id, audit.detail["enrollment"], audit.detail["cancelled"]) == (
            "U0RITA", campaign_id, first_id, 1)
        view = campaign_page(session, user=session.scalars(select(User)).one(), offset=0).campaigns[0]
        assert view.counts == {EnrollmentStatus.REMOVED: 1, EnrollmentStatus.IN_PROGRESS: 1}
    clock.advance(timedelta(days=5))
    assert _dispatch(runtime, clock) == 1  # step 2 to the one left only
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(O).where(
            O.enrollment_id == second_id, O.status == OutboundStatus.SENT)) == 2


def test_removing_the_last_open_candidate_finishes_a_running_campaign(runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _running(runtime, clock, candidates=1)
    with transaction(runtime.sessions, write=True) as session:
        [only] = _enrollments(session, campaign_id)
        campaign_lifecycle.remove_candidate(session, access=_as(session, "U0RITA", campaign_id), enrollment=only,
                                            clock=clock)
    with transaction(runtime.sessions, write=True) as session:
        assert session.get(Campaign, campaign_id).status == CampaignStatus.FINISHED  # type: ignore[union-attr]
        [only] = _enrollments(session, campaign_id)
        with pytest.raises(UserError, match="has ended already"):  # removed twice: nothing to do
            campaign_lifecycle.remove_candidate(session, access=_as(session, "U0RITA", campaign_id),
                                                enrollment=only, clock=clock)


def test_a_view_share_may_not_remove_and_an_edit_share_may(runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _running(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalars(select(User)).one()
        for slack_id, level in (("U0VERA", ShareLevel.VIEW), ("U0EDDA", ShareLevel.EDIT)):
            teammate = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(slack_id, name=slack_id))
            session.add(CampaignShare(campaign_id=campaign_id, user_id=teammate.id, level=level, shared_by_id=rita.id,
                                      created_at=clock.now()))
    with transaction(runtime.sessions, write=True) as session:
        first, second = _enrollments(session, campaign_id)
        with pytest.raises(UserError, match="edit"):
            campaign_lifecycle.remove_candidate(session, access=_as(session, "U0VERA", campaign_id), enrollment=first,
                                                clock=clock)
        campaign_lifecycle.remove_candidate(session, access=_as(session, "U0EDDA", campaign_id), enrollment=second,
                                            clock=clock)
        assert second.status == EnrollmentStatus.REMOVED and first.status == EnrollmentStatus.IN_PROGRESS


def test_archive_takes_a_finished_campaign_out_of_lists_and_name_lookups_keeping_it(
        runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _running(runtime, clock, candidates=1)
    with transaction(runtime.sessions, write=True) as session:
        with pytest.raises(UserError, match="still running: archive it when it finishes"):
            campaign_lifecycle.archive(session, access=_as(session, "U0RITA", campaign_id), clock=clock)
        pause_campaign(session, campaign=session.get(Campaign, campaign_id), clock=clock)  # type: ignore[arg-type]
    with transaction(runtime.sessions, write=True) as session:
        with pytest.raises(UserError, match="paused, not finished"):
            campaign_lifecycle.archive(session, access=_as(session, "U0RITA", campaign_id), clock=clock)
    with transaction(runtime.sessions, write=True) as session:
        session.get(Campaign, campaign_id).status = CampaignStatus.FINISHED  # type: ignore[union-attr]
    with transaction(runtime.sessions, write=True) as session:
        name = session.get(Campaign, campaign_id).name  # type: ignore[union-attr]
        campaign_lifecycle.archive(session, access=_as(session, "U0RITA", campaign_id), clock=clock)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalars(select(User)).one()
        assert session.get(Campaign, campaign_id).archived_at == clock.now()  # type: ignore[union-attr]
        with pytest.raises(NotFound):
            access.find(session, user=rita, name=name)  # by name it is gone: the name is free again
        assert access.find(session, user=rita, name=str(campaign_id)).campaign.id == campaign_id  # by number, kept
        assert access.visible_campaigns(session, rita) == []  # the Home tab
        assert campaign_page(session, user=rita, offset=0).total == 0
        assert [c.id for c in campaign_page(session, user=rita, offset=0, show="archived").campaigns] == [campaign_id]
        assert campaign_page(session, user=rita, offset=0, show="archived").campaigns[0].archived
        assert session.scalar(select(func.count()).select_from(O).where(O.status == OutboundStatus.SENT)) == 1
        assert session.scalars(select(AuditEntry.action)).all() == ["campaign.archived"]
        again = create_campaign(session, owner=rita, sequence=session.get(Campaign, campaign_id).sequence,  # type: ignore[union-attr]
                                mailbox=session.get(Campaign, campaign_id).mailbox, name=name.upper(), clock=clock)  # type: ignore[union-attr]
        assert access.find(session, user=rita, name=name).campaign.id == again.id
        with pytest.raises(UserError, match="archived already"):
            campaign_lifecycle.archive(session, access=_as(session, "U0RITA", campaign_id), clock=clock)


def test_only_the_owner_archives_or_deletes(runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _running(runtime, clock, candidates=1)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalars(select(User)).one()
        session.get(Campaign, campaign_id).status = CampaignStatus.FINISHED  # type: ignore[union-attr]
        edda = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile("U0EDDA", name="Edda"))
        session.add(CampaignShare(campaign_id=campaign_id, user_id=edda.id, level=ShareLevel.EDIT,
                                  shared_by_id=rita.id, created_at=clock.now()))
    with transaction(runtime.sessions, write=True) as session:
        with pytest.raises(UserError, match="can archive it"):
            campaign_lifecycle.archive(session, access=_as(session, "U0EDDA", campaign_id), clock=clock)
        with pytest.raises(UserError, match="can delete it"):
            campaign_lifecycle.delete_draft(session, access=_as(session, "U0EDDA", campaign_id), clock=clock)
        assert session.get(Campaign, campaign_id).archived_at is None  # type: ignore[union-attr]


def test_deleting_a_draft_deletes_its_enrollments_and_staged_uploads_and_keeps_the_candidates(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        draft = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=3)
        draft.status_channel, draft.status_ts = "D0RITA", "1700000000.000100"
        candidate_uploads.stage_upload(session, campaign=draft, user=rita, source="pasted rows", clock=clock,
                                       parsed=candidate_rows.read_pasted("name\temail\nYan Row\tyan@corp.example\n"))
        started = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=started, clock=clock, rng=random.Random(1))
        draft_id, started_id = draft.id, started.id
    with transaction(runtime.sessions, write=True) as session:
        with pytest.raises(UserError, match="archive it when it finishes"):
            campaign_lifecycle.delete_draft(session, access=_as(session, "U0RITA", started_id), clock=clock)
        deleted = campaign_lifecycle.delete_draft(session, access=_as(session, "U0RITA", draft_id), clock=clock)
    assert (deleted.candidates, deleted.channel, deleted.ts) == (3, "D0RITA", "1700000000.000100")
    with transaction(runtime.sessions) as session:
        assert session.get(Campaign, draft_id) is None and session.get(Campaign, started_id) is not None
        assert session.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.campaign_id == draft_id)) == 0
        assert session.scalar(select(func.count()).select_from(CandidateUpload)) == 0
        assert session.scalar(select(func.count()).select_from(Candidate)) == 4  # everyone stays
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.deleted")).one()
        assert (audit.subject_id, audit.detail["candidates"]) == (draft_id, 3)


def test_remove_by_name_reads_names_of_several_words(runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _running(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalars(select(User)).one()
        name = session.get(Campaign, campaign_id).name  # type: ignore[union-attr]
        seen, enrollment = campaign_lifecycle.find_candidate(
            session, user=rita, words=f"{name.lower()} ANA candidate1".split())
        assert (seen.campaign.id, enrollment.candidate.name) == (campaign_id, "Ana Candidate1")
        with pytest.raises(UserError, match="No candidate found"):
            campaign_lifecycle.find_candidate(session, user=rita, words=f"{name} Nobody Here".split())
        with pytest.raises(UserError, match="then the candidate"):
            campaign_lifecycle.find_candidate(session, user=rita, words=[name])


def test_a_candidate_removed_from_a_draft_leaves_its_list_and_start_plans_nothing_for_them(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        draft = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                   clock, candidates=2)
        draft_id = draft.id
    with transaction(runtime.sessions, write=True) as session:
        first, _ = _enrollments(session, draft_id)
        assert campaign_lifecycle.remove_candidate(session, access=_as(session, "U0RITA", draft_id), enrollment=first,
                                                   clock=clock) == 0
    with transaction(runtime.sessions, write=True) as session:
        assert len(_enrollments(session, draft_id)) == 1 and session.scalar(select(func.count()).select_from(Candidate)) == 2
        assert start_campaign(session, campaign=session.get(Campaign, draft_id), clock=clock,  # type: ignore[arg-type]
                              rng=random.Random(1)) == 1
        assert session.scalars(select(AuditEntry.action)).all() == ["campaign.candidate_removed"]
