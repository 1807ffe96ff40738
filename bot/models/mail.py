"""Mail in and out: each step's send, one-off sends, what came back (replies, bounces,
out-of-office), and the per-hour send counts behind the rolling daily cap."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, Id, stored_enum
from bot.models.enums import OutboundKind, OutboundStatus
from providers.base import InboundKind

if TYPE_CHECKING:  # relationships name their targets; SQLAlchemy finds them by name
    from bot.models.campaigns import Enrollment


class OutboundMessage(Base):
    """One row per step per enrollment per address: the durable intent to send, made before sending.

    A one-off email or a preview step is a row too (kind), with no enrollment: its sender, and its
    subject and body, kept only while it is unsent and cleared when it settles (SPEC "Data kept")."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_position", "to_address"),
        Index(None, "status", "due_at"),
        Index("ix_outbound_messages_mailbox_queue", "mailbox_id", "status", "due_at", "id"),  # claim order
        Index("ix_outbound_messages_kind_queue", "kind", "status", "due_at"),  # one-offs, among many campaign rows
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    kind: Mapped[OutboundKind] = mapped_column(stored_enum(OutboundKind, "outbound_kind"),
                                               default=OutboundKind.CAMPAIGN, server_default="campaign")
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    step_position: Mapped[int] = mapped_column(Integer)
    to_address: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)  # made before the send
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    references: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OutboundStatus] = mapped_column(
        stored_enum(OutboundStatus, "outbound_status"), default=OutboundStatus.PENDING
    )
    due_at: Mapped[datetime]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    # pending: the claim's lease; sending: when to reconcile with the mailbox if still unresolved
    lease_expires_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime | None]  # when the last attempt moved it to sending
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    provider_thread_id: Mapped[str | None] = mapped_column(String(255))
    # The Message-ID the provider stored, where it is not ours (Exchange may rewrite it): replies
    # and follow-ups refer to this one.
    sent_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    error: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # One-off and preview rows only (kind), see bot.services.direct_send:
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(Text)  # while unsent; cleared when the row settles
    body: Mapped[str | None] = mapped_column(Text)  # while unsent; cleared when the row settles
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id", ondelete="CASCADE"))
    error_kind: Mapped[str | None] = mapped_column(String(24))  # rate_limited, reconnect, permanent, unclear, …

    enrollment: Mapped[Enrollment | None] = relationship()


class DirectMessage(Base):
    """A one-off email sent with `/outreach send`, kept (metadata only) so a reply to it reaches its
    sender in Slack, as a campaign's replies do."""

    __tablename__ = "direct_messages"
    # By address alone too: the rules of engagement ask who of the team wrote to a person lately.
    __table_args__ = (Index(None, "mailbox_id", "to_address"), Index(None, "to_address"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    sent_message_id: Mapped[str | None] = mapped_column(String(255))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    provider_thread_id: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(998))
    sent_at: Mapped[datetime]


class InboundEvent(Base):
    """Metadata of a reply, bounce or auto-reply: never a message body (seed 003)."""

    __tablename__ = "inbound_events"
    # By enrollment too: the results per step (bot.services.results) and the status's "replied from"
    # read a campaign's answers through its enrollments.
    __table_args__ = (UniqueConstraint("mailbox_id", "provider_message_id"), Index(None, "enrollment_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    outbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
    direct_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("direct_messages.id", ondelete="CASCADE")
    )
    kind: Mapped[InboundKind] = mapped_column(stored_enum(InboundKind, "inbound_kind"))
    provider_message_id: Mapped[str] = mapped_column(String(255))
    provider_thread_id: Mapped[str | None] = mapped_column(String(255))
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    failed_recipients: Mapped[list[Any]] = mapped_column(default=list)
    permanent: Mapped[bool | None] = mapped_column(Boolean)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class EmailOpen(Base):
    """One fetch of a campaign email's open-tracking image (bot.services.open_tracking): its time and
    the IP it came from (seed 003), for emails the bot sent only. A fetch by a known image proxy or
    privacy relay, or within seconds of the send, is a machine open (`machine_reason` says which): kept
    apart and never counted as a person reading. Deleted with its send, hence with the campaign and
    the organisation; upkeep removes opens past the retention the README states."""

    __tablename__ = "email_opens"
    __table_args__ = (Index(None, "campaign_id", "opened_at"), Index(None, "outbound_message_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    outbound_message_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    opened_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(45))  # an IPv6 address in full is 39; mapped IPv4 45
    machine: Mapped[bool] = mapped_column(Boolean, default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(24))  # apple_privacy, gmail_proxy, too_soon, …


class MailboxSendCount(Base):
    """Sends started per mailbox per UTC hour, for the rolling 24-hour daily cap: summing 25 small
    rows is constant work, where counting the sends themselves grows with the mailbox's volume.
    Whole hours count in full, so the cap errs on the side of sending less, never more."""

    __tablename__ = "mailbox_send_counts"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    sends: Mapped[int] = mapped_column(Integer, default=0)
