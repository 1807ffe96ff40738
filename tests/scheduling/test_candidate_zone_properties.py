"""The send-time rules in the candidate's own zone (issue 19 §3), through the planner as it plans
(planner.Planner.window_of, with the first send's time of day kept as scheduling.record_sent keeps
it), for campaigns and candidates in mixed zones, started around daylight-saving changes: every
send is inside its window, on a send day of the candidate's own calendar (a send day is a day in
their zone), never inside the grace, and the plan is exactly the rules' plan in the candidate's zone."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Campaign, SendPreference
from bot.rules import when
from bot.runtime import Runtime
from bot.services.planner import Planner
from bot.services.sequences import StepDraft
from tests import factories

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "UTC"]
# Clock changes in 2027: Berlin's last Sundays of March and October, New York's second Sunday of
# March and first of November, Sydney's first Sundays of April and October.
DST_DAYS = [date(2027, 3, 28), date(2027, 10, 31), date(2027, 3, 14), date(2027, 11, 7), date(2027, 4, 4),
            date(2027, 10, 3)]
DELAYS = [0, 1, 3]  # steps 2, 3, 4 (days after the step before)
PROPERTIES = settings(max_examples=150, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def starts(draw: st.DrawFn) -> datetime:
    """A Start within three days before a clock change, or on its day, at any second."""
    day = draw(st.sampled_from(DST_DAYS)) - timedelta(days=draw(st.integers(0, 3)))
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return midnight + timedelta(seconds=draw(st.integers(0, 86_399)))


def _campaign(session: Session, clock: FakeClock) -> Campaign:
    rita = factories.recruiter(session, clock)
    mailbox = factories.sandbox_mailbox(session, rita, clock)
    steps = [StepDraft("Hello", "Hi"), *(StepDraft("Again", "Hi", delay_days=d) for d in DELAYS)]
    return factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=0, steps=steps)


def _planned(session: Session, campaign: Campaign, start: datetime, candidate_zone: str | None,
             seed: int) -> list[tuple[datetime, when.Window]]:
    """Each step as the planner plans it after the one before went out at its picked time."""
    rng = random.Random(seed)
    planner = Planner(session, rng=rng, now=start)
    own = ZoneInfo(candidate_zone or campaign.timezone)
    sends: list[tuple[datetime, when.Window]] = []
    for position in range(1, len(DELAYS) + 2):
        last = sends[-1][0] if sends else None
        first_local = sends[0][0].astimezone(own).time() if sends else None  # as record_sent keeps it
        window = planner.window_of(campaign, position=position, planned_at=start, last_sent_at=last,
                                   first_send_local=first_local, candidate_zone=candidate_zone)
        assert window is not None
        sends.append((window.pick(rng), window))
    return sends


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


@PROPERTIES
@given(data=st.data())
def test_the_planner_follows_the_rules_in_the_candidates_own_zone(data: st.DataObject, runtime: Runtime,
                                                                 clock: FakeClock) -> None:
    campaign_zone = data.draw(st.sampled_from(ZONES), "campaign zone")
    candidate_zone = data.draw(st.sampled_from([None, *ZONES]), "candidate zone")
    preference = data.draw(st.sampled_from(list(SendPreference)), "preference")
    specific = data.draw(st.times().map(lambda t: t.replace(microsecond=0)), "specific time")
    send_days = data.draw(st.sets(st.integers(0, 6), min_size=1), "send days")
    start = data.draw(starts(), "start")
    seed = data.draw(st.integers(0, 2**32), "seed")
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.query(Campaign).one_or_none() or _campaign(session, clock)
        campaign.timezone, campaign.send_preference, campaign.specific_time = campaign_zone, preference, specific
        campaign.send_days = "".join(str(d) for d in sorted(send_days))
        campaign.started_at = None  # the planner's `now` is Start, as when the campaign starts
        sends = _planned(session, campaign, start, candidate_zone, seed)
    own = ZoneInfo(candidate_zone or campaign_zone)
    calendar = when.calendar_from(campaign.send_days)
    assert _utc(sends[0][0]) >= _utc(start) + when.GRACE  # never inside the grace
    for moment, window in sends:
        assert _utc(window.start) <= _utc(moment) <= _utc(window.end)
        assert calendar.is_send_day(moment.astimezone(own).date())  # a send day in the candidate's zone
    assert all(_utc(a) < _utc(b) for (a, _), (b, _) in zip(sends, sends[1:]))
    expected = when.plan(when.Preference(preference.value), own, start, DELAYS, random.Random(seed),
                         specific=specific, calendar=calendar)
    assert [_utc(m) for m, _ in sends] == [_utc(p.send_at) for p in expected]
