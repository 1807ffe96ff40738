from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.errors import UserError
from bot.models import Mailbox, Provider
from bot.services.mailboxes import default_daily_cap, set_limits
from bot.rules.limits import Usage, allowance

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("provider", "address", "cap"), [
    (Provider.GMAIL, "rita@acme.example", 1800),      # Workspace: 2,000 a day
    (Provider.GMAIL, "rita@gmail.com", 450),          # consumer: about 500 a day
    (Provider.GRAPH, "rita@contoso.example", 9000),   # Exchange Online: 10,000 recipients a day
])
def test_default_caps_stay_under_the_providers_limits(provider: Provider, address: str, cap: int) -> None:
    assert default_daily_cap(provider, address) == cap


def test_limits_above_the_provider_or_below_graphs_pace_are_refused() -> None:
    gmail = Mailbox(provider=Provider.GMAIL, address="rita@gmail.com", daily_cap=450, min_spacing_seconds=60)
    with pytest.raises(UserError, match="between 1 and 500"):
        set_limits(gmail, daily_cap=501)
    graph = Mailbox(provider=Provider.GRAPH, address="r@contoso.example", daily_cap=9000, min_spacing_seconds=60)
    with pytest.raises(UserError, match="between 2 and 3600 seconds"):
        set_limits(graph, min_spacing_seconds=1)  # 30 messages a minute at most
    set_limits(graph, daily_cap=10000, min_spacing_seconds=2)
    assert (graph.daily_cap, graph.min_spacing_seconds) == (10000, 2)


def test_allowance_respects_in_flight_cap_and_spacing() -> None:
    idle = Usage(in_flight=0, sent_last_day=0, oldest_last_day=None)
    assert allowance(daily_cap=100, min_spacing_seconds=0, max_in_flight=4, usage=idle, now=NOW, room=50).quota == 4
    busy = Usage(in_flight=3, sent_last_day=10, oldest_last_day=NOW - timedelta(hours=5))
    assert allowance(daily_cap=100, min_spacing_seconds=0, max_in_flight=4, usage=busy, now=NOW, room=50).quota == 1
    spaced = allowance(daily_cap=100, min_spacing_seconds=60, max_in_flight=4, usage=idle, now=NOW, room=50)
    assert (spaced.quota, spaced.not_before) == (1, NOW + timedelta(seconds=60))
    nearly = Usage(in_flight=0, sent_last_day=99, oldest_last_day=NOW - timedelta(hours=23))
    assert allowance(daily_cap=100, min_spacing_seconds=0, max_in_flight=4, usage=nearly, now=NOW, room=50).quota == 1


def test_at_the_cap_the_mailbox_waits_until_the_oldest_send_is_a_day_old() -> None:
    full = Usage(in_flight=0, sent_last_day=100, oldest_last_day=NOW - timedelta(hours=20))
    capped = allowance(daily_cap=100, min_spacing_seconds=0, max_in_flight=4, usage=full, now=NOW, room=50)
    assert (capped.quota, capped.capped, capped.not_before) == (0, True, NOW + timedelta(hours=4))
