"""Open tracking (issue 19 §1): the tracking image's token, recording a fetch of it, and retention.

With the organisation's setting on (organisations.open_tracking, an admin's: tracking_settings) and
the campaign's switch on (campaigns.track_opens), each campaign email carries a 1×1 image at
`<public URL>/o/<token>.gif` (scheduling.compose; providers.html_part). bot.pixel_web serves it.

The token is the outbound row id encrypted: AES-128 of one block (the id's 8 bytes, then 8 zero
bytes) under a key derived from the bot's encryption key for this purpose alone, base64url, 22
characters. A keyed permutation: it reveals nothing (not even the row id), nobody without the key
can make one for another row (a forged token decrypts to a block whose last 8 bytes are not zero,
but for a 2⁻⁶⁴ chance), nothing is stored, and a retry of a send builds the same one (identical
bytes for exactly-once reconciliation). It owes nothing to the Message-ID. The first key encrypts,
every key decrypts, so a rotation (OUTREACH_ENCRYPTION_KEYS) keeps images already sent working.

A fetch is recorded (time, IP, machine or not: bot.services.machine_opens) only for a campaign email
the bot sent (status SENT), while the organisation allows tracking, at most MAX_PER_SEND of them; the
user agent is read to classify and never stored. Opens go with their send (a foreign-key cascade),
so with the campaign and the organisation; delete_expired removes those older than RETENTION.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.models import Campaign, EmailOpen, Enrollment, Organisation, OutboundKind, OutboundMessage, OutboundStatus
from bot.services.campaign_marks import mark_stale
from bot.services.machine_opens import machine_reason

PATH = "/o/"
SUFFIX = ".gif"
MAX_PER_SEND = 20  # fetches kept per email: a flood of fetches of one image cannot grow the table
RETENTION = timedelta(days=365)
_PURPOSE = b"outreach: the open-tracking image's token, v1"  # the derived key serves this and nothing else
_ZERO = bytes(8)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")  # 16 bytes in base64url: the last character holds 2 bits


class Pixels:
    """Makes and reads tracking-image tokens for one deployment (its public URL and keys)."""

    def __init__(self, public_url: str, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.base = public_url.rstrip("/") + PATH
        self._ciphers = [Cipher(algorithms.AES(hmac.new(base64.urlsafe_b64decode(k.encode()), _PURPOSE,
                                                        hashlib.sha256).digest()[:16]), modes.ECB()) for k in keys]

    def token(self, row_id: int) -> str:
        if not 0 < row_id < 2 ** 63:
            raise ValueError("a row id is a positive 64-bit number")
        encryptor = self._ciphers[0].encryptor()  # one block, one permutation: ECB is the right mode here
        block = encryptor.update(row_id.to_bytes(8, "big") + _ZERO) + encryptor.finalize()
        return base64.urlsafe_b64encode(block).rstrip(b"=").decode("ascii")

    def url(self, row_id: int) -> str:
        return self.base + self.token(row_id) + SUFFIX

    def row_of(self, token: str) -> int | None:
        """The outbound row id the token was made for, or None for anything else."""
        if _TOKEN.fullmatch(token) is None:
            return None
        try:
            block = base64.urlsafe_b64decode(token + "==")
        except (binascii.Error, ValueError):
            return None
        for cipher in self._ciphers:
            decryptor = cipher.decryptor()
            plain = decryptor.update(block) + decryptor.finalize()
            if hmac.compare_digest(plain[8:], _ZERO):
                row_id = int.from_bytes(plain[:8], "big")
                return row_id if 0 < row_id < 2 ** 63 else None
        return None


def pixels_for(public_url: str, keys: Sequence[str]) -> Pixels | None:
    """None without an encryption key: emails then carry no image (there is nothing to make a token with)."""
    return Pixels(public_url, keys) if keys else None


def record(session: Session, *, row_id: int, ip: str | None, user_agent: str | None, now: datetime) -> bool:
    """One fetch of the image of row `row_id`: recorded (True) when the row is a campaign email the bot
    sent, its organisation allows tracking, and it has fewer than MAX_PER_SEND opens. One short write,
    no network call; the row is locked so two fetches at once cannot pass the limit together."""
    O = OutboundMessage
    found = session.execute(
        select(O.kind, O.status, O.sent_at, Enrollment.campaign_id, Organisation.open_tracking)
        .join(Enrollment, Enrollment.id == O.enrollment_id).join(Campaign, Campaign.id == Enrollment.campaign_id)
        .join(Organisation, Organisation.id == Campaign.organisation_id)
        .where(O.id == row_id).with_for_update(of=O)).first()
    if found is None:
        return False
    kind, status, sent_at, campaign_id, allowed = found
    if kind != OutboundKind.CAMPAIGN or status != OutboundStatus.SENT or not allowed:
        return False
    if session.scalar(select(func.count()).where(EmailOpen.outbound_message_id == row_id)) >= MAX_PER_SEND:
        return False
    reason = machine_reason(user_agent=user_agent, ip=ip, opened_at=now, sent_at=sent_at)
    session.add(EmailOpen(outbound_message_id=row_id, campaign_id=campaign_id, opened_at=now, ip=ip,
                          machine=reason is not None, machine_reason=reason))
    mark_stale(session, [campaign_id])  # its message's Results show opens
    session.flush()
    return True


def delete_expired(session: Session, *, now: datetime) -> int:
    """Upkeep: the opens older than RETENTION, deleted. Returns how many."""
    result = session.execute(delete(EmailOpen).where(EmailOpen.opened_at < now - RETENTION))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
