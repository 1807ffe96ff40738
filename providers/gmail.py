"""Gmail: connecting a mailbox (OAuth with PKCE) and the MailProvider over the Gmail API.

Basic permissions are gmail.send + gmail.metadata (headers, never bodies); enhanced swaps metadata
for gmail.readonly. Never both: Gmail refuses `q` and format=raw whenever the token carries
gmail.metadata, even next to readonly, so include_granted_scopes is not used either.

Sends are never retried: googleapiclient gets num_retries=0, and httplib2's own silent resend of a
request whose answer was lost is switched off for POSTs (see _NoResendHttp). Every Google failure
becomes exactly one typed error from providers.base, without tokens or secrets in its message.
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from providers.base import (
    Changes,
    InboundMessage,
    MailProvider,
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    RateLimited,
    ReconnectNeeded,
    SentLookup,
    SentMessage,
    TemporaryFailure,
)
from providers.connect import ClientSecrets, ConnectFailed, Connected, Endpoints

_SCOPE = "https://www.googleapis.com/auth/"
GMAIL_SEND = _SCOPE + "gmail.send"
GMAIL_METADATA = _SCOPE + "gmail.metadata"
GMAIL_READONLY = _SCOPE + "gmail.readonly"
GOOGLE_SCOPES: dict[str, list[str]] = {
    "basic": [GMAIL_SEND, GMAIL_METADATA],
    "enhanced": [GMAIL_SEND, GMAIL_READONLY],
}

# What reply, auto-reply and bounce detection reads under basic permissions (headers only).
INBOUND_HEADERS = [
    "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted",
    "X-Autoreply", "X-Autorespond", "X-Autoresponder", "Precedence", "X-Failed-Recipients",
    "Content-Type", "Return-Path", "X-MS-Exchange-Inbox-Rules-Loop",
]
PAGE_SIZE = 100  # messages.list page for find_sent (basic) and a full resync
HISTORY_PAGE_SIZE = 500  # history.list's maximum: a busy hour is still one call
RESYNC_DAYS = 14  # a full resync looks this far back...
RESYNC_MAX_MESSAGES = 200  # ...and at no more messages than this
HTTP_TIMEOUT = 30.0
DEFAULT_RETRY_AFTER = 60.0
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # an OAuth error code is safe to show; anything else is not


# -- connecting ----------------------------------------------------------------------------------

class GmailConnector:
    """The Google sign-in: begin() gives the consent URL, finish() turns the callback into a mailbox."""

    def __init__(self, secrets: ClientSecrets, endpoints: Endpoints) -> None:
        self.secrets = secrets
        self.endpoints = endpoints

    def begin(self, *, state: str, redirect_uri: str, enhanced: bool) -> tuple[str, dict[str, Any]]:
        scopes = GOOGLE_SCOPES["enhanced" if enhanced else "basic"]
        flow = Flow.from_client_config(self._client_config(), scopes=scopes, redirect_uri=redirect_uri)
        # Flow makes the PKCE verifier and sends its S256 challenge; prompt=consent makes Google
        # issue a refresh token again on a reconnect.
        url, _ = flow.authorization_url(state=state, access_type="offline", prompt="consent")
        return url, {"code_verifier": flow.code_verifier, "scopes": list(scopes), "state": state}

    def finish(self, *, flow: dict[str, Any], query: dict[str, str], redirect_uri: str) -> Connected:
        _check_callback(flow, query)
        grant = self._exchange_code(query["code"], flow["code_verifier"], redirect_uri)
        granted = set(str(grant.get("scope", "")).split())
        if GMAIL_SEND not in granted or not granted & {GMAIL_METADATA, GMAIL_READONLY}:
            raise ConnectFailed("Google did not give the bot every permission it needs. Connect again and tick "
                                "every box on Google's consent screen.")
        if not grant.get("refresh_token"):
            raise ConnectFailed("Google did not give a lasting sign-in (no refresh token). Connect again.")
        enhanced = GMAIL_READONLY in granted
        credentials = _credentials_json(grant["access_token"], grant["refresh_token"],
                                        _expiry_from(grant.get("expires_in")), sorted(granted))
        provider = GmailProvider(credentials, secrets=self.secrets, endpoints=self.endpoints, enhanced=enhanced)
        try:
            address = provider.address()
        except ProviderError as error:
            raise ConnectFailed(f"Signed in, but Gmail did not tell us the mailbox's address ({error}). "
                                "Connect again.") from None
        return Connected(address=address, credentials=provider.current_credentials(), enhanced=enhanced)

    def _client_config(self) -> dict[str, Any]:
        return {"web": {"client_id": self.secrets.client_id, "client_secret": self.secrets.client_secret,
                        "auth_uri": self.endpoints.google_auth_uri, "token_uri": self.endpoints.google_token_uri}}

    def _exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token request, done here rather than through requests-oauthlib: that library logs the
        request body (code, client secret, verifier) and the tokens at DEBUG level."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.secrets.client_id, "client_secret": self.secrets.client_secret,
                "code_verifier": code_verifier}
        try:
            response = requests.post(self.endpoints.google_token_uri, data=form, timeout=HTTP_TIMEOUT,
                                     verify=self.endpoints.ca_file or True)
        except requests.RequestException:
            raise ConnectFailed("Could not reach Google's sign-in service. Try connecting again.") from None
        answer = _json_object(response.content)
        if response.status_code != 200 or not answer.get("access_token"):
            code_name = _safe_code(answer.get("error")) or f"HTTP {response.status_code}"
            raise ConnectFailed(f"Google refused to finish the sign-in ({code_name}). Connect again.")
        return answer


def _check_callback(flow: dict[str, Any], query: dict[str, str]) -> None:
    error = query.get("error")
    if error == "access_denied":
        raise ConnectFailed("You cancelled the Google sign-in, so no mailbox was connected. "
                            "Connect again when you are ready.")
    if error:
        raise ConnectFailed(f"Google did not complete the sign-in ({_safe_code(error) or 'unknown error'}). "
                            "Connect again.")
    if flow.get("state") and query.get("state") != flow["state"]:
        raise ConnectFailed("This sign-in link does not match the one we started. Connect again.")
    if not query.get("code"):
        raise ConnectFailed("Google's answer had no sign-in code. Connect again.")


def _safe_code(value: object) -> str | None:
    return value if isinstance(value, str) and _ERROR_CODE.fullmatch(value) else None


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- stored credentials --------------------------------------------------------------------------

def _expiry_from(expires_in: object) -> datetime | None:
    if not isinstance(expires_in, (int, float)):
        return None
    return datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() + expires_in, timezone.utc)


def _credentials_json(token: str | None, refresh_token: str | None, expiry: datetime | None,
                      scopes: list[str]) -> bytes:
    """The JSON kept (encrypted) per mailbox. The client secret is not in it: it comes from the
    configuration when the credentials are loaded."""
    return json.dumps({
        "token": token, "refresh_token": refresh_token, "scopes": scopes,
        "expiry": expiry.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if expiry else None,
    }).encode()


def _load_credentials(data: bytes, secrets: ClientSecrets, endpoints: Endpoints) -> Credentials:
    saved = json.loads(data)
    expiry = None
    if saved.get("expiry"):
        # google-auth compares expiry with a naive UTC "now"
        expiry = datetime.strptime(saved["expiry"], "%Y-%m-%dT%H:%M:%SZ")
    return Credentials(saved.get("token"), refresh_token=saved.get("refresh_token"),
                       token_uri=endpoints.google_token_uri, client_id=secrets.client_id,
                       client_secret=secrets.client_secret, scopes=saved.get("scopes"), expiry=expiry)


# -- error mapping -------------------------------------------------------------------------------

class GmailNotFound(PermanentFailure):
    """A 404: a message deleted since it was listed, or a history id too old to replay."""


@contextmanager
def _google_errors(action: str) -> Iterator[None]:
    """Turns whatever the Google libraries raise into one typed ProviderError. `from None`: the
    libraries' own exceptions are not ours to vouch for, so they never travel along."""
    try:
        yield
    except google.auth.exceptions.RefreshError as error:
        raise _refresh_error(error) from None
    except HttpError as error:
        raise _http_error(error, action) from None
    except (google.auth.exceptions.TransportError, httplib2.HttpLib2Error, http.client.HTTPException, OSError) as error:
        # OSError covers timeouts, refused and reset connections and TLS failures.
        raise TemporaryFailure(f"Gmail {action}: could not reach Google ({type(error).__name__})") from None


