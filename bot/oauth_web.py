"""The browser side of connecting Google and Microsoft mailboxes, served by the same process as the
Slack listeners: /oauth/<google|microsoft>/start?state=... sends the browser to the provider (and
binds the state to this browser with a cookie); /oauth/<...>/callback finishes the sign-in, stores
the encrypted credentials, DMs the person and refreshes their App Home. The browser is left on a
short page that says what happened and to go back to Slack."""
from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from bot.db import transaction
from bot.errors import UserError
from bot.models import Provider, User
from bot.runtime import Runtime
from bot.services import oauth_states
from bot.services.connections import complete_connect
from bot.services.notifications import notify
from providers.base import ProviderError
from providers.connect import AdminApprovalNeeded, ConnectFailed, OAuthConnector

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
PATHS = {"google": Provider.GMAIL, "microsoft": Provider.GRAPH}
NAMES = {Provider.GMAIL: "Google", Provider.GRAPH: "Microsoft"}


def build_connectors(runtime: Runtime) -> dict[Provider, OAuthConnector]:
    """The OAuth providers this bot is configured for (a client ID and secret each)."""
    settings, endpoints = runtime.settings, runtime.settings.endpoints()
    connectors: dict[Provider, OAuthConnector] = {}
    if (google := settings.google_client()) is not None:
        from providers.gmail import GmailConnector
        connectors[Provider.GMAIL] = GmailConnector(google, endpoints)
    if (microsoft := settings.microsoft_client()) is not None:
        from providers.graph import MicrosoftConnector
        connectors[Provider.GRAPH] = MicrosoftConnector(microsoft, endpoints)
    return connectors


def _route(runtime: Runtime, provider: Provider, step: str) -> str:
    path = next(name for name, p in PATHS.items() if p == provider)
    return f"{runtime.settings.public_url.rstrip('/')}/oauth/{path}/{step}"


def start_url(runtime: Runtime, provider: Provider, state: str) -> str:
    return f"{_route(runtime, provider, 'start')}?state={state}"


def redirect_uri(runtime: Runtime, provider: Provider) -> str:
    return _route(runtime, provider, "callback")


def _page(start_response: StartResponse, status: str, title: str, message: str,
          headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    body = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
            "<p>You can close this tab and go back to Slack.</p></body>").encode()
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                            ("Referrer-Policy", "no-referrer"), *(headers or [])])
    return [body]


