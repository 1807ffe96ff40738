"""Connecting a mailbox: what every provider's sign-in offers the rest of the bot.

Google and Microsoft sign in with OAuth (authorization code + PKCE); "Other" logs in to SMTP and
IMAP with an app password. Each returns the same thing: the mailbox's own address and the
credentials to keep (plaintext JSON bytes here; the caller encrypts them before they touch the
database). Nothing in this module or its implementations ever puts a secret in an error message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from providers.base import ProviderError


@dataclass(frozen=True)
class Endpoints:
    """Where a provider's services are. Defaults are the real services; tests and local runs point
    them at stand-ins on loopback. `ca_file` lets an https stand-in use a test certificate."""

    google_auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    gmail_api: str = "https://gmail.googleapis.com/"
    microsoft_authority: str = "https://login.microsoftonline.com/organizations"
    graph_api: str = "https://graph.microsoft.com/v1.0"
    ca_file: str | None = None


@dataclass(frozen=True)
class ClientSecrets:
    """The bot's own OAuth client (one per provider), from the configuration."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class Connected:
    """A finished sign-in."""

    address: str  # as the provider reports it (getProfile, /me, the SMTP user)
    credentials: bytes = field(repr=False)  # plaintext JSON; encrypt before storing
    enhanced: bool  # the grant includes the enhanced scope (bodies of incoming mail)


class ConnectFailed(ProviderError):
    """The sign-in did not produce a usable mailbox; `message` says what the person can do."""


class AdminApprovalNeeded(ConnectFailed):
    """Microsoft: the tenant requires an IT admin to approve the app (AADSTS65001, AADSTS90094,
    consent_required). `admin_consent_url` is the link to send to that admin."""

    def __init__(self, message: str, admin_consent_url: str) -> None:
        super().__init__(message)
        self.admin_consent_url = admin_consent_url


class LoginRefused(ConnectFailed):
    """SMTP/IMAP: a server refused the login or could not be reached. `field` names the form
    field to show the message on (smtp_host, smtp_port, imap_host, imap_port, username, password)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class OAuthConnector(Protocol):
    """One per OAuth provider. `begin` returns the URL to send the browser to and the private
    flow data (PKCE verifier and the like) the caller keeps server-side until the callback;
    `finish` exchanges the callback's query parameters for credentials."""

    def begin(self, *, state: str, redirect_uri: str, enhanced: bool) -> tuple[str, dict[str, Any]]: ...

    def finish(self, *, flow: dict[str, Any], query: dict[str, str], redirect_uri: str) -> Connected: ...
