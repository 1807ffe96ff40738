"""Builds the provider object for a mailbox row."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.models import Mailbox, PermissionLevel, Provider
from providers.base import MailProvider, PermanentFailure
from providers.sandbox import SandboxProvider, SandboxStore


class ProviderRegistry(Protocol):
    def for_mailbox(self, mailbox: Mailbox) -> MailProvider: ...


class DefaultProviders:
    """The sandbox today; Gmail, Microsoft Graph and SMTP/IMAP arrive with the Mailboxes issue."""

    def __init__(self, *, sandbox_dir: Path, sandbox_latency: float = 0.0) -> None:
        self.sandbox = SandboxStore(sandbox_dir)
        self.sandbox_latency = sandbox_latency

    def for_mailbox(self, mailbox: Mailbox) -> MailProvider:
        if mailbox.provider == Provider.SANDBOX:
            return SandboxProvider(self.sandbox, mailbox.address,
                                   enhanced=mailbox.permission_level == PermissionLevel.ENHANCED,
                                   latency=self.sandbox_latency)
        raise PermanentFailure(f"sending through {mailbox.provider.value} is not built yet")
