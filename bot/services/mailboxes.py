"""Mailboxes: connecting, listing, and the per-provider sending limits (their one owner: the import,
the Slack settings modal and set_limits all read limit_range)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
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
from bot.services.send_counts import sends_last_day

# The providers' own limits (../shared/PROVIDERS.md): going over one gets a recruiter's mailbox
# suspended. Gmail: 2,000 messages a rolling day on Workspace, about 500 on consumer accounts;
# Exchange Online: 10,000 recipients a day and 30 messages a minute.
PROVIDER_DAILY_LIMIT = {Provider.GMAIL: 2000, Provider.GRAPH: 10000, Provider.SMTP_IMAP: 500, Provider.SANDBOX: 2000}
CONSUMER_GMAIL_DAILY_LIMIT = 500
CONSUMER_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# Gmail: 150 sends a minute per user (15,000 quota units, 100 a send), rounded up to whole seconds;
# Exchange Online: 30 messages a minute.
PROVIDER_MIN_SPACING_SECONDS = {Provider.GMAIL: 1, Provider.GRAPH: 2}
MAX_SPACING_SECONDS = 3600  # beyond an hour between two sends, a typo: a campaign would take months
DEFAULT_HEADROOM = 0.9  # default caps stay 10% under the limit: other mail leaves the mailbox too
DEFAULT_MIN_SPACING_SECONDS = 60  # SeekOut's default spacing between two sends from one mailbox


def provider_daily_limit(provider: Provider, address: str) -> int:
    if provider == Provider.GMAIL and address.rpartition("@")[2] in CONSUMER_GMAIL_DOMAINS:
        return CONSUMER_GMAIL_DAILY_LIMIT
    return PROVIDER_DAILY_LIMIT[provider]


@dataclass(frozen=True)
class LimitRange:
    """What a mailbox's owner may set: a cap of 1 to the provider's daily limit, a spacing no faster
    than the provider's rate limit allows."""

    max_daily_cap: int
    min_spacing_seconds: int
    max_spacing_seconds: int = MAX_SPACING_SECONDS
    min_daily_cap: int = 1

    def cap_problem(self, daily_cap: int) -> str | None:
        if self.min_daily_cap <= daily_cap <= self.max_daily_cap:
            return None
        return (f"The daily cap must be between {self.min_daily_cap} and {self.max_daily_cap} for this mailbox "
                "(its provider's own limit).")

    def spacing_problem(self, seconds: int) -> str | None:
        if self.min_spacing_seconds <= seconds <= self.max_spacing_seconds:
            return None
        return (f"The spacing between sends must be between {self.min_spacing_seconds} and "
                f"{self.max_spacing_seconds} seconds for this mailbox.")


def limit_range(provider: Provider, address: str) -> LimitRange:
    return LimitRange(max_daily_cap=provider_daily_limit(provider, address),
                      min_spacing_seconds=PROVIDER_MIN_SPACING_SECONDS.get(provider, 0))


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
    allowed = limit_range(mailbox.provider, mailbox.address)
    if daily_cap is not None:
        if problem := allowed.cap_problem(daily_cap):
            raise UserError(problem, field="daily_cap")
        mailbox.daily_cap = daily_cap
    if min_spacing_seconds is not None:
        if problem := allowed.spacing_problem(min_spacing_seconds):
            raise UserError(problem, field="min_spacing_seconds")
        mailbox.min_spacing_seconds = min_spacing_seconds


def owned_mailbox(session: Session, *, user: User, mailbox_id: int, lock: bool = False) -> Mailbox:
    """A connected mailbox of the user's own: its limits are its owner's to set, not a delegate's."""
    mailbox = session.get(Mailbox, mailbox_id, with_for_update=lock)
    if mailbox is None or mailbox.owner_id != user.id or mailbox.status == MailboxStatus.DISCONNECTED:
        raise NotFound("That mailbox is not one of yours.")
    return mailbox


def change_limits(session: Session, *, user: User, mailbox_id: int, daily_cap: int, min_spacing_seconds: int,
                  clock: Clock) -> Mailbox:
    """The owner's change from Slack: checked (on its field), audited, and applied to the hold the
    claims left on the mailbox, so the sends waiting for it follow the change at once. A cap that
    no longer binds (raised above today's sends) releases a cap hold down to the spacing after the
    last send; a provider's Retry-After is kept whatever changed. A lowered cap needs nothing here:
    the next claim counts today's sends against it, holds the mailbox and tells the owner."""
    mailbox = owned_mailbox(session, user=user, mailbox_id=mailbox_id, lock=True)
    before = {"daily_cap": mailbox.daily_cap, "min_spacing_seconds": mailbox.min_spacing_seconds}
    set_limits(mailbox, daily_cap=daily_cap, min_spacing_seconds=min_spacing_seconds)
    after = {"daily_cap": mailbox.daily_cap, "min_spacing_seconds": mailbox.min_spacing_seconds}
    if after == before:
        return mailbox
    now = clock.now()
    held = mailbox.not_before is not None and mailbox.not_before > now and mailbox.not_before_reason != "rate_limit"
    if held and sends_last_day(session, [mailbox.id], now).get(mailbox.id, 0) < mailbox.daily_cap:
        spaced = mailbox.last_send_at + timedelta(seconds=mailbox.min_spacing_seconds) \
            if mailbox.last_send_at is not None else None
        mailbox.not_before, mailbox.not_before_reason = (spaced, "spacing") if spaced and spaced > now else (None, None)
    session.add(AuditEntry(organisation_id=mailbox.organisation_id, actor=user.slack_user_id,
                           action="mailbox.limits_changed", subject_type="mailbox", subject_id=mailbox.id,
                           detail={"before": before, "after": after}, created_at=now))
    session.flush()
    return mailbox