class OAuthRoutes:
    def __init__(self, runtime: Runtime, connectors: dict[Provider, OAuthConnector],
                 on_connected: Callable[[int], None] = lambda user_id: None) -> None:
        self.runtime = runtime
        self.connectors = connectors
        self.on_connected = on_connected  # refreshes the person's App Home

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        parts = environ.get("PATH_INFO", "").strip("/").split("/")  # oauth/<provider>/<step>
        provider = PATHS.get(parts[1]) if len(parts) == 3 else None
        if provider is None or provider not in self.connectors or parts[2] not in ("start", "callback"):
            return _page(start_response, "404 Not Found", "Not found", "There is nothing at this address.")
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        browser = cookie[_cookie_name(provider)].value if _cookie_name(provider) in cookie else None
        if parts[2] == "callback" and "admin_consent" in query and "state" not in query:
            # An IT admin approved the app through the admin-consent link: nothing to connect here.
            return _page(start_response, "200 OK", "App approved",
                         "Thank you: your organisation now allows the outreach bot. Whoever asked can now connect "
                         "their mailbox from Slack with /outreach connect.")
        try:
            if parts[2] == "start":
                return self._start(provider, query, start_response)
            return self._callback(provider, query, browser, start_response)
        except UserError as error:  # a refused state, an address linked to someone else
            return _page(start_response, "400 Bad Request", "Not connected", error.message)

    def _start(self, provider: Provider, query: dict[str, str], start_response: StartResponse) -> Iterable[bytes]:
        runtime, token = self.runtime, query.get("state", "")
        if runtime.cipher is None:
            return _page(start_response, "503 Service Unavailable", "Not available",
                         "This bot has no encryption key configured, so it cannot keep mailbox sign-ins.")
        browser = oauth_states.new_browser_secret()
        with transaction(runtime.sessions) as session:
            enhanced = oauth_states.peek(session, token=token, provider=provider, clock=runtime.clock).enhanced
        # Outside any transaction: MSAL may fetch the authority's metadata first.
        url, flow = self.connectors[provider].begin(state=token, redirect_uri=redirect_uri(runtime, provider),
                                                    enhanced=enhanced)
        with transaction(runtime.sessions, write=True) as session:
            oauth_states.start(session, token=token, provider=provider, browser_secret=browser, flow=flow,
                               cipher=runtime.cipher, clock=runtime.clock)
        secure = "; Secure" if runtime.settings.public_url.startswith("https://") else ""
        start_response("302 Found", [
            ("Location", url), ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
            ("Set-Cookie", f"{_cookie_name(provider)}={browser}; Max-Age=600; Path=/oauth/; HttpOnly; "
                           f"SameSite=Lax{secure}")])
        return [b""]

    def _callback(self, provider: Provider, query: dict[str, str], browser: str | None,
                  start_response: StartResponse) -> Iterable[bytes]:
        runtime = self.runtime
        assert runtime.cipher is not None
        with transaction(runtime.sessions, write=True) as session:  # used once, even if what follows fails
            finished = oauth_states.finish(session, token=query.get("state", ""), provider=provider,
                                           browser_secret=browser, cipher=runtime.cipher, clock=runtime.clock)
        name = NAMES[provider]
        try:
            connected = self.connectors[provider].finish(flow=finished.flow, query=query,
                                                         redirect_uri=redirect_uri(runtime, provider))
        except AdminApprovalNeeded as needed:
            self._tell(finished.user_id, "admin_approval", f"admin_approval:{query.get('state', '')[:40]}",
                       f":lock: Your organisation's Microsoft 365 settings need an IT admin to approve this bot "
                       f"before you can connect your mailbox. {needed} Send your IT admin this admin-consent link: "
                       f"{needed.admin_consent_url}")
            return _page(start_response, "403 Forbidden", "Admin approval needed",
                         f"{needed} The bot sent you a Slack message with the link for your IT admin.")
        except ConnectFailed as failed:
            return _page(start_response, "400 Bad Request", "Not connected", str(failed))
        except ProviderError as error:
            log.warning("%s sign-in could not be completed: %s", name, error)
            return _page(start_response, "502 Bad Gateway", "Not connected",
                         f"{name} could not be reached to finish the sign-in. Please try again in a minute.")
        try:
            with transaction(runtime.sessions, write=True) as session:
                user = session.get(User, finished.user_id)
                assert user is not None
                mailbox = complete_connect(session, owner=user, provider=provider, address=connected.address,
                                          credentials=runtime.cipher.encrypt(connected.credentials),
                                          enhanced=connected.enhanced, clock=runtime.clock)
                address = mailbox.address
        except UserError as error:
            self._tell(finished.user_id, "connect_refused", f"connect_refused:{query.get('state', '')[:40]}",
                       f":no_entry: {error.message}")
            raise
        self.on_connected(finished.user_id)
        return _page(start_response, "200 OK", "Mailbox connected",
                     f"{address} is connected to the outreach bot.")

    def _tell(self, user_id: int, kind: str, key: str, text: str) -> None:
        with transaction(self.runtime.sessions, write=True) as session:
            user = session.get(User, user_id)
            if user is not None:
                notify(session, user=user, kind=kind, text=text, dedupe_key=key, clock=self.runtime.clock)


def _cookie_name(provider: Provider) -> str:
    return f"outreach_oauth_{provider.value}"
