"""Finding a message we sent in a Microsoft 365 mailbox's Sent Items.

Whether Exchange keeps the Message-ID of a MIME upload to sendMail is not documented, and the Sent
copy may lag (PROVIDERS.md). So a send is looked for by our Message-ID first, then by what it
looked like: recipient, subject and a sentDateTime window. That second look must never take another
message for ours: recipient, subject and window must all match, an item carrying another
Message-ID of our own making is another of our sends, and two candidates (or more than a few
pages of mail in the window) are an answer it cannot give: `Ambiguous`.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from providers.base import ProviderError, SentLookup, SentMessage

SELECT = "id,conversationId,internetMessageId,subject,toRecipients,sentDateTime"
SKEW = timedelta(minutes=2)  # our clock against Exchange's, either way
WINDOW_PAGE_SIZE = 25
WINDOW_MAX_PAGES = 2  # more mail than this in the window: too busy to tell which is ours
FOLDER = "/me/mailFolders('sentitems')/messages"


class Ambiguous(ProviderError):
    """More than one message in Sent Items could be ours: we cannot tell which."""


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{name}={quote(value, safe=',')}" for name, value in params.items())


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_id_path(message_id: str) -> str:
    odata_literal = message_id.replace("'", "''")  # OData doubles quotes inside a string literal
    return f"{FOLDER}?" + _query({"$filter": f"internetMessageId eq '{odata_literal}'",
                                  "$select": "id,conversationId,internetMessageId"})


def window_path(lookup: SentLookup) -> str:
    """Only a sentDateTime range is filtered on the server (the simplest filter Graph takes on
    messages); recipient and subject are compared here, exactly."""
    expression = f"sentDateTime ge {_stamp(lookup.not_before - SKEW)}"
    if lookup.not_after is not None:
        expression += f" and sentDateTime le {_stamp(lookup.not_after + SKEW)}"
    return f"{FOLDER}?" + _query({"$filter": expression, "$select": SELECT, "$top": str(WINDOW_PAGE_SIZE)})


def exact(items: list[dict[str, Any]], message_id: str) -> dict[str, Any] | None:
    return next((item for item in items if item.get("internetMessageId") == message_id and item.get("id")), None)


def _words(text: Any) -> str:
    return " ".join(str(text or "").split())


def _sent_at(item: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(item.get("sentDateTime")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _made_like(message_id: str, other: str) -> bool:
    """Whether `other` has the shape of a Message-ID we make (providers.base.new_message_id: 32 hex
    digits at the mailbox's domain), as `message_id` does."""
    domain = message_id.strip().strip("<>").rpartition("@")[2]
    return bool(re.fullmatch(r"<[0-9a-f]{32}@" + re.escape(domain) + ">", other.strip(), flags=re.IGNORECASE))


def looks_like(items: list[dict[str, Any]], message_id: str, lookup: SentLookup) -> dict[str, Any] | None:
    """The one item that is our send by recipient, subject and time; None when there is none.
    Raises Ambiguous when more than one fits."""
    to, subject = lookup.to_address.lower(), _words(lookup.subject)
    earliest = lookup.not_before - SKEW
    latest = lookup.not_after + SKEW if lookup.not_after is not None else None
    fits = []
    for item in items:
        recipients = {str((r.get("emailAddress") or {}).get("address") or "").lower()
                      for r in item.get("toRecipients") or []}
        other_id = str(item.get("internetMessageId") or "")
        sent_at = _sent_at(item)
        if (not item.get("id") or recipients != {to} or _words(item.get("subject")) != subject or sent_at is None
                or sent_at < earliest or (latest is not None and sent_at > latest)):
            continue
        if other_id != message_id and _made_like(message_id, other_id):
            continue  # Exchange kept the Message-ID of another of our sends: that one is not this one
        fits.append(item)
    if len(fits) > 1:
        raise Ambiguous(f"{len(fits)} messages in Sent Items match the recipient, subject and time of this send")
    return fits[0] if fits else None


def sent_message(item: dict[str, Any], ours: str) -> SentMessage:
    """What Exchange stored: its internetMessageId (ours when it kept it), its id and conversation."""
    return SentMessage(str(item.get("internetMessageId") or ours), str(item["id"]), item.get("conversationId"))
