"""The opt-out link's page, served by the same process as the Slack listeners (bot.web routes
/unsubscribe/<token> here; bot.services.unsubscribe makes and checks the token).

- GET (or HEAD): a page with one button that POSTs. Link scanners and previews GET every link in an
  email, so a GET changes nothing.
- POST with `List-Unsubscribe=One-Click` (RFC 8058's one-click, from a mail client's own
  "Unsubscribe", or from the page's button): the address goes on the do-not-contact list and the
  recruiter is told. No cookie, no redirect, no login, as RFC 8058 asks.
- A token that is malformed, forged or names no campaign email: 404, the same page for all, saying
  nothing of why. A body that is not the one-click form: 400. Never a 500 for what a client sends.
"""
from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from bot.db import transaction
from bot.runtime import Runtime
from bot.services import unsubscribe
from bot.services.unsubscribe import Links

StartResponse = Callable[..., Any]
MAX_BODY = 4096  # the one-click body is 26 bytes; a multipart one a few hundred


def _page(start_response: StartResponse, status: str, title: str, message: str, *, form: bool = False,
          headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    button = ("<form method=post><input type=hidden name=List-Unsubscribe value=One-Click>"
              "<button type=submit>Unsubscribe</button></form>") if form else ""
    body = (f"<!doctype html><meta charset=utf-8><meta name=robots content=noindex><title>{html.escape(title)}</title>"
            f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{button}</body>").encode()
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                            ("Referrer-Policy", "no-referrer"), ("X-Robots-Tag", "noindex"),
                            ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def _not_found(start_response: StartResponse) -> Iterable[bytes]:
    return _page(start_response, "404 Not Found", "Link not valid",
                 "This unsubscribe link is not valid. If you copied it, check that it is complete.")


def _one_click(environ: dict[str, Any]) -> bool | None:
    """Whether the body is RFC 8058's `List-Unsubscribe=One-Click` (urlencoded or multipart); None when
    it cannot be read (a bad or too large Content-Length)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length < 0 or length > MAX_BODY:
        return None
    raw = environ["wsgi.input"].read(length) if length else b""
    return unsubscribe.ONE_CLICK.encode() in raw or (b'name="List-Unsubscribe"' in raw and b"One-Click" in raw)


class UnsubscribeRoutes:
    def __init__(self, runtime: Runtime, links: Links | None) -> None:
        self.runtime = runtime
        self.links = links  # None: no encryption key, so no link was ever signed

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        token = environ.get("PATH_INFO", "")[len(unsubscribe.PATH):]
        row_id = self.links.row_of(token) if self.links is not None else None
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in ("GET", "HEAD", "POST"):
            return _page(start_response, "405 Method Not Allowed", "Not allowed", "Open the link in a browser.",
                         headers=[("Allow", "GET, HEAD, POST")])
        if row_id is None:
            return _not_found(start_response)
        runtime = self.runtime
        if method != "POST":
            with transaction(runtime.sessions) as session:
                if not unsubscribe.known(session, row_id=row_id):
                    return _not_found(start_response)
            return _page(start_response, "200 OK", "Unsubscribe",
                         "Press the button to receive no more emails from this sender.", form=True)
        one_click = _one_click(environ)
        if not one_click:
            return _page(start_response, "400 Bad Request", "Not unsubscribed",
                         "The request did not ask to unsubscribe (List-Unsubscribe=One-Click). Open the link "
                         "in a browser and press the button.")
        with transaction(runtime.sessions, write=True) as session:
            done = unsubscribe.apply(session, row_id=row_id, clock=runtime.clock)
        if done is None:
            return _not_found(start_response)
        return _page(start_response, "200 OK", "Unsubscribed", "You will receive no more emails from this sender.")
