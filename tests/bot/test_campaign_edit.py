"""Editing a running campaign re-plans its unsent steps by the when-to-send rules (SPEC "When to
send"), spread as a Start spreads them; rows a worker holds, and sent ones, never move. An
organisation holiday re-plans the same way. On PostgreSQL, a re-plan meeting a claim in either
order neither moves nor doubles the claimed row."""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import Campaign, Enrollment, OutboundMessage, OutboundStatus, SendPreference, User
from bot.runtime import Runtime
from bot.services import access
from bot.services.campaign_edit import CampaignEdit, edit_campaign
from bot.services.campaigns import preview_plan, start_campaign
from bot.services.holidays import change_holidays, parse_dates
from bot.services.sequences import StepDraft
from scheduling import claims
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.scheduling.test_reply_race import _first_holds_second_waits

O = OutboundMessage
NY = ZoneInfo("America/New_York")
THURSDAY = datetime(2026, 11, 26, 13, 30, tzinfo=timezone.utc)  # 08:30 in New York
STEPS = [StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
         StepDraft("Following up", "Any thoughts?", delay_days=2),
         StepDraft("Last note", "Closing the loop", delay_days=2)]
PEOPLE = 120


def _edit(campaign: Campaign, **changes: object) -> CampaignEdit:
    settings = dict(name=campaign.name, preference=campaign.send_preference, specific_time=campaign.specific_time,
                    timezone=campaign.timezone, send_days=campaign.send_days,
                    holidays=tuple(date.fromisoformat(d) for d in campaign.holidays or []),
                    email_preference=campaign.email_preference, strict_preference=campaign.strict_preference,
                    alert_channel_id=campaign.alert_channel_id, same_thread=campaign.same_thread)
    return CampaignEdit(**{**settings, **changes})  # type: ignore[arg-type]


def _apply(runtime: Runtime, clock: FakeClock, **changes: object) -> int:
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.scalar(select(Campaign))
        seen = access.check(session, user=campaign.owner, campaign=campaign, need=access.Need.CHANGE)
        return edit_campaign(session, access=seen, edit=_edit(campaign, **changes), now=clock.now(),
                             rng=random.Random(11)).moved


def _running_on_all_days(runtime: Runtime, clock: FakeClock, people: int = PEOPLE) -> None:
    """Started Thursday 08:30 in New York, every step 1 sent Thursday; step 2 is planned for Saturday."""
    clock.set(THURSDAY)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mailbox.min_spacing_seconds, mailbox.daily_cap, mailbox.max_in_flight = 0, 10_000, 1_000
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=people, steps=STEPS)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    clock.advance(timedelta(minutes=45))
    assert Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                      rng=random.Random(2), worker_id="w1").run_until_idle().sent == people


def _pending(session: Session) -> list[OutboundMessage]:
    return list(session.scalars(select(O).where(O.status == OutboundStatus.PENDING).order_by(O.id)))


def test_a_running_campaign_edited_to_weekdays_moves_weekend_sends_to_monday_spread_and_leaves_claimed_ones(
        runtime: Runtime, clock: FakeClock) -> None:
    _running_on_all_days(runtime, clock)
    with transaction(runtime.sessions) as session:
        assert {r.due_at.astimezone(NY).weekday() for r in _pending(session)} == {5}  # all on Saturday
    clock.set(datetime(2026, 11, 28, 14, 5, tzinfo=timezone.utc))  # Saturday 09:05: step 2 is going out
    with transaction(runtime.sessions, write=True) as session:
        claimed = claims.claim(session, now=clock.now(), worker_id="w-held", lease=timedelta(minutes=5),
                               max_rows=5, max_mailboxes=10)
    held = {row_id: None for ids in claimed.rows.values() for row_id in ids}
    assert 1 <= len(held) <= 5
    with transaction(runtime.sessions) as session:
        held = {row_id: session.get(O, row_id).due_at for row_id in held}  # type: ignore[union-attr]

    moved = _apply(runtime, clock, send_days="01234")

    assert moved == PEOPLE - len(held)
    with transaction(runtime.sessions) as session:
        for row_id, due in held.items():  # claimed by a worker: untouched
            row = session.get(O, row_id)
            assert row.status == OutboundStatus.SENDING and row.claimed_by == "w-held" and row.due_at == due  # type: ignore[union-attr]
        pending = _pending(session)
        assert len(pending) == PEOPLE - len(held)
        anchors = dict(session.execute(select(Enrollment.id, Enrollment.first_send_local)).all())
        for row in pending:  # Monday, within the window of the candidate's own time of day (their anchor)
            local = row.due_at.astimezone(NY)
            centre = datetime.combine(date(2026, 11, 30), anchors[row.enrollment_id], tzinfo=NY)
            assert local.date() == date(2026, 11, 30)
            assert abs(local - centre) <= timedelta(minutes=20, seconds=1)
            assert row.window_start <= row.due_at <= row.window_end  # type: ignore[operator]
        per_minute = Counter(row.due_at.replace(second=0, microsecond=0) for row in pending)
        assert max(per_minute.values()) <= 12, per_minute.most_common(3)  # about 2 a minute, never a burst
        assert len({row.due_at for row in pending}) > PEOPLE * 0.9
        sent = session.scalars(select(O).where(O.status == OutboundStatus.SENT)).all()
        assert len(sent) == PEOPLE and all(r.due_at.astimezone(NY).weekday() == 3 for r in sent)


