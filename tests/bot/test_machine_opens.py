"""The machine-open table (bot.services.machine_opens): which fetches of the tracking image are image
proxies, privacy relays, scanners or too soon after the send, and which look like a person."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.services.machine_opens import TOO_SOON, machine_reason

SENT = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)
LATER = SENT + timedelta(hours=2)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"


@pytest.mark.parametrize("agent, ip, at, reason", [
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.1", LATER,
     "gmail_proxy"),
    ("GoogleImageProxy", None, SENT + timedelta(seconds=2), "gmail_proxy"),  # named before the timing
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "98.136.1.1", LATER, "yahoo_proxy"),
    ("Mozilla/5.0", "104.28.1.1", LATER, "apple_privacy"),  # Mail Privacy Protection's bare agent
    (IPHONE, "17.58.100.1", LATER, "apple_privacy"),  # from Apple's 17.0.0.0/8
    (IPHONE, "::ffff:17.1.2.3", LATER, "apple_privacy"),  # the same, as a dual-stack socket reports it
    ("Mozilla/5.0 (compatible; Barracuda Sentinel (EE))", "64.235.1.1", LATER, "scanner"),
    ("Mimecast Security Scanner", "1.2.3.4", LATER, "scanner"),
    ("Mozilla/5.0 (compatible; bingbot/2.0)", "1.2.3.4", LATER, "scanner"),
    ("python-requests/2.32.3", "1.2.3.4", LATER, "scanner"),
    ("Mozilla/5.0 HeadlessChrome/120.0", "1.2.3.4", LATER, "scanner"),
    (CHROME, "203.0.113.9", SENT, "too_soon"),
    (CHROME, "203.0.113.9", SENT + TOO_SOON - timedelta(seconds=1), "too_soon"),
    (CHROME, "203.0.113.9", SENT + TOO_SOON, None),  # a person: a minute or more after the send
    (IPHONE, "203.0.113.9", LATER, None),
    (OUTLOOK, "2001:db8::1", LATER, None),
    (None, None, LATER, None),  # nothing known: counted as a person (the README says opens are an estimate)
    (CHROME, "not an address", LATER, None),
    (CHROME, "18.0.0.1", LATER, None),  # next to Apple's block, not in it
    ("Mozilla/5.0 (Linux; Android 14; Cubot X70)", "203.0.113.9", LATER, None),  # "bot" inside a word
])
def test_machine_reason(agent: str | None, ip: str | None, at: datetime, reason: str | None) -> None:
    assert machine_reason(user_agent=agent, ip=ip, opened_at=at, sent_at=SENT) == reason


def test_without_a_send_time_only_the_fetch_itself_counts() -> None:
    assert machine_reason(user_agent=CHROME, ip="203.0.113.9", opened_at=SENT, sent_at=None) is None
