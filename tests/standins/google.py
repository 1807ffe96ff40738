"""A local stand-in for Google: OAuth (authorize + token endpoints) and the Gmail API paths that
googleapiclient produces with `api_endpoint` pointed here, over https on 127.0.0.1.

It behaves like the real services where our code depends on it: codes are single-use and bound to
the redirect URI and the PKCE challenge; access tokens carry their scopes and the API enforces them
(gmail.metadata refuses `q` and format=raw/full even with other scopes); errors have Google's JSON
shapes. Tests script failures (`fail_next`, `drop_next`, `revoke`, `expire_access_tokens`,
`expire_history`) and deliver incoming mail with `deliver` (with a past `received` time to build a
mailbox's history). history.list pages up to `maxResults` (at most 500, and at most
`history_page_size`), messages.list is newest first by internalDate, and every call is counted in
`requests` by kind (`api_calls` is their total), so tests can count what a sync costs.

    with GoogleStandIn(certs, client_id="cid", client_secret="sec") as google:
        google.sign_in_as("ann@agency.example")
        ... google.endpoints ...
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import json
import secrets
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from providers.connect import Connected, Endpoints, OAuthConnector
from tests.standins.tls import TestCertificates

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
SEND = SCOPE_PREFIX + "gmail.send"
METADATA = SCOPE_PREFIX + "gmail.metadata"
READONLY = SCOPE_PREFIX + "gmail.readonly"
READ_SCOPES = {METADATA, READONLY}
AUTH_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"
API_PREFIX = "/gmail/v1/users/me/"
KINDS = ("send", "get", "list", "history", "profile")


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    label_ids: list[str]
    raw: bytes
    internal_date_ms: int
    history_id: int

    def header(self, name: str) -> str | None:
        return _parse(self.raw).get(name)


@dataclass
class Mailbox:
    address: str
    messages: dict[str, StoredMessage] = field(default_factory=dict)  # in arrival order
    history: list[dict[str, Any]] = field(default_factory=list)
    history_id: int = 1000
    oldest_history_id: int = 0  # history.list below this answers 404 (Google keeps about a week)
    threads: dict[str, str] = field(default_factory=dict)  # Message-ID header -> thread, as Gmail indexes it


@dataclass
class Token:
    address: str
    scopes: list[str]
    expired: bool = False


@dataclass
class Fault:
    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None
    drop: bool = False  # close the connection without an answer
    accept: bool = False  # with drop: do the work first (the send went out, the answer was lost)


def _parse(raw: bytes) -> Message:
    return message_from_bytes(raw)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def google_error(status: int, message: str, reason: str) -> dict[str, Any]:
    """The error body Google's JSON APIs answer with."""
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}],
                      "status": names.get(status, "UNKNOWN")}}


class _ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.body, self.headers = status, google_error(status, message, reason), headers or {}