def test_an_edit_that_keeps_the_timing_moves_nothing(runtime: Runtime, clock: FakeClock) -> None:
    _running_on_all_days(runtime, clock, people=5)
    with transaction(runtime.sessions) as session:
        before = {r.id: r.due_at for r in _pending(session)}
    assert _apply(runtime, clock, name="Backend Q4 renamed", same_thread=True) == 0
    assert _apply(runtime, clock, send_days="0123456") == 0  # the same days: no row's window changes
    with transaction(runtime.sessions) as session:
        assert {r.id: r.due_at for r in _pending(session)} == before
        assert session.scalar(select(Campaign.name)) == "Backend Q4 renamed"


def test_a_new_specific_time_moves_unsent_first_emails_to_it_and_never_inside_the_grace(
        runtime: Runtime, clock: FakeClock) -> None:
    clock.set(THURSDAY)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=30, steps=STEPS)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    clock.advance(timedelta(minutes=5))
    assert _apply(runtime, clock, preference=SendPreference.SPECIFIC, specific_time=time(14, 0)) == 30
    with transaction(runtime.sessions) as session:
        for row in _pending(session):
            local = row.due_at.astimezone(NY)
            assert local.date() == date(2026, 11, 26) and time(14, 0) <= local.time() <= time(14, 20)
    clock.advance(timedelta(minutes=5))  # 08:40: 08:55 today would be inside the 20 minutes' grace
    assert _apply(runtime, clock, specific_time=time(8, 55)) == 30
    with transaction(runtime.sessions) as session:
        for row in _pending(session):  # so the first day where 08:55 is 20 minutes away: tomorrow
            local = row.due_at.astimezone(NY)
            assert local.date() == date(2026, 11, 27) and time(8, 55) <= local.time() <= time(9, 15)


def test_a_new_preference_readdresses_unsent_first_emails(runtime: Runtime, clock: FakeClock) -> None:
    from bot.models import AddressKind

    clock.set(THURSDAY)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=3)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    _apply(runtime, clock, email_preference=AddressKind.PERSONAL)
    with transaction(runtime.sessions) as session:
        assert sorted(r.to_address for r in _pending(session)) == [f"ana{n}@home.example" for n in range(3)]


def test_follow_ups_leave_the_thread_and_come_back_to_it(runtime: Runtime, clock: FakeClock) -> None:
    _running_on_all_days(runtime, clock, people=2)
    _apply(runtime, clock, same_thread=False)
    with transaction(runtime.sessions) as session:
        assert all(r.in_reply_to is None and r.references is None for r in _pending(session))
    _apply(runtime, clock, same_thread=True)
    with transaction(runtime.sessions) as session:
        first = dict(session.execute(select(O.enrollment_id, O.message_id).where(O.step_position == 1)).all())
        assert all(r.in_reply_to == first[r.enrollment_id] for r in _pending(session))


def test_a_drafts_preview_follows_the_edit(runtime: Runtime, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc))  # Friday 17:00 in New York
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock), clock,
                                           steps=STEPS)
    assert _apply(runtime, clock, send_days="01234", holidays=(date(2026, 11, 30),)) == 0
    with transaction(runtime.sessions) as session:
        campaign = session.scalar(select(Campaign))
        plan = preview_plan(session, campaign, now=clock.now(), rng=random.Random(3))
        days = [step.send_at.astimezone(NY).date() for step in plan]
    # Friday 17:20, then two days later (Sunday) moves to the next send day: Monday is a holiday, so Tuesday
    assert days == [date(2026, 11, 27), date(2026, 12, 1), date(2026, 12, 3)]


