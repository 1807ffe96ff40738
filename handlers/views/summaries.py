"""Plain data the views show: built by handlers from services, so views never touch the database."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MailboxSummary:
    address: str
    provider: str
    status: str  # connected | needs_reconnect
    permission: str  # basic | enhanced


@dataclass(frozen=True)
class CampaignSummary:
    name: str
    status: str
    candidates: int
    sent: int
