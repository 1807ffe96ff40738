"""The open-tracking image, served by the same process as the Slack listeners (bot.web routes
/o/<token>.gif here; bot.services.open_tracking makes and reads the token and records the open).

Every GET or HEAD gets the same answer, whatever the token (valid, forged, unknown, malformed) and
whatever happened while recording: 200, a 43-byte transparent GIF, the same headers. It reveals
nothing (no name, no campaign, not whether the token was valid) and asks for no authentication,
since a mail app fetching an image can give none. Other methods: 405. Never a 500: a database error
while recording is logged (without the token) and the image served all the same. A GET is an open;
a HEAD (a link checker asking about the image without loading it) is answered but not recorded.

The IP recorded is REMOTE_ADDR; behind a reverse proxy named in OUTREACH_TRUSTED_PROXIES, the
address X-Forwarded-For gives before the trusted proxies (the rightmost one not among them).
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.db import transaction
from bot.runtime import Runtime
from bot.services import open_tracking
from bot.services.open_tracking import Pixels

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]

# GIF89a, 1×1, a two-colour palette, colour 0 transparent (a Graphic Control Extension), one pixel of it.
GIF = bytes.fromhex("474946383961010001008000000000" "00ffffff21f90401000000002c000000000100010000020244010" "03b")
HEADERS = [("Content-Type", "image/gif"), ("Content-Length", str(len(GIF))),
           ("Cache-Control", "no-store, no-cache, private"), ("Pragma", "no-cache"), ("Expires", "0"),
           ("Referrer-Policy", "no-referrer"), ("X-Robots-Tag", "noindex, nofollow"),
           ("X-Content-Type-Options", "nosniff")]


def client_ip(environ: dict[str, Any], trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str | None:
    """Who fetched: REMOTE_ADDR, or behind trusted proxies the last X-Forwarded-For hop that is none of
    them (each proxy appends the address it got the request from; what is left of that the client wrote)."""
    remote = _address(environ.get("REMOTE_ADDR"))
    if remote is None or not trusted or not _within(remote, trusted):
        return str(remote) if remote is not None else None
    header = str(environ.get("HTTP_X_FORWARDED_FOR", "")).strip()
    if not header:
        return str(remote)
    hops = [_address(part) for part in header.split(",")]
    for hop in reversed(hops):
        if hop is None:
            return None  # a hop that is no address: nothing before it can be believed
        if not _within(hop, trusted):
            return str(hop)
    return str(hops[0])  # every hop one of ours: the first is the client, inside our own network


def _address(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text or "").strip())
    except ValueError:
        return None


def _within(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
            networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


class PixelRoutes:
    def __init__(self, runtime: Runtime, pixels: Pixels | None) -> None:
        self.runtime = runtime
        self.pixels = pixels  # None: no encryption key, so no image was ever put in an email
        self.trusted = [ipaddress.ip_network(n) for n in runtime.settings.trusted_proxies]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Type", "text/plain"),
                                                      ("Content-Length", "0")])
            return [b""]
        try:
            if method == "GET":  # a HEAD asks about the image without loading it: a link checker, not an open
                self._record(environ)
        except Exception as exc:  # the image is served whatever happened; the token is not logged
            log.warning("an open was not recorded: %s", type(exc).__name__)
        start_response("200 OK", list(HEADERS))
        return [b""] if method == "HEAD" else [GIF]

    def _record(self, environ: dict[str, Any]) -> None:
        name = str(environ.get("PATH_INFO", ""))[len(open_tracking.PATH):]
        if self.pixels is None or not name.endswith(open_tracking.SUFFIX):
            return
        row_id = self.pixels.row_of(name[:-len(open_tracking.SUFFIX)])
        if row_id is None:
            return
        runtime = self.runtime
        with transaction(runtime.sessions, write=True) as session:
            open_tracking.record(session, row_id=row_id, ip=client_ip(environ, self.trusted),
                                 user_agent=str(environ.get("HTTP_USER_AGENT", ""))[:500], now=runtime.clock.now())
