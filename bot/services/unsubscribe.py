"""The opt-out link (organisations.opt_out_link): its token, checking one, and what a click does.

With the setting on, each campaign email ends with a short line and its link, and carries
`List-Unsubscribe: <https://…/unsubscribe/TOKEN>` and `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` (RFC 8058), so mail clients show their own "Unsubscribe" that POSTs
`List-Unsubscribe=One-Click` to the same address (bot.unsubscribe_web serves it).

The token is `<outbound row id>.<mac>`: an HMAC-SHA256 over the row id, under a key derived from the
bot's encryption key (OUTREACH_ENCRYPTION_KEYS: the first signs, each verifies, so a rotation keeps
old links working), truncated to 128 bits. Nothing new is stored, nobody can make one for another
row, and a retry of a send builds the same link (identical bytes for exactly-once reconciliation).
A token that is malformed, forged or names no campaign email gets one and the same answer.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import Campaign, DoNotContactSource, Enrollment, OutboundKind, OutboundMessage
from bot.services import do_not_contact
from bot.services.notifications import notify

PATH = "/unsubscribe/"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the List-Unsubscribe-Post value and the POST body
_PURPOSE = b"outreach: the opt-out link's token, v1"  # the derived key serves this and nothing else
_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{22})")


def opt_out_line(url: str) -> str:
    """The line the email ends with."""
    return f"If you'd rather not hear from me again, this link stops my emails:\n{url}"


class Links:
    """Builds and checks opt-out links for one deployment (its public URL and keys)."""

    def __init__(self, public_url: str, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.base = public_url.rstrip("/") + PATH
        self._keys = [hmac.new(base64.urlsafe_b64decode(k.encode()), _PURPOSE, hashlib.sha256).digest() for k in keys]

    def token(self, row_id: int) -> str:
        return f"{row_id}.{self._mac(self._keys[0], row_id)}"

    def url(self, row_id: int) -> str:
        return self.base + self.token(row_id)

    def row_of(self, token: str) -> int | None:
        """The outbound row id the token was made for, or None for anything else."""
        found = _TOKEN.fullmatch(token)
        if found is None:
            return None
        row_id = int(found.group(1))
        return row_id if any(hmac.compare_digest(self._mac(k, row_id), found.group(2)) for k in self._keys) else None

    @staticmethod
    def _mac(key: bytes, row_id: int) -> str:
        digest = hmac.new(key, str(row_id).encode("ascii"), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def links_for(public_url: str, keys: Sequence[str]) -> Links | None:
    """None without an encryption key: emails then go without the link (there is nothing to sign with)."""
    return Links(public_url, keys) if keys else None


def with_opt_out_line(body: str, url: str) -> str:
    return f"{body.rstrip()}\n\n{opt_out_line(url)}\n"


@dataclass(frozen=True)
class Unsubscribed:
    address: str
    newly: bool  # False: they were on the list already (a second click)


def _campaign_row(session: Session, row_id: int) -> OutboundMessage | None:
    row = session.get(OutboundMessage, row_id)
    return row if row is not None and row.kind == OutboundKind.CAMPAIGN and row.enrollment_id is not None else None


def known(session: Session, *, row_id: int) -> bool:
    """Whether the row is a campaign email (a link can only have been sent in one)."""
    return _campaign_row(session, row_id) is not None


def apply(session: Session, *, row_id: int, clock: Clock) -> Unsubscribed | None:
    """The link (or a mail client's one-click POST) was used: the address the email went to goes on
    the list (UNSUBSCRIBE), their open enrollments end, and the campaign's owner is told in a DM.
    Works whatever the setting is now: a link once sent keeps working. None: no such email."""
    row = _campaign_row(session, row_id)
    if row is None:
        return None
    enrollment = session.get(Enrollment, row.enrollment_id)
    assert enrollment is not None
    campaign: Campaign = enrollment.campaign
    entry, _ = do_not_contact.add(session, organisation_id=campaign.organisation_id, text=row.to_address,
                                  reason=f"unsubscribe link in {campaign.name}"[:200],
                                  source=DoNotContactSource.UNSUBSCRIBE, added_by=None, clock=clock)
    newly = notify(session, user=campaign.owner, kind="unsubscribed", clock=clock,
                   dedupe_key=f"unsubscribed:{entry.id}",
                   text=(f":no_entry_sign: *{enrollment.candidate.name}* ({row.to_address}) used the opt-out link "
                         f"in your email from *{campaign.name}*: the address is on the do-not-contact list, and "
                         "nothing more will be sent to it from any campaign."))
    return Unsubscribed(row.to_address, newly)
