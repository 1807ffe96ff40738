"""Plain data the views show: built by handlers from services, so views never touch the database."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MailboxSummary:
    address: str
    provider: str
    status: str  # connected | needs_reconnect
    permission: str  # basic | enhanced
    id: int = 0
    sends_today: int = 0  # in the last 24 hours, as the daily cap counts them
    daily_cap: int = 0
    senders: tuple[str, ...] = field(default=())  # who may send from it: the owner, approved delegates
    reason: str | None = None  # why it needs reconnecting
    complaints: int = 0  # spam reports of its sends, ever (mailboxes.complaints)
    recent_complaints: int = 0  # reported sends in the last 30 days (bot.services.complaints.rates) ...
    recent_sends: int = 0  # ... and emails sent in those 30 days
    complaint_warning: bool = False  # at or past 0.3% (bot.services.complaints.WARN_RATE)


@dataclass(frozen=True)
class CampaignSummary:
    name: str
    status: str
    candidates: int
    sent: int
    whose: str = ""  # for someone else's campaign: "Rita's, shared with you to view", ...
