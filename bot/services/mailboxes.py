"""Mailboxes: connecting, listing, and the per-provider sending limits."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import Mailbox, MailboxStatus, PermissionLevel, Provider, User

# Daily caps under the providers' own limits (../shared/PROVIDERS.md), so a recruiter's mailbox is
# never suspended by us: Gmail Workspace allows 2,000 messages/day, Exchange Online 10,000
# recipients/day. The sandbox gets Gmail's, so the demo shows a realistic cap.
DEFAULT_DAILY_CAP = {
    Provider.GMAIL: 2000,
    Provider.GRAPH: 10000,
    Provider.SMTP_IMAP: 500,
    Provider.SANDBOX: 2000,
}
DEFAULT_MIN_SPACING_SECONDS = 60  # SeekOut's default spacing between two sends from one mailbox


def normalise_address(address: str) -> str:
    address = address.strip().lower()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or " " in address:
        raise UserError(f"'{address}' is not an email address: expected name@example.com", field="address")
    return address


def connect_mailbox(
    session: Session,
    *,
    owner: User,
    provider: Provider,
    address: str,
    credentials: bytes | None,
    permission_level: PermissionLevel = PermissionLevel.BASIC,
    clock: Clock,
) -> Mailbox:
    """Link an address to its owner. One address belongs to one bot account only (seed 004)."""
    address = normalise_address(address)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.address == address))
    if mailbox is not None and mailbox.owner_id != owner.id and mailbox.status != MailboxStatus.DISCONNECTED:
        raise UserError(
            f"{address} is already connected by another person: an email address can be linked to "
            "one account only. Ask them to disconnect it first.",
            field="address",
        )
    if mailbox is None:
        mailbox = Mailbox(
            organisation_id=owner.organisation_id,
            address=address,
            daily_cap=DEFAULT_DAILY_CAP[provider],
            min_spacing_seconds=DEFAULT_MIN_SPACING_SECONDS,
            created_at=clock.now(),
        )
        session.add(mailbox)
    mailbox.owner_id = owner.id
    mailbox.organisation_id = owner.organisation_id
    mailbox.provider = provider
    mailbox.credentials = credentials
    mailbox.permission_level = permission_level
    mailbox.status = MailboxStatus.CONNECTED
    mailbox.status_reason = None
    mailbox.connected_at = clock.now()
    session.flush()
    return mailbox


def mailboxes_of(session: Session, user: User) -> list[Mailbox]:
    return list(
        session.scalars(
            select(Mailbox)
            .where(Mailbox.owner_id == user.id, Mailbox.status != MailboxStatus.DISCONNECTED)
            .order_by(Mailbox.address)
        )
    )
