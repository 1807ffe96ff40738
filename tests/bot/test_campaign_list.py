"""campaign_page: a page of the campaigns a person sees, newest first, counted by candidate status,
from two statements however many campaigns there are (filtered or not); offsets from buttons are clamped."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import Campaign, CampaignStatus, Enrollment, EnrollmentStatus, Mailbox, PauseReason, User
from bot.runtime import Runtime
from bot.services.campaign_list import CampaignPage, Show, campaign_page, read_show
from tests import factories


def _campaigns(runtime: Runtime, clock: FakeClock, count: int, *, slack_id: str = "U0RITA",
               candidates: int = 0) -> list[int]:
    """`count` campaigns of one recruiter, one second apart (the last is the newest)."""
    ids = []
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=slack_id)
        mailbox = session.scalar(select(Mailbox).where(Mailbox.owner_id == owner.id)) or factories.sandbox_mailbox(
            session, owner, clock, address=f"{slack_id.lower()}@acme.example")
        for n in range(count):
            clock.advance(timedelta(seconds=1))
            campaign = factories.campaign_with_candidates(session, owner, mailbox, clock, candidates=candidates)
            campaign.name = factories.free_name(session, Campaign, owner, f"{slack_id} {n:03d}")
            ids.append(campaign.id)
    return ids


def _page(runtime: Runtime, offset: int, limit: int = 20, slack_id: str = "U0RITA",
          show: Show | None = None) -> CampaignPage:
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User).where(User.slack_user_id == slack_id)).one()
        return campaign_page(session, user=user, offset=offset, limit=limit, show=show)


@contextmanager
def _selects(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_lists_the_persons_campaigns_newest_first_with_counts_by_status(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _campaigns(runtime, clock, 3, candidates=4)
    _campaigns(runtime, clock, 2, slack_id="U0OMAR")  # someone else's: never listed for Rita
    with transaction(runtime.sessions, write=True) as session:
        enrollments = session.scalars(select(Enrollment.id).where(Enrollment.campaign_id == ids[0])
                                      .order_by(Enrollment.id)).all()
        session.execute(update(Enrollment).where(Enrollment.id.in_(enrollments[:2])).values(
            status=EnrollmentStatus.REPLIED))
        session.execute(update(Enrollment).where(Enrollment.id == enrollments[2]).values(
            status=EnrollmentStatus.BOUNCED))
        oldest = session.get(Campaign, ids[0])
        assert oldest is not None
        oldest.status, oldest.pause_reason = CampaignStatus.PAUSED, PauseReason.NEEDS_RECONNECT
    page = _page(runtime, 0)
    assert [c.name for c in page.campaigns] == ["U0RITA 002", "U0RITA 001", "U0RITA 000"]
    assert (page.total, page.first, page.last, page.previous_offset, page.next_offset) == (3, 1, 3, None, None)
    oldest_summary = page.campaigns[-1]
    assert oldest_summary.counts == {EnrollmentStatus.REPLIED: 2, EnrollmentStatus.BOUNCED: 1,
                                     EnrollmentStatus.NOT_STARTED: 1}
    assert (oldest_summary.total, oldest_summary.status, oldest_summary.pause_reason) == (
        4, CampaignStatus.PAUSED, "its mailbox needs reconnecting")
    assert page.campaigns[0].counts == {EnrollmentStatus.NOT_STARTED: 4}


def test_pages_cover_every_campaign_once_and_offsets_from_buttons_are_clamped(
        runtime: Runtime, clock: FakeClock) -> None:
    _campaigns(runtime, clock, 57)
    pages = [_page(runtime, offset) for offset in (0, 20, 40)]
    assert [(p.first, p.last, p.total) for p in pages] == [(1, 20, 57), (21, 40, 57), (41, 57, 57)]
    assert [(p.previous_offset, p.next_offset) for p in pages] == [(None, 20), (0, 40), (20, None)]
    names = [c.name for p in pages for c in p.campaigns]
    assert sorted(names) == [f"U0RITA {n:03d}" for n in range(57)] and names[0] == "U0RITA 056"
    assert (_page(runtime, 10**30).first, _page(runtime, 57).first, _page(runtime, -5).first) == (41, 41, 1)
    assert _page(runtime, 0, limit=10**6).last == 40  # at most 40 to a page: a message holds 50 blocks


def test_a_page_costs_two_selects_whatever_the_number_of_campaigns(
        runtime: Runtime, clock: FakeClock, engine: Engine) -> None:
    _campaigns(runtime, clock, 5, candidates=2)
    with _selects(engine) as few:
        _page(runtime, 0)
    _campaigns(runtime, clock, 55, candidates=2)
    with transaction(runtime.sessions, write=True) as session:  # a third paused, a tenth archived
        ids = session.scalars(select(Campaign.id).order_by(Campaign.id)).all()
        session.execute(update(Campaign).where(Campaign.id.in_(ids[::3])).values(status=CampaignStatus.PAUSED))
        session.execute(update(Campaign).where(Campaign.id.in_(ids[1::10])).values(
            status=CampaignStatus.FINISHED, archived_at=clock.now()))
    with _selects(engine) as many:
        page = _page(runtime, 20)
    with _selects(engine) as filtered:
        paused = _page(runtime, 0, show="paused")
    assert page.total == 54 and len(page.campaigns) == 20
    assert paused.total == 20 - 2 and {c.status for c in paused.campaigns} == {CampaignStatus.PAUSED}
    user_lookup = 1
    assert len(few) == len(many) == len(filtered) == user_lookup + 2, many


def test_the_filter_keeps_one_status_or_the_archived_and_the_default_leaves_out_the_archived(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _campaigns(runtime, clock, 4)
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Campaign).where(Campaign.id.in_(ids[:2])).values(status=CampaignStatus.FINISHED))
        session.execute(update(Campaign).where(Campaign.id == ids[0]).values(archived_at=clock.now()))
    shown = {show: [c.name for c in _page(runtime, 0, show=show).campaigns]
             for show in (None, "draft", "finished", "archived", "active")}
    assert shown == {None: ["U0RITA 003", "U0RITA 002", "U0RITA 001"], "draft": ["U0RITA 003", "U0RITA 002"],
                     "finished": ["U0RITA 001"], "archived": ["U0RITA 000"], "active": []}
    assert _page(runtime, 0, show="archived").show == "archived"
    assert [read_show(w) for w in ("", " ALL ", "Paused", "archived")] == [None, None, "paused", "archived"]
    with pytest.raises(UserError, match="not a campaign status: use one of draft, scheduled"):
        read_show("closed")


def test_someone_without_campaigns_gets_an_empty_page(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        factories.recruiter(session, clock)
    page = _page(runtime, 40)
    assert (page.campaigns, page.total, page.first, page.last, page.next_offset) == ([], 0, 0, 0, None)