def _refresh_error(error: google.auth.exceptions.RefreshError) -> ProviderError:
    if getattr(error, "retryable", False):
        return TemporaryFailure("Google's token service failed for now; the saved sign-in is still good")
    details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = _safe_code(details.get("error")) or "no usable refresh token"
    return ReconnectNeeded(f"Google refused the saved sign-in ({code}): reconnect the mailbox")


def _http_error(error: HttpError, action: str) -> ProviderError:
    status = error.resp.status
    reasons = _error_reasons(error.content)
    message = f"Gmail {action}: {status} {error.reason}".rstrip()
    if status == 401:  # still refused after google-auth refreshed the token
        return ReconnectNeeded(f"Google refused the saved sign-in ({status}): reconnect the mailbox")
    if status == 403 and "insufficientPermissions" in reasons:
        return ReconnectNeeded("Gmail says a permission is missing (insufficientPermissions): reconnect the "
                               "mailbox and tick every box on Google's consent screen")
    if status == 429 or (status == 403 and reasons & _RATE_REASONS):
        return RateLimited(message, retry_after=_retry_after(error.resp.get("retry-after")))
    if status >= 500 or status == 408:
        return TemporaryFailure(message)
    if status == 404:
        return GmailNotFound(message)
    return PermanentFailure(message)  # 400 bad recipient and the like: Google's message holds no secret


