"""A local stand-in for Microsoft's sign-in (Entra ID v2.0) and Microsoft Graph mail, over https
on 127.0.0.1, so the real MSAL and requests code paths run without the internet.

One server serves both: the authority at https://127.0.0.1:PORT/<tenant>/... (OpenID metadata,
authorize, token, adminconsent) and Graph at https://127.0.0.1:PORT/v1.0/... It keeps per-mailbox
state (accounts, tokens with their scopes, Sent Items, Inbox with delta sync) and reproduces the
failures the provider must handle: admin approval required, a cancelled sign-in, revoked or
expired refresh tokens, access tokens expired server-side, throttling and server errors, invalid
recipients and a forgotten delta sync state. `requests` counts every request by kind.

Where Microsoft's documentation is silent the stand-in can play either answer, so the bot is tested
against both (specs/README.md: "the bot must be safe whichever way the real service behaves"):
`read_basic_headers` (internetMessageHeaders under Mail.ReadBasic), `rewrite_message_ids` (Exchange
assigning its own Message-ID to a sendMail MIME upload) and `sent_copy_lag` (the Sent Items copy
appearing late).

Inbox delta behaves like Graph's message delta where the provider depends on it: `changeType`,
`$select`, `$filter=receivedDateTime ge|gt <time>` (the only filter message delta takes; anything
else is a 400) and `$orderby=receivedDateTime desc` are fixed by a round's first request and carried
inside its skip and delta tokens; `$deltatoken=latest` is not honoured (Graph answers it with the
whole folder); pages hold `Prefer: odata.maxpagesize` messages, at most `page_size`. A delta link
reads only what arrived after it, so a poll costs the same whatever the Inbox holds.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, unquote_plus, urlencode, urlsplit

import requests

from providers.connect import Connected, Endpoints, OAuthConnector
from tests.standins.tls import TestCertificates

GRAPH_PREFIX = "https://graph.microsoft.com/"
KNOWN_GRAPH_SCOPES = {"Mail.Send", "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite", "User.Read"}
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
READ_SCOPES = {"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}
KINDS = ("authorize", "token", "adminconsent", "openid", "me", "sendMail", "messages", "delta", "value")
TOKEN_ERRORS = {
    "AADSTS50173": "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
    "AADSTS700082": "The refresh token has expired due to inactivity.",
    "AADSTS65001": "The user or administrator has not consented to use the application.",
}
GRAPH_ERROR_CODES = {400: "ErrorInvalidRecipients", 401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied",
                     404: "ErrorItemNotFound", 410: "SyncStateNotFound", 429: "ApplicationThrottled",
                     500: "ErrorInternalServerError", 503: "ServiceUnavailable"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _normalize_scopes(raw: str) -> tuple[set[str], set[str]]:
    """(Graph scopes, OpenID scopes) from a space-separated list; qualified Graph names allowed."""
    graph, oidc = set(), set()
    for scope in raw.split():
        name = scope[len(GRAPH_PREFIX):] if scope.startswith(GRAPH_PREFIX) else scope
        if name in KNOWN_GRAPH_SCOPES:
            graph.add(name)
        elif name in OIDC_SCOPES:
            oidc.add(name)
    return graph, oidc


@dataclass
class StoredMessage:
    id: str
    conversation_id: str
    internet_message_id: str
    raw: bytes
    headers: Message
    received: str
    received_at: datetime
    hidden_lookups: int = 0  # Sent Items requests that do not see it yet (a late Sent copy)


@dataclass
class User:
    address: str  # the userPrincipalName, lower-cased: the key everything else uses
    tenant: str
    oid: str
    mail: str | None
    principal_name: str  # as the directory spells it (mixed case is common)
    sent: list[StoredMessage] = field(default_factory=list)
    inbox: list[StoredMessage] = field(default_factory=list)
    conversations: dict[str, str] = field(default_factory=dict)  # internetMessageId -> conversationId
    revoked: tuple[str, str] | None = None  # (AADSTS code, OAuth error) a refresh now answers


@dataclass
class Grant:
    address: str
    scopes: frozenset[str]
    expired: bool = False


@dataclass(frozen=True)
class Round:
    """What a delta round's first request fixed; every skip and delta token of the round carries it."""
    select: str | None
    since: tuple[str, datetime] | None  # ("ge" | "gt", time) from $filter
    newest_first: bool
    change_type: str | None


