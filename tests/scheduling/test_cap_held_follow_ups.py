"""A follow-up held by the daily cap past its window moves to its next allowed window (the same
wall-clock times, on a send day, spread inside it), instead of leaving when the cap frees up
(issue 17 §5). Driven by the real dispatcher with a FakeClock, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Candidate, Mailbox, OutboundMessage, OutboundStatus, SendPreference
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign, upcoming_sends
from bot.services.planner import MOVED_BY_CAP, move_held_follow_ups
from bot.services.sequences import StepDraft
from providers.sandbox import PostOffice, recipient_of
from tests import factories
from tests.clock_jobs import dispatch_for

ZONE = ZoneInfo("America/New_York")
O = OutboundMessage


def _started_monday(runtime: Runtime, clock: FakeClock, candidates: int) -> int:
    """Mon 23 Nov 08:30: step 1 at 17:40 (specific time) on weekdays, step 2 four days later (Friday),
    within 20 minutes of the first send's time of day, so its window ends 18:00–18:20."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mailbox.min_spacing_seconds, mailbox.daily_cap = 0, 100
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates, steps=[
            StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
            StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=4)])
        campaign.send_preference, campaign.specific_time = SendPreference.SPECIFIC, time(17, 40)
        campaign.send_days = "01234"
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return campaign.id


def _local_sends(runtime: Runtime) -> list[tuple[str, str, datetime]]:
    sent = PostOffice(runtime.providers.sandbox).all_sent()  # type: ignore[attr-defined]
    with transaction(runtime.sessions) as session:
        at = {mid: when for mid, when in session.execute(
            select(O.message_id, O.sent_at).where(O.status == OutboundStatus.SENT)).all()}
    return sorted(((recipient_of(m), str(m["Subject"]), at[str(m["Message-ID"])].astimezone(ZONE)) for m in sent),
                  key=lambda s: s[2])


def test_a_follow_up_the_cap_holds_on_friday_goes_monday_inside_its_window(runtime: Runtime,
                                                                          clock: FakeClock) -> None:
    campaign_id = _started_monday(runtime, clock, candidates=4)
    dispatch_for(runtime, clock, timedelta(days=4))  # Friday 08:30: every step 1 went out on Monday
    with transaction(runtime.sessions, write=True) as session:  # Rita lowers the cap: 2 a day
        session.execute(update(Mailbox).values(daily_cap=2))
        windows = {to: (start, end) for to, start, end in session.execute(
            select(O.to_address, O.window_start, O.window_end).where(O.step_position == 2)).all()}
    assert all(end.astimezone(ZONE).time() <= time(18, 20) for _, end in windows.values())
    dispatch_for(runtime, clock, timedelta(hours=12))  # Friday 20:30: two went, the cap holds two
    with transaction(runtime.sessions) as session:
        moved = session.execute(select(O.to_address, O.due_at, O.window_start, O.window_end).where(
            O.step_position == 2, O.status == OutboundStatus.PENDING)).all()
        campaign = session.get(factories.Campaign, campaign_id)
        assert campaign is not None
        shown, _ = upcoming_sends(session, campaign, viewer_id=campaign.owner_id)
    assert len(moved) == 2 and all(s.moved for s in shown)
    for to, due, start, end in moved:  # the same wall-clock window, on Monday
        old_start, old_end = windows[to]
        assert due.astimezone(ZONE).date() == datetime(2026, 11, 30).date()
        assert start.astimezone(ZONE).time() == old_start.astimezone(ZONE).time()
        assert end.astimezone(ZONE).time() == old_end.astimezone(ZONE).time()
        assert start <= due <= end
    assert len({due for _, due, _, _ in moved}) == 2  # picked inside the window, not all at its opening
    dispatch_for(runtime, clock, timedelta(days=4))
    sends = _local_sends(runtime)
    follow_ups = [(to, at) for to, subject, at in sends if subject.startswith("Re:")]
    assert len(sends) == 8 and len({to for to, _ in follow_ups}) == 4  # each step once to each candidate
    for to, at in follow_ups:
        start, end = windows[to]
        assert at.weekday() < 5, f"{to} got a follow-up on a {at:%A}"
        assert start.astimezone(ZONE).time() <= at.time() <= end.astimezone(ZONE).time(), f"{to} at {at}"
    assert [at.weekday() for _, at in follow_ups] == [4, 4, 0, 0]  # two on Friday, two on Monday