def _error_reasons(content: bytes) -> set[str]:
    error = _json_object(content).get("error")
    if not isinstance(error, dict):
        return set()
    items = [*(error.get("errors") or []), *(error.get("details") or [])]
    return {str(item["reason"]) for item in items if isinstance(item, dict) and item.get("reason")}


def _retry_after(value: str | None) -> float:
    if not value:
        return DEFAULT_RETRY_AFTER
    if value.strip().isdigit():
        return float(value.strip())
    try:  # the HTTP-date form
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


class _NoResendHttp(httplib2.Http):
    """httplib2 quietly sends a request a second time when the connection closes before the answer
    (it takes that for a stale keep-alive connection). For messages.send that is a second email, so a
    POST gets exactly one attempt, on a fresh connection (a stale one would fail a send for nothing).
    GETs keep httplib2's behaviour."""

    def _conn_request(self, conn: Any, request_uri: str, method: str, body: Any, headers: dict[str, str]) -> Any:
        if method != "POST":
            return super()._conn_request(conn, request_uri, method, body, headers)
        headers["accept-encoding"] = "identity"  # the answer is small; no decompression step to redo
        conn.close()
        try:
            conn.connect()
            conn.request(method, request_uri, body, headers)
            response = conn.getresponse()
            content = response.read()
        except socket.gaierror:
            conn.close()
            raise httplib2.ServerNotFoundError("Unable to find the server") from None
        except BaseException:
            conn.close()
            raise
        return httplib2.Response(response), content


# -- the provider --------------------------------------------------------------------------------

