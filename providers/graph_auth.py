"""Microsoft sign-in and HTTP plumbing shared by the connector and the mailbox (providers.graph):
scopes, the MSAL app (with its DEBUG log's secrets blanked), an HTTP session with a timeout on every
request, and Microsoft's token and Graph errors mapped to the provider errors of providers.base."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import msal
import requests
from requests.adapters import HTTPAdapter

from providers.base import (
    PermanentFailure,
    ProviderError,
    RateLimited,
    ReconnectNeeded,
    TemporaryFailure,
)
from providers.connect import ClientSecrets, Endpoints

# Short names mean Graph scopes to Microsoft's token endpoint. MSAL adds offline_access, openid
# and profile itself (and refuses them here).
BASIC_SCOPES = ["Mail.Send", "Mail.ReadBasic", "User.Read"]
ENHANCED_SCOPES = ["Mail.Send", "Mail.Read", "User.Read"]
GRAPH_RESOURCE = "https://graph.microsoft.com/"  # the admin-consent endpoint wants qualified scopes
DEFAULT_TIMEOUT = 30.0  # seconds, for every request to Microsoft (MSAL's and ours)
DEFAULT_RETRY_AFTER = 60.0

# Token errors that only the mailbox owner can fix by signing in again.
_RECONNECT_CODES = frozenset({"AADSTS700082", "AADSTS50173", "AADSTS65001"})
_RECONNECT_ERRORS = frozenset({"invalid_grant", "interaction_required"})
# Sign-in errors that mean the organisation's IT admin must approve the app first.
ADMIN_APPROVAL_CODES = frozenset({"AADSTS65001", "AADSTS90094"})

_AADSTS = re.compile(r"AADSTS\d+")
_ERROR_NAME = re.compile(r"[A-Za-z0-9_.]{1,64}")


def scopes_for(enhanced: bool) -> list[str]:
    return list(ENHANCED_SCOPES if enhanced else BASIC_SCOPES)


class _RedactMsalSecrets(logging.Filter):
    """MSAL's DEBUG log of a token event masks tokens but prints the authorization code and the
    PKCE verifier it just redeemed: blank every secret-bearing JSON field before any handler."""

    _FIELD = re.compile(r'("(?:code|code_verifier|client_secret|client_assertion|assertion|password|'
                        r'access_token|refresh_token|id_token)"\s*:\s*)"[^"]*"')

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._FIELD.sub(r'\1"********"', message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _redact_msal_logs() -> None:
    # A logger's filter sees only records logged on that very logger, so each MSAL module gets one.
    names = ["msal", *(n for n in logging.root.manager.loggerDict if n.startswith("msal."))]
    for name in names:
        msal_logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactMsalSecrets) for f in msal_logger.filters):
            msal_logger.addFilter(_RedactMsalSecrets())


_redact_msal_logs()


# --- HTTP -----------------------------------------------------------------------------------

class _TimeoutSession(requests.Session):
    """requests has no session-wide timeout and MSAL passes none: add one to every request.
    A CA file set on the session is also passed per request, because otherwise the
    REQUESTS_CA_BUNDLE environment variable silently wins over `session.verify`."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if kwargs.get("verify") is None and self.verify is not True:
            kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)


def make_http_client(endpoints: Endpoints, timeout: float = DEFAULT_TIMEOUT) -> requests.Session:
    """The session MSAL and our Graph calls share: the stand-in's CA when set, a timeout, and
    explicitly no automatic retries (a retried sendMail could be a double send)."""
    session = _TimeoutSession(timeout)
    session.verify = endpoints.ca_file or True
    no_retries = HTTPAdapter(max_retries=0)
    session.mount("https://", no_retries)
    session.mount("http://", no_retries)
    return session


def make_msal_app(secrets: ClientSecrets, endpoints: Endpoints, cache: msal.SerializableTokenCache,
                  http_client: requests.Session) -> msal.ConfidentialClientApplication:
    """Building the app fetches the authority's OpenID metadata: callers map its failures."""
    return msal.ConfidentialClientApplication(
        secrets.client_id,
        client_credential=secrets.client_secret,
        authority=endpoints.microsoft_authority,
        token_cache=cache,
        http_client=http_client,
        instance_discovery=False,  # else a refresh asks login.microsoftonline.com about the authority
    )


def unreachable(what: str, exc: BaseException) -> TemporaryFailure:
    """Only the exception's type: its text can carry URLs with query parameters."""
    return TemporaryFailure(f"Microsoft {what} could not be reached ({type(exc).__name__}); try again later")


# --- token errors ---------------------------------------------------------------------------

def aadsts_code(result: dict[str, Any]) -> str | None:
    found = _AADSTS.search(str(result.get("error_description") or ""))
    return found.group(0) if found else None


def error_name(result: dict[str, Any]) -> str:
    """The OAuth error name, only if it looks like one (never echo arbitrary server text)."""
    error = str(result.get("error") or "")
    return error if _ERROR_NAME.fullmatch(error) else "unknown_error"


def _error_label(result: dict[str, Any]) -> str:
    return aadsts_code(result) or error_name(result)


def token_error(result: dict[str, Any]) -> ProviderError:
    label = _error_label(result)
    if aadsts_code(result) in _RECONNECT_CODES or error_name(result) in _RECONNECT_ERRORS:
        return ReconnectNeeded(f"Microsoft refused the saved sign-in ({label}): reconnect the mailbox")
    return TemporaryFailure(f"Microsoft sign-in could not refresh the token ({label}); try again later")


def admin_consent_url(endpoints: Endpoints, client_id: str, redirect_uri: str, enhanced: bool) -> str:
    """The link an organisation's IT admin opens to approve the app for everyone there."""
    parts = urlsplit(endpoints.microsoft_authority)
    tenant = parts.path.strip("/").split("/")[0] or "organizations"
    query = urlencode({
        "client_id": client_id,
        "scope": " ".join(GRAPH_RESOURCE + scope for scope in scopes_for(enhanced)),
        "redirect_uri": redirect_uri,
    }, quote_via=quote)
    return f"{parts.scheme}://{parts.netloc}/{tenant}/v2.0/adminconsent?{query}"


def address_from_profile(profile: dict[str, Any]) -> str:
    address = profile.get("mail") or profile.get("userPrincipalName")
    if not address:
        raise PermanentFailure("Microsoft Graph returned a profile without an email address")
    return str(address).lower()


# --- Graph errors ---------------------------------------------------------------------------

def _graph_error_detail(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and a short one-line message."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return "", ""
    code = str(error.get("code") or "")
    message = " ".join(str(error.get("message") or "").split())[:200]
    return (code if _ERROR_NAME.fullmatch(code) else ""), message


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def graph_error(response: requests.Response, action: str) -> ProviderError:
    """One mapping from a Graph error response to the typed error the callers act on."""
    status = response.status_code
    code, message = _graph_error_detail(response)
    said = f"{status} {code}".strip()
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        return RateLimited(f"Microsoft Graph throttled {action} ({said})", retry_after=_retry_after(response))
    if status == 401:  # _call got here only with a freshly refreshed token: the grant is gone
        return ReconnectNeeded(f"Microsoft Graph refused the sign-in for {action} ({said}): reconnect the mailbox")
    if 400 <= status < 500:  # 403 too: a refusal of this request that signing in again would not change
        return PermanentFailure(f"Microsoft Graph refused {action} ({said}): {message}".rstrip(": "))
    return TemporaryFailure(f"Microsoft Graph failed {action} ({said}); try again later")