@dataclass(frozen=True)
class SyncState:
    """What a skip token (`pending` left in this round) or a delta token (`pending` empty: the next
    round starts at Inbox position `end`) stands for."""
    address: str
    generation: int
    round: Round
    pending: tuple[int, ...]
    end: int


@dataclass
class Fault:
    status: int
    headers: dict[str, str]
    code: str
    message: str
    stall: float = 0.0
    accept: bool = False  # sendMail: the message goes out all the same (the answer is what fails)


class MicrosoftStandIn:
    def __init__(self, certificates: TestCertificates, *, client_id: str = "outreach-test-app",
                 client_secret: str = "", page_size: int = 2) -> None:
        self.certificates = certificates
        self.client_id = client_id
        self.client_secret = client_secret or "cs-" + secrets.token_urlsafe(24)
        self.page_size = page_size
        # What Graph does with `$select=...internetMessageHeaders` for a token holding Mail.ReadBasic
        # but not Mail.Read. graph_docs_facts.json lists the property under "readbasic_unverified"
        # (it is not among "readbasic_excluded") and PROVIDERS.md marks it "(unverified): test it", so
        # all three are played: "omitted" (200, the property left out), "given" (200, headers filled),
        # "refused" (403 ErrorAccessDenied with Graph's error body, facts "error_body").
        self.read_basic_headers = "omitted"
        # Whether Exchange keeps the Message-ID of a MIME sendMail upload is not documented (the
        # facts' user-sendmail answers 202 with an empty body, naming nothing): True assigns the Sent
        # copy an Exchange-made internetMessageId, written into its headers too, as replies will quote.
        self.rewrite_message_ids = False
        # The Sent Items copy of a message sent from now on is missed by this many Sent Items
        # requests before it shows (PROVIDERS.md: "the Sent copy may lag"). Counted, not timed, so
        # tests never wait.
        self.sent_copy_lag = 0
        self.refused_header_selects = 0  # how many times "refused" answered 403
        self.now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # stamps new mail
        self.requests: Counter[str] = Counter()
        self.users: dict[str, User] = {}
        self._lock = threading.RLock()
        self._signing_in: str | None = None
        self._deny_next = False
        self._admin_consent_needed: dict[str, str] = {}  # tenant -> "authorize" | "token"
        self._codes: dict[str, dict[str, Any]] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._sync_generation = 0
        self._sync_tokens: dict[str, SyncState] = {}
        self._release = threading.Event()  # wakes stalled handlers at shutdown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.socket = certificates.server_context().wrap_socket(self.server.socket, server_side=True)
        self.server.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # lifecycle and addresses

    def start(self) -> MicrosoftStandIn:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> MicrosoftStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def authority(self, tenant: str = "organizations") -> str:
        return f"{self.base_url}/{tenant}"

    @property
    def graph_api(self) -> str:
        return f"{self.base_url}/v1.0"

    def endpoints(self, tenant: str = "organizations") -> Endpoints:
        return Endpoints(microsoft_authority=self.authority(tenant), graph_api=self.graph_api,
                         ca_file=self.certificates.ca_file)

    # test controls

    def add_user(self, address: str, *, tenant: str = "contoso", mail: bool = True) -> User:
        with self._lock:
            user = User(address.lower(), tenant, secrets.token_hex(8), address if mail else None, address)
            self.users[user.address] = user
            return user

    def connect(self, connector: OAuthConnector, address: str, *, enhanced: bool = False,
                redirect_uri: str = "https://bot.example/oauth/microsoft/callback") -> Connected:
        """A whole sign-in through the bot's real connector for a user added with add_user: begin,
        the browser's visit to the authorize endpoint, the callback, finish."""
        url, flow = connector.begin(state=secrets.token_urlsafe(8), redirect_uri=redirect_uri, enhanced=enhanced)
        self.sign_in_as(address)
        answer = requests.get(url, allow_redirects=False, verify=self.certificates.ca_file, timeout=10)
        assert answer.status_code == 302, answer.text
        query = {k: v[-1] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
        return connector.finish(flow=flow, query=query, redirect_uri=redirect_uri)

    def sign_in_as(self, address: str) -> None:
        """The next authorize request signs this user in (the browser part of a sign-in)."""
        self._signing_in = address.lower()

    def require_admin_consent(self, tenant: str, *, at: str = "authorize") -> None:
        """Users of `tenant` cannot consent themselves. at="authorize": the callback carries
        consent_required/AADSTS65001; at="token": the code redemption answers AADSTS90094."""
        self._admin_consent_needed[tenant] = at

    def deny_next_sign_in(self) -> None:
        self._deny_next = True

    def revoke(self, address: str, code: str = "AADSTS50173", error: str = "invalid_grant") -> None:
        """Every refresh for this user now fails with `error` and `code`."""
        self.users[address.lower()].revoked = (code, error)

    def expire_access_tokens(self, address: str) -> None:
        with self._lock:
            for grant in self._access.values():
                if grant.address == address.lower():
                    grant.expired = True

    def fail_next(self, kind: str, status: int, headers: dict[str, str] | None = None, *,
                  code: str | None = None, message: str | None = None, stall: float = 0.0,
                  accept: bool = False) -> None:
        """The next `kind` request (sendMail, messages, delta, value, me) answers `status` with a
        Graph error body; `stall` seconds first, to make a client time out. `accept` (sendMail):
        the message is sent and filed in Sent Items before the error answers, as when a gateway
        fails after Exchange took the message."""
        assert kind in KINDS, kind
        assert not accept or kind == "sendMail", kind
        self._faults[kind].append(Fault(status, dict(headers or {}), code or GRAPH_ERROR_CODES.get(status, "Error"),
                                        message or f"Stand-in fault {status}", stall, accept))

    def expire_delta(self) -> None:
        """Forget every delta sync state: saved delta links now answer 410 SyncStateNotFound."""
        self._sync_generation += 1

    def deliver(self, address: str, raw: bytes, *, received: datetime | None = None) -> StoredMessage:
        """A message arrives in the Inbox; a reply joins the conversation of what it answers.
        `received` (default now) is its receivedDateTime, to give a mailbox a past."""
        with self._lock:
            user = self.users[address.lower()]
            message = self._store(user, raw, received)
            user.inbox.append(message)
            return message

    @property
    def graph_calls(self) -> int:
        """Every request to Graph and to the sign-in service so far."""
        return sum(self.requests.values())

    def sent(self, address: str) -> list[StoredMessage]:
        return list(self.users[address.lower()].sent)

    def tokens_of(self, address: str) -> list[str]:
        """Every token issued to the user (for tests that look for leaks)."""
        return [t for t, g in [*self._access.items(), *self._refresh.items()] if g.address == address.lower()]

    # the mailbox model

    def _accept_mail(self, user: User, body: bytes) -> None:
        """A sendMail upload (base64 MIME) filed in Sent Items, as Exchange would store it."""
        raw = base64.b64decode(body)
        if self.rewrite_message_ids:
            raw = _with_message_id(raw, f"<{secrets.token_hex(10).upper()}@AM0PR02MB5555.eurprd02.prod.outlook.com>")
        stored = self._store(user, raw)
        stored.hidden_lookups = self.sent_copy_lag
        user.sent.append(stored)

    def _store(self, user: User, raw: bytes, received: datetime | None = None) -> StoredMessage:
        headers = message_from_bytes(raw, policy=policy.compat32)
        internet_id = str(headers["Message-ID"] or f"<{secrets.token_hex(8)}@standin.invalid>").strip()
        when = (received or self.now()).astimezone(timezone.utc).replace(microsecond=0)
        stored = StoredMessage("AAMk" + secrets.token_urlsafe(12), self._conversation_for(user, headers),
                               internet_id, raw, headers, when.strftime("%Y-%m-%dT%H:%M:%SZ"), when)
        user.conversations.setdefault(internet_id, stored.conversation_id)
        return stored

    def _conversation_for(self, user: User, headers: Message) -> str:
        answered = str(headers["In-Reply-To"] or "").split() + str(headers["References"] or "").split()
        for internet_id in answered:
            if internet_id in user.conversations:
                return user.conversations[internet_id]
        return "AAQk" + secrets.token_urlsafe(12)

    # tokens

    def _issue(self, user: User, scopes: frozenset[str], nonce: str | None) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_urlsafe(24), "rt-" + secrets.token_urlsafe(24)
        self._access[access] = Grant(user.address, scopes)
        self._refresh[refresh] = Grant(user.address, scopes)
        now = int(time.time())
        claims = {"aud": self.client_id, "iss": f"{self.base_url}/{user.tenant}/v2.0", "iat": now, "nbf": now,
                  "exp": now + 3600, "tid": user.tenant, "oid": user.oid, "sub": user.oid, "ver": "2.0",
                  "preferred_username": user.principal_name, "name": user.address.split("@")[0]}
        if nonce:
            claims["nonce"] = nonce
        id_token = ".".join([_b64url(b'{"typ":"JWT","alg":"none"}'), _b64url(json.dumps(claims).encode()), ""])
        return {"token_type": "Bearer", "scope": " ".join(sorted(scopes) + ["openid", "profile", "email"]),
                "expires_in": 3599, "ext_expires_in": 3599, "access_token": access, "refresh_token": refresh,
                "id_token": id_token,
                "client_info": _b64url(json.dumps({"uid": user.oid, "utid": user.tenant}).encode())}


def _oauth_error(error: str, code: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": f"{code}: {description}", "error_codes": [int(code[6:])]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms stalls
    server: ThreadingHTTPServer

    @property
    def standin(self) -> MicrosoftStandIn:
        return self.server.standin  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        pass

    # plumbing

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _graph_error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": {"code": code, "message": message}}, headers)

    def _redirect(self, location: str) -> None:
        self._send(302, headers={"Location": location}, content_type="text/plain")

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = path.strip("/").split("/")
        if segments[0] == "v1.0":
            self._graph(method, "/" + "/".join(segments[1:]), query)
            return
        tenant, rest = segments[0], "/".join(segments[1:])
        if method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            self._openid_configuration(tenant)
        elif method == "GET" and rest == "oauth2/v2.0/authorize":
            self._authorize(query)
        elif method == "POST" and rest == "oauth2/v2.0/token":
            self._token(tenant)
        elif method == "GET" and rest == "v2.0/adminconsent":
            self._adminconsent(query)
        else:
            self._json(404, {"error": "not_found"})

    # the authority

    def _openid_configuration(self, tenant: str) -> None:
        self.standin.requests["openid"] += 1
        base = f"{self.standin.base_url}/{tenant}"
        self._json(200, {"issuer": f"{self.standin.base_url}/{{tenantid}}/v2.0",
                         "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                         "token_endpoint": f"{base}/oauth2/v2.0/token",
                         "response_types_supported": ["code"], "scopes_supported": ["openid", "profile", "email"]})

    def _authorize(self, query: dict[str, str]) -> None:
        standin = self.standin
        standin.requests["authorize"] += 1
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != standin.client_id or query.get("response_type") != "code" or not redirect_uri:
            self._json(400, {"error": "invalid_request"})
            return
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            self._json(400, {"error": "invalid_request", "error_description": "AADSTS9002325: PKCE required"})
            return
        back = {"state": query.get("state", "")}
        user = standin.users.get(standin._signing_in or "")
        if standin._deny_next or user is None:
            standin._deny_next = False
            back.update(error="access_denied", error_description="AADSTS65004: User declined to consent to access the app.")
        elif standin._admin_consent_needed.get(user.tenant) == "authorize":
            back.update(error="consent_required", error_description=(
                "AADSTS65001: The user or administrator has not consented to use the application. "
                "Send an interactive authorization request for this user and resource."))
        else:
            code = "code-" + secrets.token_urlsafe(24)
            graph_scopes, _ = _normalize_scopes(query.get("scope", ""))
            standin._codes[code] = {"address": user.address, "scopes": frozenset(graph_scopes),
                                    "nonce": query.get("nonce"), "challenge": query["code_challenge"],
                                    "redirect_uri": redirect_uri}
            back.update(code=code, session_state=secrets.token_hex(8))
        self._redirect(f"{redirect_uri}?{urlencode(back)}")

    def _client_authenticated(self, form: dict[str, str]) -> bool:
        standin = self.standin
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            return unquote_plus(client_id) == standin.client_id and unquote_plus(secret) == standin.client_secret
        return form.get("client_id") == standin.client_id and form.get("client_secret") == standin.client_secret

    def _token(self, tenant: str) -> None:
        standin = self.standin
        standin.requests["token"] += 1
        form = {k: v[-1] for k, v in parse_qs(self._body().decode()).items()}
        if self._fault("token"):
            return
        if not self._client_authenticated(form):
            self._json(401, _oauth_error("invalid_client", "AADSTS7000215", "Invalid client secret provided."))
            return
        with standin._lock:
            if form.get("grant_type") == "authorization_code":
                status, payload = self._redeem_code(form)
            elif form.get("grant_type") == "refresh_token":
                status, payload = self._redeem_refresh_token(form)
            else:
                status, payload = 400, _oauth_error("unsupported_grant_type", "AADSTS70003", "Unsupported grant.")
        self._json(status, payload)

    def _redeem_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        standin = self.standin
        issued = standin._codes.pop(form.get("code", ""), None)  # a code is good once
        if issued is None:
            return 400, _oauth_error("invalid_grant", "AADSTS54005", "OAuth2 Authorization code was already redeemed.")
        if form.get("redirect_uri") != issued["redirect_uri"]:
            return 400, _oauth_error("invalid_grant", "AADSTS50148", "The redirect_uri does not match.")
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != issued["challenge"]:
            return 400, _oauth_error("invalid_grant", "AADSTS501481", "The Code_Verifier does not match the code_challenge.")
        user = standin.users[issued["address"]]
        if standin._admin_consent_needed.get(user.tenant) == "token":
            return 400, {**_oauth_error("invalid_grant", "AADSTS90094", "The grant requires admin permission."),
                         "suberror": "consent_required"}
        return 200, standin._issue(user, issued["scopes"], issued["nonce"])

    def _redeem_refresh_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        standin = self.standin
        grant = standin._refresh.get(form.get("refresh_token", ""))
        if grant is None:
            return 400, _oauth_error("invalid_grant", "AADSTS9002313", "Invalid request. Malformed or invalid.")
        user = standin.users[grant.address]
        if user.revoked:
            code, error = user.revoked
            return 400, _oauth_error(error, code, TOKEN_ERRORS.get(code, "The grant is no longer valid."))
        asked, _ = _normalize_scopes(form.get("scope", ""))
        if not asked <= grant.scopes:
            return 400, {**_oauth_error("invalid_grant", "AADSTS65001", TOKEN_ERRORS["AADSTS65001"]),
                         "suberror": "consent_required"}
        return 200, standin._issue(user, grant.scopes, None)

    def _adminconsent(self, query: dict[str, str]) -> None:
        """The tenant's admin (the user signing in) approves the app for everyone in the tenant."""
        standin = self.standin
        standin.requests["adminconsent"] += 1
        user = standin.users.get(standin._signing_in or "")
        graph_scopes, _ = _normalize_scopes(query.get("scope", ""))
        if query.get("client_id") != standin.client_id or not query.get("redirect_uri") or not graph_scopes \
                or user is None:
            self._json(400, {"error": "invalid_request"})
            return
        standin._admin_consent_needed.pop(user.tenant, None)
        self._redirect(f"{query['redirect_uri']}?{urlencode({'admin_consent': 'True', 'tenant': user.tenant})}")

    # Graph

    def _fault(self, kind: str) -> bool:
        queue = self.standin._faults[kind]
        if not queue:
            return False
        fault = queue.popleft()
        if fault.stall:
            self.standin._release.wait(fault.stall)
        if kind == "token":
            self._json(fault.status, {"error": "temporarily_unavailable", "error_description": fault.message},
                       fault.headers)
        else:
            self._graph_error(fault.status, fault.code, fault.message, fault.headers)
        return True

    def _graph(self, method: str, path: str, query: dict[str, str]) -> None:
        standin = self.standin
        body = self._body() if method == "POST" else b""
        kind, need = self._graph_kind(method, path)
        standin.requests[kind] += 1
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        grant = standin._access.get(token)
        if grant is None or grant.expired:
            self._graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
            return
        faults = standin._faults[kind]
        if faults and faults[0].accept and grant.scopes & need:
            with standin._lock:
                standin._accept_mail(standin.users[grant.address], body)
        if self._fault(kind):
            return
        if need and not (grant.scopes & need):
            self._graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return
        user = standin.users[grant.address]
        with standin._lock:
            handler = {"me": self._me, "sendMail": self._send_mail, "messages": self._sent_items,
                       "delta": self._delta, "value": self._value}.get(kind)
            if handler is None:
                self._graph_error(400, "BadRequest", "Unsupported request")
                return
            handler(user, grant, path, query, body)

    @staticmethod
    def _graph_kind(method: str, path: str) -> tuple[str, set[str]]:
        if method == "GET" and path == "/me":
            return "me", {"User.Read"}
        if method == "POST" and path == "/me/sendMail":
            return "sendMail", {"Mail.Send"}
        if method == "GET" and path in ("/me/mailFolders('sentitems')/messages", "/me/mailFolders/sentitems/messages"):
            return "messages", set(READ_SCOPES)
        if method == "GET" and path in ("/me/mailFolders/inbox/messages/delta",
                                        "/me/mailFolders('inbox')/messages/delta"):
            return "delta", set(READ_SCOPES)
        if method == "GET" and path.startswith("/me/messages/") and path.endswith("/$value"):
            return "value", {"Mail.Read", "Mail.ReadWrite"}  # bodies: Mail.ReadBasic is not enough
        return "other", set()

    def _me(self, user: User, grant: Grant, path: str, query: dict[str, str], body: bytes) -> None:
        self._json(200, {"id": user.oid, "userPrincipalName": user.principal_name, "mail": user.mail,
                         "displayName": user.address.split("@")[0]})

    def _send_mail(self, user: User, grant: Grant, path: str, query: dict[str, str], body: bytes) -> None:
        if not self.headers.get("Content-Type", "").startswith("text/plain"):
            self._graph_error(400, "ErrorInvalidRequest", "This stand-in accepts MIME (text/plain, base64) only.")
            return
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            self._graph_error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
            return
        headers = message_from_bytes(raw, policy=policy.compat32)
        recipients = [address for _, address in getaddresses(headers.get_all("To", []) + headers.get_all("Cc", []))
                      if "@" in address]
        if not recipients:
            self._graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
            return
        self.standin._accept_mail(user, body)
        self._send(202, content_type="text/plain")

    def _sent_items(self, user: User, grant: Grant, path: str, query: dict[str, str], body: bytes) -> None:
        """mailfolder-list-messages on Sent Items with the two filters the provider uses: one
        internetMessageId, or a sentDateTime window; `$top` pages with an `@odata.nextLink` that
        carries `$skip`, as Graph's list pages do (facts: query options of mailfolder-list-messages)."""
        expression = query.get("$filter", "")
        wanted, window = _filter_internet_message_id(expression), _filter_sent_window(expression)
        if wanted is None and window is None:
            self._graph_error(400, "BadRequest", "Unsupported $filter for this stand-in.")
            return
        visible = [m for m in user.sent if m.hidden_lookups == 0]
        for message in user.sent:
            message.hidden_lookups = max(0, message.hidden_lookups - 1)
        if wanted is not None:
            found = [m for m in visible if m.internet_message_id == wanted]
        else:
            found = [m for m in visible if all(_compare(m.received_at, op, when) for op, when in window or ())]
        try:
            top, skip = int(query.get("$top") or 10), int(query.get("$skip") or 0)
        except ValueError:
            self._graph_error(400, "ErrorInvalidUrlQuery", "$top and $skip take integers.")
            return
        reply: dict[str, Any] = {"value": [_project(m, query.get("$select"), with_headers=False)
                                           for m in found[skip:skip + top]]}
        if skip + top < len(found):
            rest = {**query, "$skip": str(skip + top)}
            reply["@odata.nextLink"] = (f"{self.standin.graph_api}{quote(path)}?"
                                        + "&".join(f"{k}={quote(v, safe=',')}" for k, v in rest.items()))
        self._json(200, reply)

    def _delta(self, user: User, grant: Grant, path: str, query: dict[str, str], body: bytes) -> None:
        standin = self.standin
        token = query.get("$deltatoken") or query.get("$skiptoken")
        if token and token != "latest":  # "latest" is ignored for messages, as Graph does
            state = standin._sync_tokens.get(token)
            if state is None or state.address != user.address or state.generation != standin._sync_generation:
                self._graph_error(410, "SyncStateNotFound", "The sync state generation is not found.")
                return
            sync_round, end = state.round, state.end
            pending = state.pending if "$skiptoken" in query else self._matching(user, sync_round, start=end)
            if "$deltatoken" in query:
                end = len(user.inbox)
        else:
            try:
                sync_round = _round_of(query)
            except ValueError as exc:
                self._graph_error(400, "ErrorInvalidUrlQuery", str(exc))
                return
            pending, end = self._matching(user, sync_round, start=0), len(user.inbox)
        full_read = bool(grant.scopes & {"Mail.Read", "Mail.ReadWrite"})
        asks_headers = "internetMessageHeaders" in {f.strip() for f in (sync_round.select or "").split(",")}
        if asks_headers and not full_read and standin.read_basic_headers == "refused":
            # The round's $select names the property; its skip and delta tokens carry the select, so
            # every page and later round of it is refused alike.
            standin.refused_header_selects += 1
            self._graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return
        size = min(standin.page_size, _max_page_size(self.headers.get("Prefer", "")) or standin.page_size)
        page, rest = pending[:size], pending[size:]
        with_headers = full_read or standin.read_basic_headers == "given"
        reply: dict[str, Any] = {"value": [_project(user.inbox[i], sync_round.select, with_headers) for i in page]}
        link_name, param = ("@odata.nextLink", "$skiptoken") if rest else ("@odata.deltaLink", "$deltatoken")
        next_token = secrets.token_urlsafe(12)
        standin._sync_tokens[next_token] = SyncState(user.address, standin._sync_generation, sync_round, rest, end)
        reply[link_name] = f"{standin.graph_api}/me/mailFolders('inbox')/messages/delta?{param}={next_token}"
        self._json(200, reply)

    @staticmethod
    def _matching(user: User, sync_round: Round, *, start: int) -> tuple[int, ...]:
        """Inbox positions from `start` that the round reports, in the round's order."""
        if sync_round.change_type not in (None, "created"):
            return ()  # the stand-in's Inbox only ever has messages created in it
        found = [i for i in range(start, len(user.inbox)) if _after(user.inbox[i].received_at, sync_round.since)]
        if sync_round.newest_first:
            # Graph keeps times finer than the second it shows: the later arrival is the newer one
            found.sort(key=lambda i: (user.inbox[i].received_at, i), reverse=True)
        return tuple(found)

    def _value(self, user: User, grant: Grant, path: str, query: dict[str, str], body: bytes) -> None:
        graph_id = path[len("/me/messages/"):-len("/$value")]
        found = next((m for m in [*user.inbox, *user.sent] if m.id == graph_id), None)
        if found is None:
            self._graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return
        self._send(200, found.raw, content_type="text/plain")


def _round_of(query: dict[str, str]) -> Round:
    """A delta round's options, refused as Graph refuses what message delta does not support."""
    since = None
    if "$filter" in query:
        match = re.fullmatch(r"receivedDateTime (ge|gt) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", query["$filter"].strip())
        if match is None:
            raise ValueError("The only filter message delta supports is receivedDateTime ge|gt <time>.")
        since = (match[1], datetime.strptime(match[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc))
    order = query.get("$orderby")
    if order is not None and " ".join(order.split()) != "receivedDateTime desc":
        raise ValueError("The only order message delta supports is receivedDateTime desc.")
    change_type = query.get("changeType")
    if change_type not in (None, "created", "updated", "deleted"):
        raise ValueError("changeType must be created, updated or deleted.")
    if "$search" in query:
        raise ValueError("$search is not supported on delta.")
    return Round(query.get("$select"), since, order is not None, change_type)


def _after(received: datetime, since: tuple[str, datetime] | None) -> bool:
    if since is None:
        return True
    operator, when = since
    return received >= when if operator == "ge" else received > when


def _max_page_size(prefer: str) -> int | None:
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return int(match[1]) if match else None


def _filter_internet_message_id(expression: str) -> str | None:
    """The one $filter the provider uses: internetMessageId eq '<literal with '' for '>'."""
    prefix = "internetMessageId eq '"
    if not expression.startswith(prefix) or not expression.endswith("'"):
        return None
    literal = expression[len(prefix):-1]
    if "'" in literal.replace("''", ""):
        return None  # an unescaped quote ends the literal early: Graph would reject the syntax
    return literal.replace("''", "'")


_WINDOW_TERM = re.compile(r"sentDateTime (ge|gt|le|lt) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def _filter_sent_window(expression: str) -> tuple[tuple[str, datetime], ...] | None:
    """`sentDateTime ge <time>`, optionally `and sentDateTime le <time>`: the fallback lookup's filter."""
    terms = expression.split(" and ")
    matches = [_WINDOW_TERM.fullmatch(term.strip()) for term in terms]
    if not expression or len(terms) > 2 or not all(matches):
        return None
    return tuple((m[1], datetime.strptime(m[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc))
                 for m in matches if m)


def _compare(value: datetime, operator: str, when: datetime) -> bool:
    return {"ge": value >= when, "gt": value > when, "le": value <= when, "lt": value < when}[operator]


_MESSAGE_ID_FIELD = re.compile(rb"(?im)^Message-ID:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")


def _with_message_id(raw: bytes, message_id: str) -> bytes:
    """The upload with Exchange's own Message-ID in place of the client's (only the header block)."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    new = f"Message-ID: {message_id}".encode()
    head, replaced = _MESSAGE_ID_FIELD.subn(new, head, count=1)
    if not replaced:
        head += b"\r\n" + new
    return head + separator + body


def _project(message: StoredMessage, select: str | None, with_headers: bool) -> dict[str, Any]:
    """The message as Graph shows it, limited to $select (id always). Never the body here."""
    name, address = parseaddr(str(message.headers["From"] or ""))
    full = {
        "id": message.id,
        "conversationId": message.conversation_id,
        "internetMessageId": message.internet_message_id,
        "subject": str(message.headers["Subject"] or ""),
        "from": {"emailAddress": {"name": name, "address": address}},
        "receivedDateTime": message.received,
        "sentDateTime": message.received,  # the stand-in stamps one time per message
        "toRecipients": [{"emailAddress": {"name": name, "address": address}}
                         for name, address in getaddresses([str(message.headers["To"] or "")]) if address],
    }
    if with_headers:
        full["internetMessageHeaders"] = [{"name": k, "value": str(v)} for k, v in message.headers.items()]
    fields = {f.strip() for f in select.split(",")} if select else set(full)
    return {k: v for k, v in full.items() if k == "id" or k in fields}