class GmailProvider(MailProvider):
    def __init__(self, credentials: bytes, *, secrets: ClientSecrets, endpoints: Endpoints, enhanced: bool) -> None:
        self.endpoints = endpoints
        self.enhanced = enhanced
        self._credentials = _load_credentials(credentials, secrets, endpoints)
        self._loaded_token = self._credentials.token
        self._local = threading.local()  # httplib2 is not thread-safe: one client per sending thread
        self._address: str | None = None

    def __repr__(self) -> str:
        return f"GmailProvider(enhanced={self.enhanced})"

    def _users(self) -> Any:
        """The Gmail service of this thread, built on first use (building costs tens of milliseconds)."""
        gmail = getattr(self._local, "gmail", None)
        if gmail is None:
            transport = _NoResendHttp(ca_certs=self.endpoints.ca_file, timeout=HTTP_TIMEOUT)
            authorized = google_auth_httplib2.AuthorizedHttp(self._credentials, http=transport)
            gmail = self._local.gmail = build("gmail", "v1", http=authorized, static_discovery=True,
                                              cache_discovery=False,
                                              client_options={"api_endpoint": self.endpoints.gmail_api})
        return gmail.users()

    def _execute(self, request: Any, action: str) -> dict[str, Any]:
        with _google_errors(action):
            return request.execute(num_retries=0)

    # sending ------------------------------------------------------------------------------------
    def send(self, email: OutgoingEmail) -> SentMessage:
        body: dict[str, str] = {"raw": base64.urlsafe_b64encode(email.to_bytes()).decode("ascii")}
        if email.thread_id:
            body["threadId"] = email.thread_id
        answer = self._execute(self._users().messages().send(userId="me", body=body), "send")
        return SentMessage(email.message_id, answer["id"], answer.get("threadId"))

    def find_sent(self, message_id: str, lookup: SentLookup | None = None) -> SentMessage | None:
        if self.enhanced:
            return self._find_sent_by_search(message_id)
        return self._find_sent_by_headers(message_id)

    def _find_sent_by_search(self, message_id: str) -> SentMessage | None:
        request = self._users().messages().list(userId="me", labelIds=["SENT"], q=f"rfc822msgid:{_bare(message_id)}")
        found = self._execute(request, "find_sent").get("messages") or []
        return SentMessage(message_id, found[0]["id"], found[0].get("threadId")) if found else None

    def _find_sent_by_headers(self, message_id: str) -> SentMessage | None:
        """gmail.metadata refuses `q`: read the Message-ID of the newest Sent messages, newest first,
        stopping at the match (a send being reconciled is recent, so this is usually one read)."""
        messages = self._users().messages()
        listing = self._execute(messages.list(userId="me", labelIds=["SENT"], maxResults=PAGE_SIZE), "find_sent")
        for ref in listing.get("messages") or []:
            meta = self._get_or_none(messages.get(userId="me", id=ref["id"], format="metadata",
                                                  metadataHeaders=["Message-ID"]), "find_sent")
            if meta is not None and _bare(_header(meta, "Message-ID") or "") == _bare(message_id):
                return SentMessage(message_id, meta["id"], meta.get("threadId"))
        return None

    # receiving ----------------------------------------------------------------------------------
    def fetch_changes(self, cursor: str | None) -> Changes:
        """Inbound INBOX mail since `cursor` (a Gmail historyId).

        None starts from now: one getProfile, no messages. Otherwise one history.list call (more only
        when a page is full), then one messages.get per new message: format=metadata with
        INBOUND_HEADERS under basic permissions, format=raw under enhanced. An idle poll is therefore
        exactly one request, whatever the mailbox holds. A historyId Gmail no longer keeps (404, after
        about a week) or one that is not a number means a full resync, bounded to the INBOX's newest
        RESYNC_MAX_MESSAGES received in the last RESYNC_DAYS (`full_resync=True`). Messages may come
        again after a resync: the caller dedupes by provider_message_id."""
        if cursor is None:  # a new mailbox starts from now, not from its whole past
            return Changes([], cursor=str(self._profile()["historyId"]))
        if not cursor.isdigit():
            return self._full_resync()
        try:
            added, new_cursor = self._history_since(cursor)
        except GmailNotFound:
            return self._full_resync()
        return Changes([m for m in map(self._inbound, added) if m is not None], cursor=new_cursor)

    def _history_since(self, cursor: str) -> tuple[list[str], str]:
        """Ids of messages added to INBOX after `cursor`, oldest first, and the new cursor.
        A stale cursor answers 404 (GmailNotFound)."""
        history = self._users().history()
        ids: list[str] = []
        new_cursor, page_token = cursor, None
        while True:
            answer = self._execute(history.list(userId="me", startHistoryId=cursor, historyTypes=["messageAdded"],
                                                labelId="INBOX", maxResults=HISTORY_PAGE_SIZE,
                                                pageToken=page_token), "fetch_changes")
            for record in answer.get("history") or []:
                ids += [added["message"]["id"] for added in record.get("messagesAdded") or []]
            new_cursor = str(answer.get("historyId") or new_cursor)
            page_token = answer.get("nextPageToken")
            if not page_token:
                return list(dict.fromkeys(ids)), new_cursor

    def _full_resync(self) -> Changes:
        """The INBOX's recent past, newest first until a message older than RESYNC_DAYS or
        RESYNC_MAX_MESSAGES. No `q` search (gmail.metadata refuses it): messages.list is newest first,
        so the walk stops at the first message past the cutoff."""
        # The cursor is read first: mail arriving during the listing is seen again next time, not lost.
        cursor = str(self._profile()["historyId"])
        cutoff = datetime.now(timezone.utc) - timedelta(days=RESYNC_DAYS)
        found: list[InboundMessage] = []
        page_token = None
        while len(found) < RESYNC_MAX_MESSAGES:
            listing = self._execute(self._users().messages().list(
                userId="me", labelIds=["INBOX"], maxResults=PAGE_SIZE, pageToken=page_token), "fetch_changes")
            for ref in listing.get("messages") or []:
                if len(found) >= RESYNC_MAX_MESSAGES:
                    break
                message = self._inbound(ref["id"])
                if message is None:
                    continue
                if message.received_at < cutoff:
                    return Changes(found[::-1], cursor=cursor, full_resync=True)
                found.append(message)
            page_token = listing.get("nextPageToken")
            if not page_token:
                break
        return Changes(found[::-1], cursor=cursor, full_resync=True)  # oldest first, like history

    def _inbound(self, gmail_id: str) -> InboundMessage | None:
        """One incoming message: headers only under basic, the whole message under enhanced.
        None when it was deleted after it arrived."""
        messages = self._users().messages()
        if self.enhanced:
            answer = self._get_or_none(messages.get(userId="me", id=gmail_id, format="raw"), "fetch_changes")
            if answer is None:
                return None
            full = message_from_bytes(base64.urlsafe_b64decode(_padded(answer["raw"])), policy=policy.default)
            headers: Message = full
        else:
            answer = self._get_or_none(messages.get(userId="me", id=gmail_id, format="metadata",
                                                    metadataHeaders=INBOUND_HEADERS), "fetch_changes")
            if answer is None:
                return None
            full, headers = None, _headers_message(answer)
        received = datetime.fromtimestamp(int(answer.get("internalDate", 0)) / 1000, timezone.utc)
        return InboundMessage(answer["id"], answer.get("threadId"), headers, received, full)

    def _get_or_none(self, request: Any, action: str) -> dict[str, Any] | None:
        """messages.get, with a 404 (deleted since it was listed) as None."""
        try:
            return self._execute(request, action)
        except GmailNotFound:
            return None

    # the mailbox --------------------------------------------------------------------------------
    def _profile(self) -> dict[str, Any]:
        return self._execute(self._users().getProfile(userId="me"), "getProfile")

    def address(self) -> str:
        if self._address is None:
            self._address = str(self._profile()["emailAddress"]).lower()
        return self._address

    def current_credentials(self) -> bytes:
        creds = self._credentials
        return _credentials_json(creds.token, creds.refresh_token, _aware(creds.expiry), list(creds.scopes or []))

    def refresh_credentials(self) -> bytes | None:
        """New credentials to store when google-auth refreshed the access token since load (or since
        the last call that returned some), else None."""
        if self._credentials.token == self._loaded_token:
            return None
        self._loaded_token = self._credentials.token
        return self.current_credentials()


def _aware(expiry: datetime | None) -> datetime | None:
    return expiry.replace(tzinfo=timezone.utc) if expiry is not None and expiry.tzinfo is None else expiry


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def _padded(data: str) -> str:
    return data + "=" * (-len(data) % 4)


def _header(answer: dict[str, Any], name: str) -> str | None:
    for item in (answer.get("payload") or {}).get("headers") or []:
        if str(item.get("name", "")).lower() == name.lower():
            return str(item.get("value", ""))
    return None


def _headers_message(answer: dict[str, Any]) -> Message:
    """The metadata answer's headers as a headers-only Message, parsed like a real header block
    (the same policy as a full message, so callers read both the same way)."""
    lines = []
    for item in (answer.get("payload") or {}).get("headers") or []:
        value = " ".join(str(item.get("value", "")).splitlines())  # no header smuggled in by a line break
        lines.append(f"{item.get('name')}: {value}")
    return HeaderParser(policy=policy.default).parsestr("\n".join(lines) + "\n\n")
