"""Mailboxes: connecting, listing, and the per-provider sending limits."""
from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import (
    Delegation,
    DelegationStatus,
    Mailbox,
    MailboxStatus,
    PermissionLevel,
    Provider,
    User,
)
from bot.services.addresses import valid_address
from bot.services.delegations import grants

# The providers' own limits (../shared/PROVIDERS.md): going over one gets a recruiter's mailbox
# suspended. Gmail: 2,000 messages a rolling day on Workspace, about 500 on consumer accounts;
# Exchange Online: 10,000 recipients a day and 30 messages a minute.
PROVIDER_DAILY_LIMIT = {Provider.GMAIL: 2000, Provider.GRAPH: 10000, Provider.SMTP_IMAP: 500, Provider.SANDBOX: 2000}
CONSUMER_GMAIL_DAILY_LIMIT = 500
CONSUMER_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
PROVIDER_MIN_SPACING_SECONDS = {Provider.GRAPH: 2}  # 30 messages a minute
DEFAULT_HEADROOM = 0.9  # default caps stay 10% under the limit: other mail leaves the mailbox too
DEFAULT_MIN_SPACING_SECONDS = 60  # SeekOut's default spacing between two sends from one mailbox


def provider_daily_limit(provider: Provider, address: str) -> int:
    if provider == Provider.GMAIL and address.rpartition("@")[2] in CONSUMER_GMAIL_DOMAINS:
        return CONSUMER_GMAIL_DAILY_LIMIT
    return PROVIDER_DAILY_LIMIT[provider]


def default_daily_cap(provider: Provider, address: str) -> int:
    return int(provider_daily_limit(provider, address) * DEFAULT_HEADROOM)


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
    address = valid_address(normalise_address(address), field="address")  # it becomes the From of every send
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
            daily_cap=default_daily_cap(provider, address),
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


def sending_mailboxes(session: Session, user: User) -> list[Mailbox]:
    """The mailboxes this user may start a campaign or a preview from: their own connected ones and
    those whose owner approved a delegation to them (for any campaign), own first."""
    found = session.scalars(select(Mailbox).where(
        Mailbox.status == MailboxStatus.CONNECTED, grants(Mailbox.owner_id, user.id, Mailbox.id, None))
        .order_by(Mailbox.address))
    return sorted(found, key=lambda m: m.owner_id != user.id)


def approved_senders(session: Session, mailbox_ids: list[int]) -> dict[int, list[str]]:
    """Who besides the owner may send from each mailbox (approved delegations)."""
    found: dict[int, list[str]] = {}
    for mailbox_id, name in session.execute(
            select(Delegation.mailbox_id, User.name).join(User, User.id == Delegation.grantee_id)
            .where(Delegation.mailbox_id.in_(mailbox_ids), Delegation.status == DelegationStatus.APPROVED)
            .order_by(User.name)).all():
        found.setdefault(mailbox_id, []).append(name)
    return found


def set_limits(mailbox: Mailbox, *, daily_cap: int | None = None, min_spacing_seconds: int | None = None) -> None:
    """Per-mailbox limits, kept within the provider's own so the mailbox is never suspended."""
    if daily_cap is not None:
        ceiling = provider_daily_limit(mailbox.provider, mailbox.address)
        if not 1 <= daily_cap <= ceiling:
            raise UserError(f"The daily cap must be between 1 and {ceiling} for this mailbox "
                            "(its provider's own limit).", field="daily_cap")
        mailbox.daily_cap = daily_cap
    if min_spacing_seconds is not None:
        floor = PROVIDER_MIN_SPACING_SECONDS.get(mailbox.provider, 0)
        if not floor <= min_spacing_seconds <= 3600:
            raise UserError(f"The spacing between sends must be between {floor} and 3600 seconds "
                            "for this mailbox.", field="min_spacing_seconds")
        mailbox.min_spacing_seconds = min_spacing_seconds
