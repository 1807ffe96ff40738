"""What people are told and what was done: notices for a person (a transactional outbox) and the
audit log."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, Id


class Outbox:
    """The columns of a table of messages waiting for Slack (Notification, ChannelAlert): written in the
    same transaction as what caused them, delivered by the serving process. `dedupe_key` makes "tell
    once" a database guarantee; a delivery run claims rows (claimed_by, until lease_expires_at) in
    one short write, calls Slack outside any transaction and records in another, so a crashed run's
    claim expires and nothing is lost or sent twice."""

    text: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


class Notification(Outbox, Base):
    """A message for a person, written in the same transaction as what caused it and delivered to
    Slack by the serving process (a transactional outbox: workers need no Slack token)."""

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "delivered_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # A notice may carry buttons (`action`, with `action_value`) and may answer in the DM thread of
    # an earlier notice (`thread_of` names its dedupe_key); delivery records where it landed.
    action: Mapped[str | None] = mapped_column(String(40))
    action_value: Mapped[str | None] = mapped_column(String(200))
    thread_of: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))


class ChannelAlert(Outbox, Base):
    """A reply or bounce alert for a campaign's channel. The serving process posts a channel's waiting
    alerts as one message per run, so a busy campaign never floods the channel (Slack allows about
    one message per second per channel)."""

    __tablename__ = "channel_alerts"
    __table_args__ = (Index(None, "delivered_at", "channel_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))


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


class ResultChart(Base):
    """A results chart uploaded to Slack (files_upload_v2) and shown in an image block: one row per
    place it is shown (`key`: a campaign's message, a person's App Home), with the digest of the
    numbers it was drawn from, so an unchanged chart is never drawn or uploaded again."""

    __tablename__ = "result_charts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # "campaign:<id>", "home:<user id>"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime]
