"""Builds the provider object for a mailbox row: decrypts its credentials and hands the provider
its endpoints and the bot's OAuth client. Providers are kept per mailbox while their credentials
stay the same (building a Gmail client costs tens of milliseconds), and any credentials a provider
refreshed are handed back to be stored."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Protocol

from bot.crypto import CredentialCipher, CredentialsUnreadable
from bot.models import Mailbox, PermissionLevel, Provider
from providers.base import MailProvider, ReconnectNeeded
from providers.connect import ClientSecrets, Endpoints
from providers.sandbox import SandboxProvider, SandboxStore


class ProviderRegistry(Protocol):
    cipher: CredentialCipher | None  # what refreshed credentials are encrypted with before they are stored

    def for_mailbox(self, mailbox: Mailbox) -> MailProvider: ...


class DefaultProviders:
    def __init__(self, *, sandbox_dir: Path, sandbox_latency: float = 0.0, cipher: CredentialCipher | None = None,
                 endpoints: Endpoints = Endpoints(), google: ClientSecrets | None = None,
                 microsoft: ClientSecrets | None = None) -> None:
        self.sandbox = SandboxStore(sandbox_dir)
        self.sandbox_latency = sandbox_latency
        self.cipher = cipher
        self.endpoints = endpoints
        self.google = google
        self.microsoft = microsoft
        self._cache: dict[int, tuple[str, MailProvider]] = {}
        self._lock = threading.Lock()

    def for_mailbox(self, mailbox: Mailbox) -> MailProvider:
        """Raises ReconnectNeeded when the mailbox cannot be used until its owner signs in again."""
        enhanced = mailbox.permission_level == PermissionLevel.ENHANCED
        if mailbox.provider == Provider.SANDBOX:
            return SandboxProvider(self.sandbox, mailbox.address, enhanced=enhanced, latency=self.sandbox_latency)
        if mailbox.credentials is None:
            raise ReconnectNeeded("no saved sign-in for this mailbox")
        version = hashlib.sha256(mailbox.credentials).hexdigest()
        with self._lock:
            cached = self._cache.get(mailbox.id)
            if cached is not None and cached[0] == version:
                return cached[1]
        provider = self._build(mailbox, enhanced)
        with self._lock:
            self._cache[mailbox.id] = (version, provider)
        return provider

    def _build(self, mailbox: Mailbox, enhanced: bool) -> MailProvider:
        if self.cipher is None:
            raise ReconnectNeeded("OUTREACH_ENCRYPTION_KEYS is not configured, so saved sign-ins cannot be read")
        try:
            credentials = self.cipher.decrypt(mailbox.credentials or b"")
        except CredentialsUnreadable as exc:
            raise ReconnectNeeded(str(exc)) from None
        if mailbox.provider == Provider.GMAIL:
            from providers.gmail import GmailProvider
            return GmailProvider(credentials, secrets=self._client(self.google, "Google"), endpoints=self.endpoints,
                                 enhanced=enhanced)
        if mailbox.provider == Provider.GRAPH:
            from providers.graph import GraphProvider
            return GraphProvider(credentials, secrets=self._client(self.microsoft, "Microsoft"),
                                 endpoints=self.endpoints, enhanced=enhanced,
                                 headers_refused=mailbox.headers_refused)  # straight to the select Graph takes
        from providers.smtp_imap import SmtpImapProvider
        return SmtpImapProvider(credentials, ca_file=self.endpoints.ca_file, enhanced=enhanced)

    @staticmethod
    def _client(secrets: ClientSecrets | None, name: str) -> ClientSecrets:
        if secrets is None:
            raise ReconnectNeeded(f"the {name} OAuth client is not configured on this bot")
        return secrets
