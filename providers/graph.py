"""Microsoft 365 mailboxes through Microsoft Graph: sign-in with MSAL, then plain HTTP.

Sign-in is the authorization-code flow with PKCE (MSAL keeps the verifier in the flow dict the
caller stores server-side). The credentials we keep are MSAL's serialized token cache for one
account; every Graph call asks MSAL for a token, which refreshes it when needed.

Sending uploads our own MIME (base64, text/plain) to /me/sendMail, so the message carries the
Message-ID we generated before the send and a crashed send can be found again in Sent Items.
A send is never retried here, except after a 401: Graph refused the token, so nothing was sent.
Whether Exchange keeps that Message-ID is not documented, so after the 202 the Sent copy is looked
up (providers.graph_sent) and what Exchange stored is returned: its internetMessageId and the
conversationId replies and bounces arrive in.

Only a lost grant means "reconnect" (invalid_grant-class token errors, a refreshed token refused
with 401). A 403 is Graph refusing one request: reconnecting would not change it.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from providers.base import (
    Changes,
    InboundMessage,
    MailProvider,
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    ReconnectNeeded,
    SentLookup,
    SentMessage,
    TemporaryFailure,
)
from providers import graph_sent
from providers.connect import AdminApprovalNeeded, ClientSecrets, ConnectFailed, Connected, Endpoints
from providers.graph_auth import (
    ADMIN_APPROVAL_CODES,
    DEFAULT_TIMEOUT,
    aadsts_code,
    address_from_profile,
    admin_consent_url,
    error_name,
    graph_error,
    make_http_client,
    make_msal_app,
    scopes_for,
    token_error,
    unreachable,
)

_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 field name: printable ASCII but the colon
# internetMessageHeaders is a plain property, not one of those Mail.ReadBasic excludes (body,
# bodyPreview, uniqueBody, attachments, extensions, extended properties), yet whether Graph fills it
# for a ReadBasic token is unverified (it may leave it out, or refuse the select with 403): the
# other fields are selected so the headers the classifier needs most (From, To, Subject,
# Message-ID, Date) can be rebuilt from them (see _headers_of).
_BASIC_SELECT = "id,conversationId,internetMessageId,subject,from,toRecipients,receivedDateTime"
_DELTA_SELECT = _BASIC_SELECT + ",internetMessageHeaders"
DELTA_PAGE_SIZE = 50  # asked with Prefer: odata.maxpagesize (Graph's own default is 10)
CLOCK_MARGIN = timedelta(minutes=5)  # a first round's filter starts this much before our "now"
RESYNC_DAYS = 14  # a full resync looks this far back...
RESYNC_MAX_PAGES = 4  # ...and reads at most this many pages (200 messages), newest first
# Seconds before each look for a message's Sent copy after sendMail's 202: at once, then twice more
# as the copy may lag. At most 2 requests a look (by Message-ID, then by recipient/subject/time).
SENT_COPY_WAITS = (0.0, 1.0, 3.0)

log = logging.getLogger(__name__)


# --- sign-in ----------------------------------------------------------------------------------

class MicrosoftConnector:
    """Connects a Microsoft 365 mailbox (implements providers.connect.OAuthConnector)."""

    def __init__(self, secrets: ClientSecrets, endpoints: Endpoints, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._secrets = secrets
        self._endpoints = endpoints
        self._timeout = timeout

    def _app(self, cache: msal.SerializableTokenCache, http: requests.Session) -> msal.ConfidentialClientApplication:
        try:
            return make_msal_app(self._secrets, self._endpoints, cache, http)
        except (requests.RequestException, ValueError, MsalServiceError) as exc:
            raise ConnectFailed(f"Microsoft sign-in is not reachable right now ({type(exc).__name__}); "
                                "please try again in a few minutes") from None

    def begin(self, *, state: str, redirect_uri: str, enhanced: bool) -> tuple[str, dict[str, Any]]:
        app = self._app(msal.SerializableTokenCache(), make_http_client(self._endpoints, self._timeout))
        flow = app.initiate_auth_code_flow(scopes_for(enhanced), redirect_uri=redirect_uri, state=state)
        return flow["auth_uri"], flow

    def finish(self, *, flow: dict[str, Any], query: dict[str, str], redirect_uri: str) -> Connected:
        enhanced_asked = "Mail.Read" in flow.get("scope", [])
        cache = msal.SerializableTokenCache()
        http = make_http_client(self._endpoints, self._timeout)
        app = self._app(cache, http)
        try:
            result = app.acquire_token_by_auth_code_flow(flow, query)
        except ValueError:  # state mismatch or a flow already used (MSAL's text names the values)
            raise ConnectFailed("This Microsoft sign-in link has expired or was already used: "
                                "please start connecting the mailbox again") from None
        except (requests.RequestException, MsalServiceError) as exc:
            raise ConnectFailed(f"Microsoft sign-in did not answer ({type(exc).__name__}); please try again") from None
        if "error" in result:  # from the callback (MSAL checked its state first) or the token endpoint
            raise self._sign_in_error(result, redirect_uri, enhanced_asked)
        granted = set(str(result.get("scope", "")).split())
        if "Mail.Send" not in granted:
            raise ConnectFailed("Microsoft did not grant permission to send mail: please connect again "
                                "and accept all the requested permissions")
        address = self._own_address(http, result["access_token"])
        accounts = app.get_accounts()
        if not accounts:
            raise ConnectFailed("Microsoft sign-in returned no account: please try again")
        credentials = json.dumps({
            "cache": cache.serialize(),
            "home_account_id": accounts[0]["home_account_id"],
            "username": accounts[0].get("username") or address,
        }).encode()
        return Connected(address=address, credentials=credentials, enhanced="Mail.Read" in granted)

    def _own_address(self, http: requests.Session, access_token: str) -> str:
        try:
            response = http.get(f"{self._endpoints.graph_api.rstrip('/')}/me",
                                headers={"Authorization": f"Bearer {access_token}"})
        except requests.RequestException as exc:
            raise ConnectFailed(f"Microsoft Graph did not answer ({type(exc).__name__}); please try again") from None
        if response.status_code != 200:
            raise ConnectFailed(f"Microsoft Graph could not read the mailbox profile ({response.status_code}); "
                                "please try again")
        try:
            return address_from_profile(response.json())
        except (ValueError, PermanentFailure):
            raise ConnectFailed("Microsoft Graph returned no email address for this account") from None

    def _sign_in_error(self, result: dict[str, Any], redirect_uri: str, enhanced: bool) -> ConnectFailed:
        """Plain words for the person; only the error name or AADSTS code, never the raw text."""
        code, error = aadsts_code(result), error_name(result)
        if code in ADMIN_APPROVAL_CODES or error == "consent_required":
            scopes = ", ".join(scopes_for(enhanced))
            return AdminApprovalNeeded(
                f"Your organisation's IT admin must approve this app before you can connect "
                f"(permissions: {scopes}). Send them the approval link; once they have approved, "
                f"connect again. ({code or error})",
                admin_consent_url=admin_consent_url(self._endpoints, self._secrets.client_id, redirect_uri, enhanced),
            )
        if error == "access_denied":
            return ConnectFailed("You cancelled the Microsoft sign-in (or declined the permissions), "
                                 "so the mailbox was not connected")
        return ConnectFailed(f"Microsoft sign-in failed ({code or error}); please try again")


# --- the mailbox ----------------------------------------------------------------------------

class GraphProvider(MailProvider):
    def __init__(self, credentials: bytes, *, secrets: ClientSecrets, endpoints: Endpoints, enhanced: bool,
                 timeout: float = DEFAULT_TIMEOUT, headers_refused: bool = False,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None) -> None:
        """`headers_refused`: Graph refused this mailbox's header select before (the mailbox row
        remembers it), so the sync reads without it. `sleep` and `clock` are for tests."""
        try:
            saved = json.loads(credentials)
            cache_state, self._home_account_id = saved["cache"], saved["home_account_id"]
        except (ValueError, KeyError, TypeError):
            raise ReconnectNeeded("The saved Microsoft sign-in is unreadable: reconnect the mailbox") from None
        self._username = saved.get("username")
        self._cache = msal.SerializableTokenCache()
        self._cache.deserialize(cache_state)
        self._secrets = secrets
        self._endpoints = endpoints
        self._scopes = scopes_for(enhanced)
        self.enhanced = enhanced
        self._graph = endpoints.graph_api.rstrip("/")
        self._http = make_http_client(endpoints, timeout)
        self._app: msal.ConfidentialClientApplication | None = None  # built on first use (it makes a request)
        self.headers_refused = headers_refused
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    # tokens

    def _msal(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                self._app = make_msal_app(self._secrets, self._endpoints, self._cache, self._http)
            except (requests.RequestException, ValueError, MsalServiceError) as exc:
                raise unreachable("sign-in", exc) from None
        return self._app

    def _token(self, *, force_refresh: bool = False) -> tuple[str, bool]:
        """An access token, and whether it came fresh from Microsoft (not from the cache)."""
        app = self._msal()
        account = next((a for a in app.get_accounts() if a.get("home_account_id") == self._home_account_id), None)
        if account is None:
            raise ReconnectNeeded("No saved Microsoft sign-in for this mailbox: reconnect the mailbox")
        try:
            result = app.acquire_token_silent_with_error(self._scopes, account, force_refresh=force_refresh)
        except (requests.RequestException, MsalServiceError) as exc:
            raise unreachable("sign-in", exc) from None
        if not result:  # no refresh token left in the cache
            raise ReconnectNeeded("No saved Microsoft sign-in for this mailbox: reconnect the mailbox")
        if "error" in result:
            raise token_error(result)
        return result["access_token"], result.get("token_source") == "identity_provider"

    # requests

    def _request(self, method: str, url: str, token: str, action: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            return self._http.request(method, url, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise unreachable(f"Graph ({action})", exc) from None

    def _call(self, method: str, url: str, action: str, *, gone_means_expired: bool = False,
              forbidden_means_headers: bool = False, **kwargs: Any) -> requests.Response:
        """One Graph request. A 401 means Graph refused the token before doing anything (for
        sendMail too: nothing was sent), so it is repeated once with a freshly refreshed token;
        a fresh token refused again means the grant is gone."""
        token, fresh = self._token()
        response = self._request(method, url, token, action, **kwargs)
        if response.status_code == 401 and not fresh:
            token, _ = self._token(force_refresh=True)
            response = self._request(method, url, token, action, **kwargs)
        if response.status_code == 410 and gone_means_expired:
            raise _DeltaExpired()
        if response.status_code == 403 and forbidden_means_headers:
            raise _HeadersRefused()
        if response.status_code >= 400:
            raise graph_error(response, action)
        return response

    def _json(self, method: str, url: str, action: str, **kwargs: Any) -> dict[str, Any]:
        response = self._call(method, url, action, **kwargs)
        try:
            found = response.json()
        except ValueError:
            raise TemporaryFailure(f"Microsoft Graph answered {action} with something that is not JSON") from None
        if not isinstance(found, dict):
            raise TemporaryFailure(f"Microsoft Graph answered {action} with an unexpected shape")
        return found

    # MailProvider

    def address(self) -> str:
        return address_from_profile(self._json("GET", f"{self._graph}/me", "profile"))

    def send(self, email: OutgoingEmail) -> SentMessage:
        """Send once, then read back what Exchange stored. Once sendMail answered 202 the mail is
        sent whatever follows: a Sent copy not found (lagging, ambiguous, or the lookup failing)
        gives our own Message-ID and no Graph ids, never an error that could lead to a resend."""
        lookup = SentLookup(email.to_address, email.subject, not_before=self._clock())
        self._call("POST", f"{self._graph}/me/sendMail", "sendMail",
                   data=base64.b64encode(email.to_bytes()), headers={"Content-Type": "text/plain"})
        try:
            found = self._sent_copy(email.message_id, lookup)
        except ProviderError as exc:  # includes RateLimited: no waiting on a send that is done
            log.warning("sent, but its Sent Items copy could not be read (%s): keeping our Message-ID", exc)
            found = None
        except Exception as exc:  # noqa: BLE001 - anything raised here would read as an unclear send
            log.warning("sent, but reading its Sent Items copy failed (unexpected %s): keeping our Message-ID",
                        type(exc).__name__)
            found = None
        return found or SentMessage(email.message_id, provider_message_id="", thread_id=None)

    def _sent_copy(self, message_id: str, lookup: SentLookup) -> SentMessage | None:
        for wait in SENT_COPY_WAITS:
            if wait:
                self._sleep(wait)
            try:
                found = self.find_sent(message_id, lookup)
            except graph_sent.Ambiguous as exc:
                log.warning("sent, but %s: keeping our Message-ID", exc)
                return None
            if found is not None:
                return found
        log.info("sent, but no Sent Items copy after %s lookups: keeping our Message-ID", len(SENT_COPY_WAITS))
        return None

    def find_sent(self, message_id: str, lookup: SentLookup | None = None) -> SentMessage | None:
        """By our Message-ID; failing that, with `lookup`, by recipient, subject and time (Exchange
        may have given it its own Message-ID). Raises graph_sent.Ambiguous when that fits more than
        one message: the caller cannot tell, so it must look again later and never send."""
        page = self._json("GET", self._graph + graph_sent.by_id_path(message_id), "the Sent Items search")
        item = graph_sent.exact(page.get("value") or [], message_id)
        if item is None and lookup is not None:
            item = graph_sent.looks_like(self._sent_window(lookup), message_id, lookup)
        return graph_sent.sent_message(item, message_id) if item is not None else None

    def _sent_window(self, lookup: SentLookup) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = self._graph + graph_sent.window_path(lookup)
        for _ in range(graph_sent.WINDOW_MAX_PAGES):
            assert url is not None
            page = self._json("GET", url, "the Sent Items search")
            items += page.get("value") or []
            url = page.get("@odata.nextLink")
            if not url:
                return items
            url = self._own_link(url)
        raise graph_sent.Ambiguous("Sent Items holds more mail in the send's time window than can be compared")

    def fetch_changes(self, cursor: str | None) -> Changes:
        """New Inbox mail since `cursor` (a delta link).

        None starts from now: a delta round over `receivedDateTime ge <now - CLOCK_MARGIN>` gives a
        delta link without reading the Inbox's past (`$deltatoken=latest` is not honoured for
        messages: Graph answers it with the whole folder); of that round only messages received from
        now on are returned (normally none). The margin keeps a message Graph stamps a little before
        our clock's "now" inside the filter, which every later link of the round carries. With
        `changeType=created` later rounds report only messages created in the Inbox since, so an
        idle poll is one GET of the delta link whatever the Inbox holds. Under basic permissions
        only selected fields are read (never bodies); under enhanced each new message's MIME is
        downloaded too. A delta link Graph forgot (410 SyncStateNotFound) or one that is not on the
        Graph host means a full resync: the last RESYNC_DAYS, newest first, at most RESYNC_MAX_PAGES
        pages (`full_resync=True`). Messages may come again after a resync: the caller dedupes by
        provider_message_id.

        Graph may refuse the select of internetMessageHeaders (403) under Mail.ReadBasic: the
        request is then made without it and, when that works, `headers_refused` is set for the
        caller to remember; a saved cursor asked for headers too, so it is replaced by a resync."""
        if self.headers_refused:
            return self._changes(cursor)
        try:
            return self._changes(cursor)
        except _HeadersRefused:
            pass
        self.headers_refused = True  # a second 403 below is then an ordinary refusal
        try:
            return self._changes(None) if cursor is None else self._full_resync()
        except ProviderError:
            self.headers_refused = False  # not the header select after all: try it again next time
            raise

    def _changes(self, cursor: str | None) -> Changes:
        if cursor is None:
            now = self._now()
            items, link = self._delta(self._round_url(since=now - CLOCK_MARGIN), max_pages=None)
            return Changes([self._inbound(i) for i in items if _parse_graph_time(i.get("receivedDateTime")) >= now],
                           cursor=link)
        if not self._on_graph(cursor):
            return self._full_resync()
        try:
            items, link = self._delta(cursor, max_pages=None)
        except _DeltaExpired:  # Graph forgot the sync state: start over and say so
            return self._full_resync()
        return Changes([self._inbound(item) for item in items], cursor=link)

    def refresh_credentials(self) -> bytes | None:
        if not self._cache.has_state_changed:
            return None
        return json.dumps({"cache": self._cache.serialize(), "home_account_id": self._home_account_id,
                           "username": self._username}).encode()

    # delta sync

    def _now(self) -> datetime:
        return self._clock().replace(microsecond=0)  # Graph's times are to the second

    def _round_url(self, *, since: datetime, newest_first: bool = False) -> str:
        params = {"changeType": "created", "$select": _BASIC_SELECT if self.headers_refused else _DELTA_SELECT,
                  "$filter": f"receivedDateTime ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"}
        if newest_first:
            params["$orderby"] = "receivedDateTime desc"  # the one order message delta supports
        return f"{self._graph}/me/mailFolders/inbox/messages/delta?{_query(params)}"

    def _full_resync(self) -> Changes:
        """The recent past, newest first. If it is longer than RESYNC_MAX_PAGES the rest is dropped
        and a fresh round from when the resync began gives the cursor instead, so nothing that
        arrives meanwhile is missed."""
        started = self._now()
        items, link = self._delta(self._round_url(since=started - timedelta(days=RESYNC_DAYS), newest_first=True),
                                  max_pages=RESYNC_MAX_PAGES)
        items.reverse()  # oldest first, like every poll
        if link is None:
            fresh, link = self._delta(self._round_url(since=started - CLOCK_MARGIN), max_pages=None)
            seen = {item["id"] for item in items}
            items += [item for item in fresh if item["id"] not in seen]
        messages = [self._inbound(item) for item in items]
        return Changes(sorted(messages, key=lambda m: m.received_at), cursor=link, full_resync=True)

    def _delta(self, url: str, *, max_pages: int | None) -> tuple[list[dict[str, Any]], str | None]:
        """One delta round: the messages it reports (not removals) and its deltaLink, the new cursor.
        Bodies are not read here, so the caller downloads only the messages it keeps. With
        `max_pages` the round may stop early, and then there is no deltaLink (None)."""
        items: list[dict[str, Any]] = []
        pages = 0
        while True:
            page = self._delta_page(url)
            pages += 1
            items += [item for item in page.get("value") or [] if "@removed" not in item and item.get("id")]
            if page.get("@odata.nextLink"):
                if max_pages is not None and pages >= max_pages:
                    return items, None
                url = self._own_link(page["@odata.nextLink"])
            elif page.get("@odata.deltaLink"):
                return items, self._own_link(page["@odata.deltaLink"])
            else:
                raise TemporaryFailure("Microsoft Graph ended the inbox sync without a delta link")

    def _delta_page(self, url: str) -> dict[str, Any]:
        return self._json("GET", url, "the inbox sync", gone_means_expired=True,
                          forbidden_means_headers=not self.headers_refused,
                          headers={"Prefer": f"odata.maxpagesize={DELTA_PAGE_SIZE}"})

    def _on_graph(self, link: str) -> bool:
        return urlsplit(link)[:2] == urlsplit(self._graph)[:2]

    def _own_link(self, link: str) -> str:
        """Links Graph hands back get our bearer token: accept only ones on the Graph host."""
        if not self._on_graph(link):
            raise TemporaryFailure("Microsoft Graph returned a sync link to another host")
        return link

    def _inbound(self, item: dict[str, Any]) -> InboundMessage:
        received = _parse_graph_time(item.get("receivedDateTime"))
        return InboundMessage(
            provider_message_id=str(item["id"]),
            thread_id=item.get("conversationId"),
            headers=_headers_of(item, received),
            received_at=received,
            full=self._full_message(str(item["id"])) if self.enhanced else None,
        )

    def _full_message(self, graph_id: str) -> Message:
        response = self._call("GET", f"{self._graph}/me/messages/{quote(graph_id, safe='')}/$value", "a message download")
        return message_from_bytes(response.content, policy=policy.default)


class _DeltaExpired(Exception):
    """410 Gone on a saved delta link (SyncStateNotFound)."""


class _HeadersRefused(Exception):
    """403 on a delta request that selected internetMessageHeaders (Mail.ReadBasic may refuse it)."""


def _query(params: dict[str, str]) -> str:
    """OData system options keep their literal `$`; values are percent-encoded."""
    return "&".join(f"{name}={quote(value, safe=',')}" for name, value in params.items())


def _parse_graph_time(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(timezone.utc)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())  # a header value must not smuggle in a line break


def _headers_of(item: dict[str, Any], received: datetime) -> Message:
    """The message's internet headers when Graph gave them; the basic fields fill what is missing
    (Graph may leave internetMessageHeaders out, e.g. under Mail.ReadBasic)."""
    pairs = [(str(h.get("name")), _one_line(h.get("value", ""))) for h in item.get("internetMessageHeaders") or []
             if _HEADER_NAME.fullmatch(str(h.get("name") or ""))]
    present = {name.lower() for name, _ in pairs}
    sender = (item.get("from") or {}).get("emailAddress") or {}
    recipients = [r.get("emailAddress") or {} for r in item.get("toRecipients") or []]
    fallback = {
        "From": formataddr((_one_line(sender.get("name") or ""), _one_line(sender.get("address") or "")))
        if sender.get("address") else None,
        "To": ", ".join(formataddr((_one_line(r.get("name") or ""), _one_line(r["address"])))
                        for r in recipients if r.get("address")) or None,
        "Subject": _one_line(item["subject"]) if item.get("subject") is not None else None,
        "Message-ID": _one_line(item["internetMessageId"]) if item.get("internetMessageId") else None,
        "Date": format_datetime(received),
    }
    pairs += [(name, value) for name, value in fallback.items() if value is not None and name.lower() not in present]
    return HeaderParser(policy=policy.default).parsestr("".join(f"{n}: {v}\n" for n, v in pairs) + "\n")
