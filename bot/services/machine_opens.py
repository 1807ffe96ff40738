"""Which fetches of the tracking image are machines, not a person reading (a pure table: no I/O).

What is publicly known, and what each rule rests on:
- Gmail fetches every image through its proxy, with the user agent "... (via ggpht.com
  GoogleImageProxy)" (https://www.scientiamobile.com/what-is-google-image-proxy/), and may fetch on
  delivery, before anyone opens the email (https://wordtothewise.com/2013/12/gmail-deploys-image-proxy-servers/).
  A proxied fetch may still be a person opening it; it is kept apart because it cannot be told apart.
- Yahoo Mail's proxy names itself "YahooMailProxy" in its user agent.
- Apple Mail Privacy Protection loads every remote image when the email arrives, through Apple's relay
  (the iCloud Private Relay infrastructure, https://wordtothewise.com/2021/09/apple-mpp-reporting-and-geolocation/;
  https://help.socketlabs.com/docs/identifying-apple-mpp-opens-in-notification-api-events), whether the
  person reads it or not. Its fetches are commonly seen from Apple's own 17.0.0.0/8 (Apple holds the
  whole block) with a bare "Mozilla/5.0" user agent; either is taken as Apple's relay. Relay egress
  through partner networks looks like any other fetch and is counted as a person: the README says
  opens are an estimate.
- Link and image scanners of mail gateways name themselves in their user agent (below), as do crawlers.
- Any fetch within TOO_SOON of the send: scanners and prefetching proxies fetch on delivery, seconds
  after the send; a person rarely opens an email in its first minute (the bot sends at planned
  times, not while the candidate watches), so a minute drops little of what people do.
"""
from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta

TOO_SOON = timedelta(seconds=60)
APPLE = ipaddress.ip_network("17.0.0.0/8")

GMAIL, YAHOO, APPLE_PRIVACY, SCANNER, SOON = "gmail_proxy", "yahoo_proxy", "apple_privacy", "scanner", "too_soon"
_SCANNERS = re.compile(
    r"barracuda|mimecast|proofpoint|symantec|messagelabs|trend ?micro|sophos|fireeye|forcepoint|ironport"
    r"|safelinks|microsoft office protocol discovery|bitdefender|kaspersky|zscaler|\bbot\b|bot/|crawler|spider"
    r"|python-requests|python-urllib|curl/|wget/|go-http-client|okhttp|java/|libwww|headlesschrome",
    re.IGNORECASE)


def _apple(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:17.x.y.z, as a dual-stack socket reports it
    return (mapped or address) in APPLE if (mapped or address).version == 4 else False


def machine_reason(*, user_agent: str | None, ip: str | None, opened_at: datetime,
                   sent_at: datetime | None) -> str | None:
    """Why this fetch is a machine's (gmail_proxy, yahoo_proxy, apple_privacy, scanner, too_soon), or
    None for what looks like a person's mail app. A known proxy is named before the timing."""
    agent = (user_agent or "").strip()
    if "GoogleImageProxy" in agent or "ggpht.com" in agent:
        return GMAIL
    if "YahooMailProxy" in agent:
        return YAHOO
    if agent == "Mozilla/5.0" or _apple(ip):
        return APPLE_PRIVACY
    if _SCANNERS.search(agent):
        return SCANNER
    if sent_at is not None and opened_at - sent_at < TOO_SOON:
        return SOON
    return None
