"""Who uses the bot and what they send from: organisations, users, their mailboxes and the
delegations that let one person send from another's mailbox; and the sign-ins in progress."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, Id, stored_enum
from bot.models.enums import DelegationStatus, EngagementRule, MailboxStatus, PermissionLevel, Provider

if TYPE_CHECKING:  # relationships name their targets; SQLAlchemy finds them by name
    from bot.models.campaigns import Campaign


class Organisation(Base):
    """A Slack team, with its settings."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slack_team_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    permission_level: Mapped[PermissionLevel] = mapped_column(
        stored_enum(PermissionLevel, "permission_level"), default=PermissionLevel.BASIC
    )
    # The organisation's calendar (`/outreach admin holidays`): ISO dates no campaign sends on, on top
    # of each campaign's own holidays.
    holidays: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # Protecting candidates (`/outreach admin protection`): a candidate in a teammate's active campaign,
    # or emailed by a teammate within engagement_days, warns or blocks an upload and a Start; a reply
    # asking to stop may put the address on the do-not-contact list by itself; emails may carry an
    # opt-out link with List-Unsubscribe (RFC 8058).
    engagement_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    engagement_rule: Mapped[EngagementRule] = mapped_column(
        stored_enum(EngagementRule, "engagement_rule"), default=EngagementRule.WARN, server_default="warn")
    opt_out_replies_to_dnc: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    opt_out_link: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether a campaign may track opens at all (`/outreach admin tracking`): off unless an admin
    # allows it; each campaign then turns it on for itself (campaigns.track_opens).
    open_tracking: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
    provider: Mapped[Provider] = mapped_column(stored_enum(Provider, "provider"))
    address: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    status: Mapped[MailboxStatus] = mapped_column(
        stored_enum(MailboxStatus, "mailbox_status"), default=MailboxStatus.CONNECTED
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    permission_level: Mapped[PermissionLevel] = mapped_column(
        stored_enum(PermissionLevel, "permission_level"), default=PermissionLevel.BASIC
    )
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet ciphertext, or None
    sync_cursor: Mapped[str | None] = mapped_column(Text)  # Graph delta links run past 500 characters
    last_synced_at: Mapped[datetime | None]
    sync_not_before: Mapped[datetime | None]  # a provider's Retry-After, or a back-off after errors
    daily_cap: Mapped[int] = mapped_column(Integer)
    min_spacing_seconds: Mapped[int] = mapped_column(Integer, default=60)
    max_in_flight: Mapped[int] = mapped_column(Integer, default=4)
    last_send_at: Mapped[datetime | None]
    # No send is claimed before this: set by spacing, a provider's Retry-After, or the daily cap;
    # not_before_reason says which ("spacing", "daily_cap", "rate_limit"), so `when` can tell the truth.
    not_before: Mapped[datetime | None]
    not_before_reason: Mapped[str | None] = mapped_column(String(24))
    connected_at: Mapped[datetime | None]
    # Graph refused `$select=internetMessageHeaders` (Mail.ReadBasic may): sync reads without headers.
    headers_refused: Mapped[bool] = mapped_column(Boolean, default=False)
    complaints: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # spam/abuse reports of its sends
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
        stored_enum(DelegationStatus, "delegation_status"), default=DelegationStatus.REQUESTED
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


class OAuthState(Base):
    """One sign-in in progress: single-use, short-lived, bound to the Slack team and user who asked,
    and (once started) to the browser that started it. Only a hash of the state is stored; the flow
    data (the PKCE verifier) is encrypted like credentials."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[Provider] = mapped_column(stored_enum(Provider, "provider"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    enhanced: Mapped[bool] = mapped_column(Boolean, default=False)
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    flow: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
