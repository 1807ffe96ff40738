"""Abuse and feedback reports: someone marked our email as spam (or fraud, or a virus).

Pure, like the classifier that calls it (providers.classify). Two shapes reach a mailbox:
- ARF (RFC 5965): `multipart/report; report-type=feedback-report`, with a human-readable part, a
  `message/feedback-report` part (Feedback-Type: abuse, fraud, virus or other; Original-Rcpt-To,
  often redacted under RFC 6590) and the reported message or its headers (message/rfc822 or
  text/rfc822-headers). Yahoo's and AOL's feedback loops and Microsoft's JMRP send this shape;
  some wrap the report in another multipart, so in full mode a feedback-report part anywhere counts.
- the older "marked as spam" notice of Hotmail's JMRP, before it used ARF: a subject such as
  "complaint about message from 192.0.2.1" from the provider's feedback address, with the reported
  message attached and its recipient in X-HmXmrOriginalRecipient.

What the bot needs from a report: the candidate's address (Original-Rcpt-To, else the reported
message's To) and the reported message's Message-ID, which finds our send. A report whose recipient
is redacted and whose Message-ID is not ours changes nothing (the caller's matching decides).
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from providers.mail_text import Headers, address, content_type, ordered, parts, payload_bytes

# Senders of feedback loops and abuse desks, and the subjects their notices start with.
_REPORT_SENDERS = frozenset({"abuse", "fbl", "feedback", "feedbackloop", "feedback-loop", "scomp", "staff", "jmrp",
                             "complaints", "spamreport", "arf"})
_REPORT_SUBJECT = re.compile(
    r"\s*(?:complaint about message from|email feedback report|abuse report\b|spam report\b|fbl report\b"
    r"|feedback report\b|spam complaint\b)", re.IGNORECASE)
_FEEDBACK_TYPES = ("abuse", "fraud", "virus", "other")


@dataclass(frozen=True, slots=True)
class Complaint:
    recipients: tuple[str, ...] = ()  # the reported message's recipients, lower-case (the candidate)
    message_id: str | None = None  # the reported message's Message-ID, <…> included
    reason: str = ""
    is_complaint: bool = True  # False: a feedback report of another kind (auth-failure, RFC 6591)


def header_signal(headers: Headers, sender: str, subject: str, report_type: str) -> str | None:
    """What, in the header fields alone, says this is a complaint (basic permissions read no more)."""
    if report_type == "feedback-report":
        return "multipart/report feedback-report (ARF)"
    local = sender.partition("@")[0]
    if _REPORT_SUBJECT.match(subject) and local in _REPORT_SENDERS:
        return f"feedback-loop notice from {local}"
    return None


def read(message: Message, own_addresses: Collection[str]) -> Complaint | None:
    """The report's recipients and reported Message-ID; None when the body holds no report (no
    feedback-report part, no reported message from Hotmail's JMRP); `is_complaint` False for a
    feedback report that reports no complaint (Feedback-Type: auth-failure)."""
    feedback: Headers | None = None
    enclosed: Message | None = None
    for part in parts(message):
        kind = content_type(part)
        if kind == "message/feedback-report" and feedback is None:
            feedback = _fields(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and enclosed is None:
            enclosed = _enclosed(part)
    jmrp = enclosed is not None and Headers(enclosed).has("x-hmxmroriginalrecipient")
    if feedback is not None:
        kind = feedback.get("feedback-type").lower()
        if kind and not kind.startswith(_FEEDBACK_TYPES):  # auth-failure (RFC 6591) and the like: not a complaint
            return Complaint(reason=f"feedback report of type {kind[:40]}, not a complaint", is_complaint=False)
    elif not jmrp:
        return None
    found: list[str] = []
    if feedback is not None:
        found += [a for _, a in getaddresses(feedback.all("original-rcpt-to"))]
    if enclosed is not None:
        headers = Headers(enclosed)
        found += [a for _, a in getaddresses(headers.all("x-hmxmroriginalrecipient"))]
        if not found:
            found += [a for _, a in getaddresses(headers.all("to"))]
    own = {o.strip().lower() for o in own_addresses}
    recipients = ordered(a for a in (address(f) for f in found) if a and a not in own)
    message_id = _message_id(Headers(enclosed)) if enclosed is not None else None
    reason = "feedback-report part" if feedback is not None else "reported message (JMRP)"
    return Complaint(recipients, message_id, reason)


def _fields(part: Message) -> Headers:
    """A feedback-report part's fields: the parser may keep them as a sub-message or as text."""
    if part.is_multipart():
        blocks = [b for b in part.get_payload() if isinstance(b, Message)]
        if blocks:
            return Headers(blocks[0])
    return Headers(HeaderParser().parsestr(payload_bytes(part).decode("utf-8", "replace")))


def _enclosed(part: Message) -> Message | None:
    if part.is_multipart():  # message/rfc822: the parser gives the reported message as a sub-message
        found = [b for b in part.get_payload() if isinstance(b, Message)]
        return found[0] if found else None
    text = payload_bytes(part).decode("utf-8", "replace")
    return HeaderParser().parsestr(text, headersonly=True) if text.strip() else None


_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


def _message_id(headers: Headers) -> str | None:
    found = _MESSAGE_ID.search(headers.get("message-id"))
    return found.group(0) if found else None
