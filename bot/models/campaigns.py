"""What a recruiter builds: candidates with their addresses, sequences of steps, campaigns with
their shares, the candidates enrolled in them, and CSV uploads waiting for a confirm."""
from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint, false, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, Id, stored_enum
from bot.models.enums import (
    AddressKind,
    CampaignStatus,
    DoNotContactSource,
    EnrollmentStatus,
    PauseReason,
    SendPreference,
    ShareLevel,
)

if TYPE_CHECKING:  # relationships name their targets; SQLAlchemy finds them by name
    from bot.models.accounts import Mailbox, User


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)  # template variables
    # The candidate's own IANA time zone (a `time zone` column): their sends follow it; none, the campaign's.
    time_zone: Mapped[str | None] = mapped_column(String(64))
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
    kind: Mapped[AddressKind] = mapped_column(stored_enum(AddressKind, "address_kind"))
    position: Mapped[int] = mapped_column(Integer)
    use_first: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    candidate: Mapped[Candidate] = relationship(back_populates="addresses")


def _unique_name_per_owner(table: str) -> Index:
    """One live name per owner, whatever its case ("SRE" and "sre" collide); an archived one frees
    its name. Both databases index the expression and honour the WHERE."""
    live = text("archived_at IS NULL")
    return Index(f"uq_{table}_owner_name", "owner_id", func.lower(text("name")), unique=True,
                 sqlite_where=live, postgresql_where=live)


class Sequence(Base):
    __tablename__ = "sequences"
    __table_args__ = (_unique_name_per_owner("sequences"),)

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
    __table_args__ = (_unique_name_per_owner("campaigns"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="RESTRICT"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CampaignStatus] = mapped_column(
        stored_enum(CampaignStatus, "campaign_status"), default=CampaignStatus.DRAFT
    )
    pause_reason: Mapped[PauseReason | None] = mapped_column(stored_enum(PauseReason, "pause_reason"))
    send_preference: Mapped[SendPreference] = mapped_column(
        stored_enum(SendPreference, "send_preference"), default=SendPreference.STARTED
    )
    specific_time: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    send_days: Mapped[str] = mapped_column(String(7), default="0123456")  # ISO weekdays, Monday=0
    holidays: Mapped[list[Any]] = mapped_column(default=list)  # ISO dates
    email_preference: Mapped[AddressKind] = mapped_column(
        stored_enum(AddressKind, "address_kind"), default=AddressKind.WORK
    )
    strict_preference: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_channel_id: Mapped[str | None] = mapped_column(String(32))
    same_thread: Mapped[bool] = mapped_column(Boolean, default=True)
    # Its emails carry the open-tracking image (bot.services.open_tracking); only where the
    # organisation allows it (organisations.open_tracking), and only for emails sent while it is on.
    track_opens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    # A finished campaign the owner archived: out of lists and lookups by name (its name is free
    # again), its history kept. A draft is deleted instead.
    archived_at: Mapped[datetime | None]
    # Who paused it when that was not its owner (a teammate it is shared with, or the hiring manager
    # whose mailbox it sends from), so the owner is told who.
    paused_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # The campaign's status message in Slack, kept up to date with chat.update; the hash of what it
    # shows lets the refresher skip a campaign whose numbers have not changed.
    status_channel: Mapped[str | None] = mapped_column(String(32))
    status_ts: Mapped[str | None] = mapped_column(String(32))
    status_hash: Mapped[str | None] = mapped_column(String(64))
    # Whether that message may be out of date: every write that changes what it shows adds one to
    # message_version (bot.services.campaign_marks.mark_stale); the refresher draws only campaigns
    # whose message_version differs from the one it last drew, and records the version it read, so a
    # change landing while it draws is redrawn on the next tick.
    message_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message_drawn_version: Mapped[int | None] = mapped_column(Integer)

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
    level: Mapped[ShareLevel] = mapped_column(stored_enum(ShareLevel, "share_level"))
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
        # A person's campaigns across the organisation: the rules of engagement, the do-not-contact
        # sweep, and deleting a candidate.
        Index(None, "candidate_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        stored_enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.NOT_STARTED
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
    # An auto-reply's stated return date: the next step waits for the first send day after it.
    away_until: Mapped[date | None] = mapped_column(Date)
    # The owner's reason for enrolling a candidate a teammate is engaged with (rules of engagement);
    # the override itself is in the audit log, and the teammate is told.
    engagement_override: Mapped[str | None] = mapped_column(String(500))
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
    # A confirm writes the rows in chunks, one transaction each (services/candidate_uploads.py):
    # how many are written, which claim runs it (a Resume after a crash takes a new one, so a run
    # that was thought dead cannot write on), its last progress, and the counts so far.
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    confirm_claim: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    confirming_at: Mapped[datetime | None]
    counts: Mapped[dict[str, Any] | None]


class DoNotContact(Base):
    """The organisation's do-not-contact list: an address, or a whole domain (a client company the
    team must not poach from). No email starts to a match: bot.services.do_not_contact owns it."""

    __tablename__ = "do_not_contact"
    __table_args__ = (UniqueConstraint("organisation_id", "value"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(320))  # an address as kept (lower-case, ASCII), or a domain
    is_domain: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[DoNotContactSource] = mapped_column(stored_enum(DoNotContactSource, "dnc_source"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
