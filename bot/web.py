"""The HTTP surface, one WSGI app served by waitress: Slack's events endpoint, the OAuth pages that
connect Google and Microsoft mailboxes (bot.oauth_web), the opt-out link's page (bot.unsubscribe_web),
the open-tracking image (bot.pixel_web), and a health check."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.request_guard import guarded

# How long a thread may hold the GIL while another waits (CPython's default: 5 ms). A listener's work
# after its ack (drawing a 10,000-candidate status) competes with the request thread that must still
# write the ack, and that answer passes through several threads (Bolt's wait for the ack, waitress's
# worker and its socket loop): at 5 ms a hand-off, the ack waited behind the work. At 1 ms it does not.
ACK_SWITCH_INTERVAL = 0.001

StartResponse = Callable[..., Any]


def favour_acks() -> None:
    """For the serving process: hand the GIL over sooner, so work after an ack never delays an ack."""
    sys.setswitchinterval(ACK_SWITCH_INTERVAL)

Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(app: App, oauth: Wsgi | None = None, unsubscribe: Wsgi | None = None, pixel: Wsgi | None = None) -> Wsgi:
    slack = guarded(SlackRequestHandler(app))  # what Bolt cannot parse is a 400, never a 500

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/slack/events":
            return slack(environ, start_response)
        if path.startswith("/oauth/") and oauth is not None:
            return oauth(environ, start_response)
        if path.startswith("/unsubscribe/") and unsubscribe is not None:
            return unsubscribe(environ, start_response)
        if path.startswith("/o/") and pixel is not None:
            return pixel(environ, start_response)
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return application