class GoogleStandIn:
    def __init__(self, certs: TestCertificates, *, client_id: str, client_secret: str,
                 redirect_uris: tuple[str, ...] = ("https://bot.example/oauth/google/callback",)) -> None:
        self.certs = certs
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris = set(redirect_uris)
        self.requests: Counter[str] = Counter()  # per kind: authorize, token, send, get, list, history, profile
        self.queries: list[tuple[str, dict[str, list[str]]]] = []  # (kind, query) of every API call
        self.history_page_size = 500  # the server's cap on a history page (tests lower it to force paging)
        self._lock = threading.RLock()
        self._mailboxes: dict[str, Mailbox] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._access: dict[str, Token] = {}
        self._refresh: dict[str, Token] = {}
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._next_login: dict[str, Any] = {}
        self._ids = itertools.count(0x18C2F0000000)
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> GoogleStandIn:
        self._server = _HttpsServer(("127.0.0.1", 0), _Handler, self)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="google-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GoogleStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(google_auth_uri=self.base_url + AUTH_PATH, google_token_uri=self.base_url + TOKEN_PATH,
                         gmail_api=self.base_url + "/", ca_file=self.certs.ca_file)

    # -- controls for tests ----------------------------------------------------------------------
    def sign_in_as(self, address: str, *, deny: bool = False, grant: list[str] | None = None) -> None:
        """Who the next visit to the authorize endpoint signs in as, and what they consent to:
        `deny` presses Cancel; `grant` unticks boxes (only these of the asked scopes are granted)."""
        self._next_login = {"address": address.lower(), "deny": deny, "grant": grant}

    def connect(self, connector: OAuthConnector, address: str, *, enhanced: bool = False) -> Connected:
        """A whole sign-in through the bot's real connector: begin, the browser's visit to the
        consent screen (as `address`, every box ticked), the callback, finish."""
        redirect_uri = sorted(self.redirect_uris)[0]
        url, flow = connector.begin(state=secrets.token_urlsafe(8), redirect_uri=redirect_uri, enhanced=enhanced)
        self.sign_in_as(address)
        answer = requests.get(url, allow_redirects=False, verify=self.certs.ca_file, timeout=10)
        assert answer.status_code == 302, answer.text
        query = {k: v[-1] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
        return connector.finish(flow=flow, query=query, redirect_uri=redirect_uri)

    def revoke(self, address: str) -> None:
        """The person removed the app's access (or changed their password): every token dies."""
        with self._lock:
            for tokens in (self._access, self._refresh):
                for key in [k for k, t in tokens.items() if t.address == address.lower()]:
                    del tokens[key]

    def expire_access_tokens(self, address: str) -> None:
        with self._lock:
            for token in self._access.values():
                if token.address == address.lower():
                    token.expired = True

    def fail_next(self, kind: str, status: int, headers: dict[str, str] | None = None,
                  reason: str | None = None, message: str | None = None) -> None:
        """The next `kind` call (send, get, list, history, profile) answers this error."""
        assert kind in KINDS, kind
        default_reason = {400: "invalidArgument", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded"}
        body = google_error(status, message or f"stand-in {status}",
                            reason or default_reason.get(status, "backendError"))
        self._faults[kind].append(Fault(status, headers or {}, body))

    def drop_next(self, kind: str, *, accept: bool) -> None:
        """The next `kind` call gets no answer: the connection closes. With `accept` the work is done
        first (for a send: the mail went out and only the answer was lost)."""
        self._faults[kind].append(Fault(0, {}, None, drop=True, accept=accept))

    def clear_faults(self) -> None:
        self._faults.clear()

    def expire_history(self, address: str) -> None:
        """History before now is gone: history.list with an older startHistoryId answers 404."""
        with self._lock:
            box = self.mailbox(address)
            box.oldest_history_id = box.history_id

    def deliver(self, address: str, raw: bytes, *, received: datetime | None = None) -> str:
        """Incoming mail into INBOX. A reply joins the thread of the message its In-Reply-To (or
        References) names, as Gmail threads it. `received` (default now) is its internalDate.
        Returns the Gmail message id."""
        with self._lock:
            box = self.mailbox(address)
            parsed = _parse(raw)
            named = str(parsed.get("In-Reply-To", "")).split() + str(parsed.get("References", "")).split()
            thread = next((box.threads[ref] for ref in named if ref in box.threads), None)
            return self._store(box, raw, ["INBOX", "UNREAD"], thread, received).id

    @property
    def api_calls(self) -> int:
        """Every Gmail API call so far (token and consent-screen requests are not API calls)."""
        return sum(self.requests[kind] for kind in KINDS)

    def mailbox(self, address: str) -> Mailbox:
        with self._lock:
            return self._mailboxes.setdefault(address.lower(), Mailbox(address.lower()))

    def sent(self, address: str) -> list[Message]:
        return [_parse(m.raw) for m in self.mailbox(address).messages.values() if "SENT" in m.label_ids]

    def access_tokens(self, address: str) -> list[str]:
        with self._lock:
            return [key for key, token in self._access.items() if token.address == address.lower()]

    def refresh_tokens(self, address: str) -> list[str]:
        with self._lock:
            return [key for key, token in self._refresh.items() if token.address == address.lower()]

    # -- state changes ---------------------------------------------------------------------------
    def _store(self, box: Mailbox, raw: bytes, labels: list[str], thread: str | None,
               received: datetime | None = None) -> StoredMessage:
        message_id = format(next(self._ids), "x")
        box.history_id += 1
        when_ms = int((received.timestamp() if received else time.time()) * 1000)
        stored = StoredMessage(message_id, thread or message_id, labels, raw, when_ms, box.history_id)
        box.messages[message_id] = stored
        header_id = _parse(raw).get("Message-ID")
        if header_id:
            box.threads.setdefault(str(header_id).strip(), stored.thread_id)
        box.history.append({"id": str(box.history_id), "messagesAdded": [{"message": self._ref(stored, labels=True)}]})
        return stored

    @staticmethod
    def _ref(message: StoredMessage, labels: bool = False) -> dict[str, Any]:
        ref: dict[str, Any] = {"id": message.id, "threadId": message.thread_id}
        if labels:
            ref["labelIds"] = list(message.label_ids)
        return ref

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            return self._faults[kind].pop(0) if self._faults.get(kind) else None

    # -- OAuth -----------------------------------------------------------------------------------
    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The consent screen: answers a redirect to redirect_uri, or an error page like Google's."""
        if query.get("client_id") != self.client_id:
            return 401, {}, b"Error 401: invalid_client"
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return 400, {}, b"Error 400: redirect_uri_mismatch"
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256" \
                or len(query.get("code_challenge", "")) != 43:
            return 400, {}, b"Error 400: invalid_request"
        asked = query.get("scope", "").split()
        if SEND not in asked or not set(asked) & READ_SCOPES:
            return 400, {}, b"Error 400: invalid_scope"
        login, self._next_login = self._next_login, {}
        if not login:
            return 400, {}, b"stand-in: call sign_in_as() before visiting the authorize URL"
        answer: dict[str, str] = {"state": query.get("state", "")}
        if login["deny"]:
            answer["error"] = "access_denied"
        else:
            granted = [s for s in asked if login["grant"] is None or s in login["grant"]]
            code = "4/0A" + secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = {"address": login["address"], "scopes": granted, "redirect_uri": redirect_uri,
                                     "challenge": query["code_challenge"], "used": False}
            answer.update(code=code, scope=" ".join(granted), authuser="0", prompt="consent")
        return 302, {"Location": f"{redirect_uri}?{urlencode(answer)}"}, b""

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._exchange_code(form)
            if grant_type == "refresh_token":
                return self._refresh_grant(form)
        return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + str(grant_type)}

    def _exchange_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self._codes.get(form.get("code", ""))
        if grant is None or grant["used"]:
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        grant["used"] = True  # single-use, even when the rest of this request is wrong
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
        verifier = form.get("code_verifier")
        if not verifier:
            return 400, {"error": "invalid_grant", "error_description": "Missing code verifier."}
        if _challenge(verifier) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
        refresh = "1//0g" + secrets.token_urlsafe(32)
        self._refresh[refresh] = Token(grant["address"], grant["scopes"])
        self.mailbox(grant["address"])
        return 200, {**self._new_access(grant["address"], grant["scopes"]), "refresh_token": refresh}

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self._refresh.get(form.get("refresh_token", ""))
        if grant is None:
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        asked = form.get("scope", "").split() or grant.scopes
        if not set(asked) <= set(grant.scopes):
            return 400, {"error": "invalid_scope", "error_description": "Bad Request"}
        return 200, self._new_access(grant.address, asked)

    def _new_access(self, address: str, scopes: list[str]) -> dict[str, Any]:
        token = "ya29.a0" + secrets.token_urlsafe(32)
        self._access[token] = Token(address, list(scopes))
        return {"access_token": token, "expires_in": 3599, "scope": " ".join(scopes), "token_type": "Bearer"}

    # -- Gmail API -------------------------------------------------------------------------------
    def api(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
            body: bytes) -> tuple[Fault | None, int, dict[str, str], dict[str, Any]]:
        """One Gmail call: (drop fault or None, status, headers, JSON body)."""
        kind, message_id = _route(method, path[len(API_PREFIX):])
        if kind is None:
            return None, 404, {}, google_error(404, "Not Found", "notFound")
        self.requests[kind] += 1
        self.queries.append((kind, query))
        fault = self._take_fault(kind)
        if fault is not None and fault.drop and not fault.accept:
            return fault, 0, {}, {}  # lost on the way in: nothing was done
        try:
            token = self._authenticate(headers.get("authorization", ""))
            if fault is not None and not fault.drop:
                return None, fault.status, fault.headers, fault.body or {}
            with self._lock:
                answer = self._call(kind, token, message_id, query, body)
        except _ApiError as error:
            return None, error.status, error.headers, error.body
        return fault, 200, {}, answer  # with a drop fault the work is done but the answer is lost

    def _authenticate(self, authorization: str) -> Token:
        scheme, _, value = authorization.partition(" ")
        with self._lock:
            token = self._access.get(value) if scheme.lower() == "bearer" else None
        if token is None or token.expired:
            raise _ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                            "login cookie or other valid authentication credential.", "authError",
                            {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})
        return token

    def _call(self, kind: str, token: Token, message_id: str | None, query: dict[str, list[str]],
              body: bytes) -> dict[str, Any]:
        box = self.mailbox(token.address)
        needed = {SEND} if kind == "send" else READ_SCOPES
        if not needed & set(token.scopes):
            raise _ApiError(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
        metadata_only = METADATA in token.scopes  # even alongside readonly, as Gmail does
        if metadata_only and "q" in query:
            raise _ApiError(403, "Metadata scope does not support 'q' parameter", "forbidden")
        if kind == "send":
            return self._send(box, json.loads(body or b"{}"))
        if kind == "profile":
            return {"emailAddress": box.address, "messagesTotal": len(box.messages),
                    "threadsTotal": len({m.thread_id for m in box.messages.values()}),
                    "historyId": str(box.history_id)}
        if kind == "list":
            return self._list(box, query)
        if kind == "history":
            return self._history(box, query)
        return self._get(box, message_id or "", query, metadata_only)

    def _send(self, box: Mailbox, body: dict[str, Any]) -> dict[str, Any]:
        try:
            raw = _b64url_decode(body["raw"])
        except (KeyError, ValueError, TypeError):
            raise _ApiError(400, "'raw' RFC822 payload message string or uploading message via /upload/* URL "
                            "required", "invalidArgument") from None
        parsed = _parse(raw)
        recipients = [addr for _, addr in getaddresses(parsed.get_all("To", []) + parsed.get_all("Cc", []))
                      if "@" in addr]
        if not recipients:
            raise _ApiError(400, "Invalid To header", "invalidArgument")
        if any(addr.rpartition("@")[2].endswith(".invalid") for addr in recipients):
            raise _ApiError(400, "Invalid recipient address", "invalidArgument")
        thread = body.get("threadId")
        if thread is not None and thread not in {m.thread_id for m in box.messages.values()}:
            raise _ApiError(404, "Requested entity was not found.", "notFound")
        if parsed.get("Message-ID") is None:  # Gmail adds one; it keeps the client's (our pre-generated one)
            raw = f"Message-ID: {make_msgid(domain='mail.gmail.com')}\r\n".encode() + raw
        stored = self._store(box, raw, ["SENT"], thread)
        return {**self._ref(stored), "labelIds": ["SENT"]}

    def _list(self, box: Mailbox, query: dict[str, list[str]]) -> dict[str, Any]:
        labels = set(query.get("labelIds", []))
        newest_first = sorted(reversed(box.messages.values()), key=lambda m: m.internal_date_ms, reverse=True)
        found = [m for m in newest_first if labels <= set(m.label_ids)]
        for q in query.get("q", []):
            kind, _, value = q.partition(":")
            if kind != "rfc822msgid":
                raise _ApiError(400, "stand-in: only rfc822msgid: searches are implemented", "invalidArgument")
            found = [m for m in found if (m.header("Message-ID") or "").strip("<> ") == value.strip("<> ")]
        start = int(query.get("pageToken", ["0"])[0])
        size = int(query.get("maxResults", ["100"])[0])
        page = found[start:start + size]
        answer: dict[str, Any] = {"resultSizeEstimate": len(page)}
        if page:  # Gmail leaves "messages" out entirely when nothing matches
            answer["messages"] = [self._ref(m) for m in page]
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        return answer

    def _history(self, box: Mailbox, query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            start = int(query["startHistoryId"][0])
        except (KeyError, ValueError):
            raise _ApiError(400, "Invalid startHistoryId", "invalidArgument") from None
        if start < box.oldest_history_id:
            raise _ApiError(404, "Requested entity was not found.", "notFound")
        label = query.get("labelId", [None])[0]
        size = min(int(query.get("maxResults", ["100"])[0]), 500, self.history_page_size)
        records = []
        # history is in id order: start after `start` without reading the mailbox's whole past
        for record in box.history[bisect.bisect_right(box.history, start, key=lambda r: int(r["id"])):]:
            added = [a for a in record["messagesAdded"] if label is None or label in a["message"]["labelIds"]]
            if added:
                records.append({"id": record["id"], "messages": [a["message"] for a in added],
                                "messagesAdded": added})
        offset = int(query.get("pageToken", ["0"])[0])
        page = records[offset:offset + size]
        answer: dict[str, Any] = {"historyId": str(box.history_id)}
        if page:
            answer["history"] = page
        if offset + size < len(records):
            answer["nextPageToken"] = str(offset + size)
        return answer

    def _get(self, box: Mailbox, message_id: str, query: dict[str, list[str]], metadata_only: bool) -> dict[str, Any]:
        message = box.messages.get(message_id)
        if message is None:
            raise _ApiError(404, "Requested entity was not found.", "notFound")
        form = query.get("format", ["full"])[0]
        if metadata_only and form in ("full", "raw"):
            raise _ApiError(403, f"Metadata scope doesn't allow format {form.upper()}", "forbidden")
        answer: dict[str, Any] = {**self._ref(message, labels=True), "historyId": str(message.history_id),
                                  "internalDate": str(message.internal_date_ms), "sizeEstimate": len(message.raw)}
        if form == "raw":
            answer["raw"] = base64.urlsafe_b64encode(message.raw).decode()
        elif form == "metadata":
            wanted = {name.lower() for name in query.get("metadataHeaders", [])}
            parsed = _parse(message.raw)
            answer["payload"] = {"mimeType": parsed.get_content_type(), "headers": [
                {"name": name, "value": str(value)} for name, value in parsed.items()
                if not wanted or name.lower() in wanted]}
        elif form != "minimal":
            raise _ApiError(400, "stand-in: format=full is not implemented", "invalidArgument")
        return answer


def _route(method: str, rest: str) -> tuple[str | None, str | None]:
    if method == "POST" and rest == "messages/send":
        return "send", None
    if method == "GET" and rest == "profile":
        return "profile", None
    if method == "GET" and rest == "messages":
        return "list", None
    if method == "GET" and rest == "history":
        return "history", None
    if method == "GET" and rest.startswith("messages/") and "/" not in rest[len("messages/"):]:
        return "get", rest[len("messages/"):]
    return None, None


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], google: GoogleStandIn) -> None:
        super().__init__(address, handler)
        self.google = google
        self.ssl_context = google.certs.server_context()

    def get_request(self) -> Any:
        # The TLS handshake happens in the connection's own thread (on first read), not in accept().
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out as separate writes
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends do
    server: _HttpsServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests scan log output
        return

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, headers: dict[str, str], body: bytes, content_type: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        google = self.server.google
        url = urlsplit(self.path)
        body = self._body()
        if method == "GET" and url.path == AUTH_PATH:
            google.requests["authorize"] += 1
            status, headers, page = google.authorize({k: v[-1] for k, v in parse_qs(url.query).items()})
            return self._answer(status, headers, page, "text/html; charset=utf-8")
        if method == "POST" and url.path == TOKEN_PATH:
            google.requests["token"] += 1
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            status, answer = google.token(form)
            return self._answer(status, {"Cache-Control": "no-store"}, json.dumps(answer).encode(), "application/json")
        if url.path.startswith(API_PREFIX):
            headers = {k.lower(): v for k, v in self.headers.items()}
            drop, status, extra, answer = google.api(method, url.path, parse_qs(url.query), headers, body)
            if drop is not None:
                self.close_connection = True  # no answer at all: the client sees the connection close
                return
            return self._answer(status, extra, json.dumps(answer).encode(), "application/json; charset=UTF-8")
        self._answer(404, {}, b"Not Found", "text/plain")