def test_a_taken_name_and_a_bad_time_zone_are_refused_on_their_fields(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        factories.campaign_with_candidates(session, rita, mailbox, clock)
        factories.campaign_with_candidates(session, rita, mailbox, clock)  # "Backend Q4 (2)"
    with pytest.raises(UserError) as refused:
        _apply(runtime, clock, name="backend q4 (2)")
    assert refused.value.field == "name" and "already have a campaign" in refused.value.message
    with pytest.raises(UserError) as refused:
        _apply(runtime, clock, timezone="Mars/Olympus")
    assert refused.value.field == "timezone"


def test_holiday_dates_are_read_and_a_bad_one_is_named() -> None:
    assert parse_dates("2026-12-25, 2026-12-24,\n2026-12-25") == [date(2026, 12, 24), date(2026, 12, 25)]
    assert parse_dates("  ") == []
    with pytest.raises(UserError) as refused:
        parse_dates("2026-12-24, 24/12/2026")
    assert refused.value.field == "holidays" and "'24/12/2026' is not a date" in refused.value.message
    with pytest.raises(UserError, match="'2026-02-30' is not a date"):
        parse_dates("2026-02-30")


def test_an_organisation_holiday_moves_the_sends_on_it_and_only_admins_set_it(runtime: Runtime, clock: FakeClock) -> None:
    _running_on_all_days(runtime, clock, people=10)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalar(select(User))
        with pytest.raises(UserError, match="Only workspace admins"):
            change_holidays(session, user=rita, add=[date(2026, 11, 28)], now=clock.now(), rng=random.Random(5))
        rita.is_admin = True
        change = change_holidays(session, user=rita, add=[date(2026, 11, 28)], now=clock.now(), rng=random.Random(5))
    assert change.moved == 10 and change.holidays == ["2026-11-28"]
    with transaction(runtime.sessions) as session:
        assert {r.due_at.astimezone(NY).date() for r in _pending(session)} == {date(2026, 11, 29)}  # Sunday
        assert session.scalar(select(Campaign.holidays)) == []  # the campaign's own list is its own
    with transaction(runtime.sessions, write=True) as session:
        change = change_holidays(session, user=session.scalar(select(User)), remove=[date(2026, 11, 28)],
                                 now=clock.now(), rng=random.Random(6))
    assert change.moved == 10 and change.holidays == []
    with transaction(runtime.sessions) as session:
        assert {r.due_at.astimezone(NY).date() for r in _pending(session)} == {date(2026, 11, 28)}


# ---- a re-plan meeting a claim ----------------------------------------------------------------------
def _due_on_saturday(runtime: Runtime, clock: FakeClock) -> None:
    _running_on_all_days(runtime, clock, people=3)
    clock.set(datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc))  # Saturday 11:00: every step 2 is due


def _claim(runtime: Runtime, clock: FakeClock, taken: list[int]):  # type: ignore[no-untyped-def]
    def claim(session: Session) -> None:
        found = claims.claim(session, now=clock.now(), worker_id="w-race", lease=timedelta(minutes=5),
                             max_rows=1, max_mailboxes=10)
        taken.extend(row_id for ids in found.rows.values() for row_id in ids)
    return claim


def _replan(runtime: Runtime, clock: FakeClock):  # type: ignore[no-untyped-def]
    def replan(session: Session) -> None:
        campaign = session.scalar(select(Campaign))
        seen = access.check(session, user=campaign.owner, campaign=campaign, need=access.Need.CHANGE)
        edit_campaign(session, access=seen, edit=_edit(campaign, send_days="01234"), now=clock.now(),
                      rng=random.Random(9))
    return replan


def _check_after_race(runtime: Runtime, taken: list[int]) -> None:
    with transaction(runtime.sessions) as session:
        rows = session.scalars(select(O).where(O.step_position == 2)).all()
        assert len(rows) == 3  # nothing doubled
        for row in rows:
            if row.id in taken:  # claimed: still the worker's, at its Saturday time
                assert row.status == OutboundStatus.SENDING and row.claimed_by == "w-race"
                assert row.due_at.astimezone(NY).weekday() == 5
            else:
                assert row.status == OutboundStatus.PENDING and row.due_at.astimezone(NY).weekday() == 0


@pytest.mark.parametrize("order", ["claim-then-replan", "replan-then-claim", "claim-holds-replan-waits",
                                   "replan-holds-claim-skips"])
def test_a_replan_never_moves_or_doubles_a_claimed_row(runtime: Runtime, engine: Engine, clock: FakeClock,
                                                       order: str) -> None:
    if "holds" in order and engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: one transaction never runs inside another")
    _due_on_saturday(runtime, clock)
    taken: list[int] = []
    claim, replan = _claim(runtime, clock, taken), _replan(runtime, clock)
    if order == "claim-then-replan":
        for step in (claim, replan):
            with transaction(runtime.sessions, write=True) as session:
                step(session)
        assert len(taken) == 1
    elif order == "replan-then-claim":
        for step in (replan, claim):
            with transaction(runtime.sessions, write=True) as session:
                step(session)
        assert taken == []  # everything moved to Monday: nothing is due
    elif order == "claim-holds-replan-waits":  # the re-plan waits for the claim's row lock, then skips that row
        _first_holds_second_waits(runtime, engine, claim, replan)
        assert len(taken) == 1
    else:  # the claim skips the rows the re-plan holds (SKIP LOCKED) and takes nothing twice
        with transaction(runtime.sessions, write=True) as session:
            replan(session)
            session.flush()
            with transaction(runtime.sessions, write=True) as other:
                claim(other)
        assert taken == []
    _check_after_race(runtime, taken)
