"""Providers for the mailboxes a job works on, and the tokens they refreshed stored back: shared by
the dispatcher (sending) and the sync (reading)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction
from bot.models import Mailbox
from providers.base import MailProvider, ProviderError
from bot.provider_registry import ProviderRegistry


def providers_for(session: Session, registry: ProviderRegistry,
                  mailbox_ids: Iterable[int]) -> dict[int, MailProvider | ProviderError]:
    """Each mailbox's provider, or why it cannot be had (a lost sign-in): an outcome for that
    mailbox alone, never a failed run."""
    found: dict[int, MailProvider | ProviderError] = {}
    for mailbox in session.scalars(select(Mailbox).where(Mailbox.id.in_(list(mailbox_ids)))):
        try:
            found[mailbox.id] = registry.for_mailbox(mailbox)
        except ProviderError as exc:
            found[mailbox.id] = exc
    return found


def store_refreshed_credentials(sessions: sessionmaker[Session], registry: ProviderRegistry,
                                providers: dict[int, MailProvider | ProviderError]) -> None:
    """Tokens a provider refreshed while working are stored (encrypted) for the next run."""
    refreshed = {}
    for mailbox_id, provider in providers.items():
        if isinstance(provider, MailProvider):
            blob = provider.refresh_credentials()
            if blob is not None:
                refreshed[mailbox_id] = blob
    cipher = registry.cipher
    if not refreshed or cipher is None:
        return
    with transaction(sessions, write=True) as session:
        for mailbox_id, blob in refreshed.items():
            session.execute(update(Mailbox).where(Mailbox.id == mailbox_id, Mailbox.credentials.is_not(None))
                            .values(credentials=cipher.encrypt(blob)))
