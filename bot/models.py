"""The data model: one module so the whole schema reads in one place.

Conventions: every timestamp is stored as naive UTC and comes back timezone-aware (UTCDateTime), so
SQLite and PostgreSQL behave the same; enumerations are stored as short strings with a CHECK so a
row never holds a value the code does not know.
"""
from __future__ import annotations

import enum
from datetime import datetime, time, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    types,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from providers.base import InboundKind

# Named constraints, so Alembic migrations can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER keys


class UTCDateTime(types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC on disk."""

    impl = types.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class PermissionLevel(str, enum.Enum):
    BASIC = "basic"
    ENHANCED = "enhanced"


class Provider(str, enum.Enum):
    GMAIL = "gmail"
    GRAPH = "graph"
    SMTP_IMAP = "smtp_imap"
    SANDBOX = "sandbox"


class MailboxStatus(str, enum.Enum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class DelegationStatus(str, enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AddressKind(str, enum.Enum):
    WORK = "work"
    PERSONAL = "personal"
    OTHER = "other"


class SendPreference(str, enum.Enum):
    STARTED = "started"  # "When the campaign is started" (default)
    SPECIFIC = "specific"
    BEST = "best"


class CampaignStatus(str, enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # started, first sends not yet due (the 20-minute grace)
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"


class ShareLevel(str, enum.Enum):
    VIEW = "view"  # sees the campaign as its owner does, minus addresses the owner added by hand
    EDIT = "edit"  # also starts, pauses, resumes and changes candidates


class PauseReason(str, enum.Enum):
    BY_USER = "by_user"
    MAILBOX_DISCONNECTED = "mailbox_disconnected"
    NEEDS_RECONNECT = "needs_reconnect"
    DELEGATION_REVOKED = "delegation_revoked"


class EnrollmentStatus(str, enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    OUT_OF_OFFICE = "out_of_office"  # an auto-reply arrived; the sequence goes on
    PAUSED = "paused"
    REPLIED = "replied"  # ended
    BOUNCED = "bounced"  # ended
    FINISHED = "finished"  # ended: every step sent, no reply

    @property
    def sends(self) -> bool:
        """Whether steps may still be sent to this candidate."""
        return self in (self.NOT_STARTED, self.IN_PROGRESS, self.OUT_OF_OFFICE)


class OutboundStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # intent recorded, provider called: reconcile after a crash, never resend
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the enrollment ended or paused before this step was due


class Organisation(Base):
    """A Slack team, with its settings."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slack_team_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    permission_level: Mapped[PermissionLevel] = mapped_column(
        _enum(PermissionLevel, "permission_level"), default=PermissionLevel.BASIC
    )
    created_at: Mapped[datetime]

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    """A Slack user of an organisation; their time zone is the default for their campaigns."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organisation_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation] = relationship(back_populates="users")


class Mailbox(Base):
    """A mailbox connected by its owner. One address belongs to one bot account (seed 004)."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[Provider] = mapped_column(_enum(Provider, "provider"))
    address: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    status: Mapped[MailboxStatus] = mapped_column(
        _enum(MailboxStatus, "mailbox_status"), default=MailboxStatus.CONNECTED
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    permission_level: Mapped[PermissionLevel] = mapped_column(
        _enum(PermissionLevel, "permission_level"), default=PermissionLevel.BASIC
    )
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet ciphertext, or None
    sync_cursor: Mapped[str | None] = mapped_column(Text)  # Graph delta links run past 500 characters
    last_synced_at: Mapped[datetime | None]
    sync_not_before: Mapped[datetime | None]  # a provider's Retry-After, or a back-off after errors
    daily_cap: Mapped[int] = mapped_column(Integer)
    min_spacing_seconds: Mapped[int] = mapped_column(Integer, default=60)
    max_in_flight: Mapped[int] = mapped_column(Integer, default=4)
    last_send_at: Mapped[datetime | None]
    # No send is claimed before this: set by spacing, a provider's Retry-After, or the daily cap.
    not_before: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    # Graph refused `$select=internetMessageHeaders` (Mail.ReadBasic may): sync reads without headers.
    headers_refused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    owner: Mapped[User] = relationship()


class Delegation(Base):
    """A recruiter's right to send from a hiring manager's mailbox, optionally for one campaign.
    `mailbox_id` is empty while a request waits for a manager who has no mailbox connected yet;
    it is fixed when the manager approves."""

    __tablename__ = "delegations"
    __table_args__ = (Index(None, "grantee_id", "status"), Index(None, "grantor_id", "status"),
                      Index(None, "mailbox_id", "status"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    grantor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    grantee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    status: Mapped[DelegationStatus] = mapped_column(
        _enum(DelegationStatus, "delegation_status"), default=DelegationStatus.REQUESTED
    )
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]  # approved or denied
    ended_at: Mapped[datetime | None]  # revoked, or expired unanswered
    notify_grantor: Mapped[bool] = mapped_column(Boolean, default=False)  # the manager hears of replies too

    mailbox: Mapped[Mailbox | None] = relationship()
    grantor: Mapped[User] = relationship(foreign_keys=[grantor_id])
    grantee: Mapped[User] = relationship(foreign_keys=[grantee_id])
    campaign: Mapped[Campaign | None] = relationship()


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)  # template variables
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    addresses: Mapped[list[CandidateAddress]] = relationship(
        back_populates="candidate", order_by="CandidateAddress.position", cascade="all, delete-orphan"
    )


class CandidateAddress(Base):
    """An address in relevancy order (seed 002); one added by hand is seen only by who added it."""

    __tablename__ = "candidate_addresses"
    # By address too: uploads merge duplicates and replies are matched by the sender's address.
    __table_args__ = (UniqueConstraint("candidate_id", "address"), Index(None, "address"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    kind: Mapped[AddressKind] = mapped_column(_enum(AddressKind, "address_kind"))
    position: Mapped[int] = mapped_column(Integer)
    use_first: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    candidate: Mapped[Candidate] = relationship(back_populates="addresses")


class Sequence(Base):
    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # Deleting a sequence that finished campaigns still name hides it instead (their history stays).
    archived_at: Mapped[datetime | None]

    steps: Mapped[list[SequenceStep]] = relationship(
        back_populates="sequence", order_by="SequenceStep.position", cascade="all, delete-orphan"
    )


class SequenceStep(Base):
    __tablename__ = "sequence_steps"
    __table_args__ = (
        UniqueConstraint("sequence_id", "position"),
        CheckConstraint("delay_days >= 0", name="delay_not_negative"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 1-based
    subject: Mapped[str] = mapped_column(String(998))  # RFC 5322 line limit
    body: Mapped[str] = mapped_column(Text)
    delay_days: Mapped[int] = mapped_column(Integer, default=0)  # after the previous step

    sequence: Mapped[Sequence] = relationship(back_populates="steps")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="RESTRICT"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus, "campaign_status"), default=CampaignStatus.DRAFT
    )
    pause_reason: Mapped[PauseReason | None] = mapped_column(_enum(PauseReason, "pause_reason"))
    send_preference: Mapped[SendPreference] = mapped_column(
        _enum(SendPreference, "send_preference"), default=SendPreference.STARTED
    )
    specific_time: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    send_days: Mapped[str] = mapped_column(String(7), default="0123456")  # ISO weekdays, Monday=0
    holidays: Mapped[list[Any]] = mapped_column(default=list)  # ISO dates
    email_preference: Mapped[AddressKind] = mapped_column(
        _enum(AddressKind, "address_kind"), default=AddressKind.WORK
    )
    strict_preference: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_channel_id: Mapped[str | None] = mapped_column(String(32))
    same_thread: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    # Who paused it when that was not its owner (a teammate it is shared with, or the hiring manager
    # whose mailbox it sends from), so the owner is told who.
    paused_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # The campaign's status message in Slack, kept up to date with chat.update; the hash of what it
    # shows lets the refresher skip a campaign whose numbers have not changed.
    status_channel: Mapped[str | None] = mapped_column(String(32))
    status_ts: Mapped[str | None] = mapped_column(String(32))
    status_hash: Mapped[str | None] = mapped_column(String(64))

    sequence: Mapped[Sequence] = relationship()
    mailbox: Mapped[Mailbox] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    paused_by: Mapped[User | None] = relationship(foreign_keys=[paused_by_id])


class CampaignShare(Base):
    """A teammate the owner shared a campaign with (`/outreach share`): one row per person, revoked
    by deleting it. Read by bot.services.access alone."""

    __tablename__ = "campaign_shares"
    __table_args__ = (UniqueConstraint("campaign_id", "user_id"), Index(None, "user_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    level: Mapped[ShareLevel] = mapped_column(_enum(ShareLevel, "share_level"))
    shared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    campaign: Mapped[Campaign] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Enrollment(Base):
    """One candidate in one campaign, with its own schedule, status and per-campaign overrides."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "candidate_id"),
        Index("ix_enrollments_open", "campaign_id", "ended_at"),  # "is anyone still in this campaign?"
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.NOT_STARTED
    )
    steps_sent: Mapped[int] = mapped_column(Integer, default=0)
    address_override: Mapped[str | None] = mapped_column(String(320))
    fields_override: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tried_addresses: Mapped[list[Any]] = mapped_column(default=list)  # bounced ones, in order
    status_reason: Mapped[str | None] = mapped_column(String(500))  # why paused, for the recruiter
    thread_id: Mapped[str | None] = mapped_column(String(200))  # provider thread of step 1
    thread_references: Mapped[str | None] = mapped_column(Text)  # Message-IDs sent so far, in order
    thread_subject: Mapped[str | None] = mapped_column(String(998))  # step 1's subject as it was sent
    first_send_local: Mapped[time | None] = mapped_column(Time)  # anchor for later steps
    last_sent_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    campaign: Mapped[Campaign] = relationship()
    candidate: Mapped[Candidate] = relationship()


class CandidateUpload(Base):
    """Candidate rows read from a CSV or a paste, waiting for the recruiter to confirm them: good rows
    are kept only on confirmation, so a file with mistakes never half-lands in a campaign."""

    __tablename__ = "candidate_uploads"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The campaign it was uploaded for; none for a file shared to the bot, which asks which campaign.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(200))  # the file's name, or "pasted rows"
    rows: Mapped[list[Any]] = mapped_column(default=list)  # the good rows, ready to write
    problems: Mapped[list[Any]] = mapped_column(default=list)  # [{"line": n, "message": ...}]
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class OutboundMessage(Base):
    """One row per step per enrollment per address: the durable intent to send, made before sending."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_position", "to_address"),
        Index(None, "status", "due_at"),
        Index("ix_outbound_messages_mailbox_queue", "mailbox_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    step_position: Mapped[int] = mapped_column(Integer)
    to_address: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)  # made before the send
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    references: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OutboundStatus] = mapped_column(
        _enum(OutboundStatus, "outbound_status"), default=OutboundStatus.PENDING
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

    enrollment: Mapped[Enrollment] = relationship()


class DirectMessage(Base):
    """A one-off email sent with `/outreach send`, kept (metadata only) so a reply to it reaches its
    sender in Slack, as a campaign's replies do."""

    __tablename__ = "direct_messages"
    __table_args__ = (Index(None, "mailbox_id", "to_address"),)

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
    __table_args__ = (UniqueConstraint("mailbox_id", "provider_message_id"),)

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
    kind: Mapped[InboundKind] = mapped_column(_enum(InboundKind, "inbound_kind"))
    provider_message_id: Mapped[str] = mapped_column(String(255))
    provider_thread_id: Mapped[str | None] = mapped_column(String(255))
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    failed_recipients: Mapped[list[Any]] = mapped_column(default=list)
    permanent: Mapped[bool | None] = mapped_column(Boolean)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ChannelAlert(Base):
    """A reply or bounce alert for a campaign's channel, in an outbox like Notification. The serving
    process posts a channel's waiting alerts as one message per run, so a busy campaign never
    floods the channel (Slack allows about one message per second per channel)."""

    __tablename__ = "channel_alerts"
    __table_args__ = (Index(None, "delivered_at", "channel_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who did what: delegation answers, refused clicks, disconnects, key rotation."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "organisation_id", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    actor: Mapped[str | None] = mapped_column(String(64))  # Slack user id, or "system"
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(Id)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class MailboxSendCount(Base):
    """Sends started per mailbox per UTC hour, for the rolling 24-hour daily cap: summing 25 small
    rows is constant work, where counting the sends themselves grows with the mailbox's volume.
    Whole hours count in full, so the cap errs on the side of sending less, never more."""

    __tablename__ = "mailbox_send_counts"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    sends: Mapped[int] = mapped_column(Integer, default=0)


class Notification(Base):
    """A message for a person, written in the same transaction as what caused it and delivered to
    Slack by the serving process (a transactional outbox: workers need no Slack token, and a crash
    never loses or doubles a notice). `dedupe_key` makes "tell once" a database guarantee."""

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A notice may carry buttons (`action`, with `action_value`) and may answer in the DM thread of
    # an earlier notice (`thread_of` names its dedupe_key); delivery records where it landed.
    action: Mapped[str | None] = mapped_column(String(40))
    action_value: Mapped[str | None] = mapped_column(String(200))
    thread_of: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))


class OAuthState(Base):
    """One sign-in in progress: single-use, short-lived, bound to the Slack team and user who asked,
    and (once started) to the browser that started it. Only a hash of the state is stored; the flow
    data (the PKCE verifier) is encrypted like credentials."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[Provider] = mapped_column(_enum(Provider, "provider"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    enhanced: Mapped[bool] = mapped_column(Boolean, default=False)
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    flow: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
