"""The `time zone` column of a candidate upload (issue 19 §3): an IANA name or a city, a problem on
the row's line when it names no zone or several, kept on the candidate (a known candidate keeps
theirs unless a new row gives one), and the zone the planner then plans their sends in."""
from __future__ import annotations

import random
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.models import Campaign, Candidate, OutboundMessage, SendPreference
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.candidate_rows import read_pasted
from bot.services.replan import replan_campaign
from bot.services.time_zones import read_zone
from tests.bot.test_candidate_rows import _confirm, _stage


@pytest.mark.parametrize(("cell", "zone"), [
    ("Europe/Berlin", "Europe/Berlin"), ("europe/BERLIN", "Europe/Berlin"), ("Berlin", "Europe/Berlin"),
    ("new york", "America/New_York"), ("São Paulo", "America/Sao_Paulo"), ("SAO PAULO", "America/Sao_Paulo"),
    ("Tokyo", "Asia/Tokyo"), ("Buenos Aires", "America/Argentina/Buenos_Aires"),  # an old alias is one zone
])
def test_an_iana_name_or_a_city_gives_its_zone_whatever_the_case_or_accents(cell: str, zone: str) -> None:
    assert read_zone(cell) == (zone, None)


def test_an_unknown_or_ambiguous_zone_is_a_problem_on_its_line_saying_what_to_write() -> None:
    parsed = read_pasted("name\temail\tTime Zone\nAna\tana@x.example\tSpringfield\n"
                         "Bo\tbo@x.example\tWest\nCy\tcy@x.example\tTokyo\nDee\tdee@x.example\t\n")
    assert [(r.name, r.time_zone) for r in parsed.rows] == [("Cy", "Asia/Tokyo"), ("Dee", None)]
    assert [str(p) for p in parsed.problems] == [
        'line 2: time zone "Springfield" is not a zone or a city we know: write an IANA name such as '
        "Europe/Berlin, or the city it is named after, such as Berlin",
        'line 3: time zone "West" names more than one zone (Australia/West, Brazil/West): write the one you mean']
    assert parsed.rows[0].fields == {}  # the column is the zone, not a template field


def _zones(runtime: Runtime) -> dict[str, str | None]:
    with transaction(runtime.sessions) as session:
        return dict(session.execute(select(Candidate.name, Candidate.time_zone)).all())


def test_the_zone_is_kept_and_a_known_candidate_keeps_theirs_unless_a_new_row_gives_one(runtime: Runtime) -> None:
    upload_id, campaign_id = _stage(runtime, "name,email,time zone\nAna,ana@x.example,Berlin\n"
                                             "Bo,bo@x.example,Tokyo\nCy,cy@x.example,\n")
    _confirm(runtime, upload_id)
    assert _zones(runtime) == {"Ana": "Europe/Berlin", "Bo": "Asia/Tokyo", "Cy": None}
    upload_id, _ = _stage(runtime, "name,email,time zone\nAna,ana@x.example,\nBo,bo@x.example,New York\n"
                                   "Cy,cy@x.example,Europe/Paris\n", campaign_id=campaign_id)
    _confirm(runtime, upload_id)
    assert _zones(runtime) == {"Ana": "Europe/Berlin", "Bo": "America/New_York", "Cy": "Europe/Paris"}


def test_a_candidate_with_a_zone_gets_the_campaigns_specific_time_in_their_own_zone(runtime: Runtime) -> None:
    upload_id, campaign_id = _stage(runtime, "name,email,company,time zone\nAna,ana@x.example,Acme,Berlin\n"
                                             "Bo,bo@x.example,Acme,\n")
    _confirm(runtime, upload_id)
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.timezone == "America/New_York"
        campaign.send_preference, campaign.specific_time = SendPreference.SPECIFIC, time(9, 0)
        start_campaign(session, campaign=campaign, clock=runtime.clock, rng=random.Random(1))
        due = dict(session.execute(select(Candidate.name, OutboundMessage.due_at)
                                   .join(OutboundMessage.enrollment).join(Candidate)).all())
    berlin, new_york = (due["Ana"].astimezone(ZoneInfo("Europe/Berlin")),
                        due["Bo"].astimezone(ZoneInfo("America/New_York")))
    assert time(9, 0) <= berlin.time() <= time(9, 20) and time(9, 0) <= new_york.time() <= time(9, 20)
    # Start is Mon 08:30 in New York, 14:30 in Berlin: Bo's 09:00 is today's, Ana's is Tuesday's
    assert (f"{berlin:%a %d}", f"{new_york:%a %d}") == ("Tue 24", "Mon 23")


def test_a_re_plan_after_an_edit_moves_a_candidates_send_to_the_new_time_in_their_zone(runtime: Runtime) -> None:
    upload_id, campaign_id = _stage(runtime, "name,email,company,time zone\nAna,ana@x.example,Acme,Tokyo\n"
                                             "Bo,bo@x.example,Acme,\n")
    _confirm(runtime, upload_id)
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.send_preference, campaign.specific_time = SendPreference.SPECIFIC, time(9, 0)
        start_campaign(session, campaign=campaign, clock=runtime.clock, rng=random.Random(1))
        campaign.specific_time = time(15, 30)  # the edit: 15:30 instead of 09:00
        assert replan_campaign(session, campaign, now=runtime.clock.now(), rng=random.Random(2)) == 2
        due = dict(session.execute(select(Candidate.name, OutboundMessage.due_at)
                                   .join(OutboundMessage.enrollment).join(Candidate)).all())
    tokyo, new_york = due["Ana"].astimezone(ZoneInfo("Asia/Tokyo")), due["Bo"].astimezone(ZoneInfo("America/New_York"))
    assert time(15, 30) <= tokyo.time() <= time(15, 50) and time(15, 30) <= new_york.time() <= time(15, 50)