def test_only_a_pending_unclaimed_row_is_moved(runtime: Runtime, clock: FakeClock) -> None:
    _started_monday(runtime, clock, candidates=2)
    dispatch_for(runtime, clock, timedelta(days=4))  # Friday 08:30: both step 2s pending, due by 18:20
    now = clock.now()
    with transaction(runtime.sessions, write=True) as session:
        rows = session.execute(select(O.id, O.due_at).where(O.step_position == 2).order_by(O.id)).all()
        assert len(rows) == 2
        # The mailbox reached its cap until Saturday; one row is being sent by a worker right now.
        session.execute(update(Mailbox).values(not_before=now + timedelta(hours=20), not_before_reason="daily_cap"))
        session.execute(update(O).where(O.id == rows[0].id).values(status=OutboundStatus.SENDING, claimed_by="w9"))
        session.execute(update(O).where(O.id.in_([r.id for r in rows])).values(due_at=now - timedelta(minutes=1)))
    with transaction(runtime.sessions, write=True) as session:
        tried = move_held_follow_ups(session, now=now, rng=random.Random(3))
    with transaction(runtime.sessions) as session:
        after = dict(session.execute(select(O.id, O.error).where(O.id.in_([r.id for r in rows]))).all())
    assert tried == [rows[1].id]
    assert after == {rows[0].id: None, rows[1].id: MOVED_BY_CAP}


def test_the_next_open_window_skips_days_off_and_holidays_and_starts_after_the_hold() -> None:
    from bot.rules import when

    friday = when.Window(datetime(2026, 12, 4, 17, 20, tzinfo=ZONE), datetime(2026, 12, 4, 18, 0, tzinfo=ZONE))
    weekdays = when.calendar_from("01234", ["2026-12-07"])  # Monday is a holiday
    moved = when.next_open_window(friday, ZONE, after=datetime(2026, 12, 5, 18, 0, tzinfo=ZONE), calendar=weekdays)
    assert (moved.start, moved.end) == (datetime(2026, 12, 8, 17, 20, tzinfo=ZONE),
                                        datetime(2026, 12, 8, 18, 0, tzinfo=ZONE))
    later = when.next_open_window(friday, ZONE, after=datetime(2026, 12, 8, 17, 30, tzinfo=ZONE), calendar=weekdays)
    assert (later.start, later.end) == (datetime(2026, 12, 8, 17, 30, tzinfo=ZONE), moved.end)  # what is left
    assert when.next_open_window(friday, ZONE, after=datetime(2026, 12, 8, 17, 50, tzinfo=ZONE),
                                 calendar=weekdays).start == datetime(2026, 12, 9, 17, 20, tzinfo=ZONE)


def test_a_held_follow_up_of_a_candidate_in_their_own_zone_moves_by_their_wall_clock_and_send_days(
        runtime: Runtime, clock: FakeClock) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        mailbox.min_spacing_seconds, mailbox.daily_cap = 0, 100
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=1, steps=[
            StepDraft("Backend role at {{ company }}", "Hi {{ first_name }}"),
            StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=3)])
        campaign.send_preference, campaign.specific_time = SendPreference.SPECIFIC, time(9, 0)
        campaign.send_days = "01234"
        session.execute(update(Candidate).values(time_zone="Asia/Tokyo"))
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    # Start is Mon 22:30 in Tokyo: step 1 goes Tue 09:00 there, step 2 is planned for Fri 09:00 (Tokyo),
    # which is Thursday evening in New York: moved by New York's clock it would land on a Tuesday in Tokyo.
    dispatch_for(runtime, clock, timedelta(days=3))
    with transaction(runtime.sessions, write=True) as session:
        start, end = session.execute(select(O.window_start, O.window_end).where(O.step_position == 2)).one()
        assert f"{start.astimezone(tokyo):%a}" == "Fri"
        # The cap holds the mailbox until Saturday 12:00 in Tokyo, past the step's window.
        held = datetime.combine(start.astimezone(tokyo).date() + timedelta(days=1), time(12, 0), tzinfo=tokyo)
        session.execute(update(Mailbox).values(not_before=held, not_before_reason="daily_cap"))
        session.execute(update(O).where(O.step_position == 2).values(due_at=clock.now()))
        assert len(move_held_follow_ups(session, now=clock.now(), rng=random.Random(3))) == 1
    with transaction(runtime.sessions) as session:
        new_start, new_end = session.execute(select(O.window_start, O.window_end).where(O.step_position == 2)).one()
    # Monday in Tokyo (its Saturday and Sunday are days off there), at the same Tokyo wall-clock times.
    assert f"{new_start.astimezone(tokyo):%a}" == "Mon"
    assert new_start.astimezone(tokyo).time() == start.astimezone(tokyo).time()
    assert new_end.astimezone(tokyo).time() == end.astimezone(tokyo).time()
