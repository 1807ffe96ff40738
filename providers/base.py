"""One interface for every mail provider, and the typed errors the send engine acts on."""
from __future__ import annotations

import abc
import enum
import functools
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import charset, errors, policy
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.utils import format_datetime

from providers.html_part import html_part

log = logging.getLogger(__name__)
_UTF8_QP = charset.Charset("utf-8")
_UTF8_QP.header_encoding = charset.QP
_UTF8_QP.body_encoding = charset.QP
# Headers are written by the email package's policies, never folded by hand, at 76 characters: RFC 2047's
# limit for a line with encoded words, so its words stay within 75 and every line within RFC 5322's 78.
# People's words (names, subjects) go in a Header, which splits them into encoded words by characters and
# keeps their spaces inside the words. (The RFC 5322 policy of 3.11 splits at spaces and loses one where
# two encoded words meet at a fold, which decoders then ignore: "Zürich ¡" read back as "Zürich¡".)
# Identifiers and dates are folded only at spaces and never encoded: an encoded word is not allowed in a
# msg-id (RFC 5322 §3.6.4), and Outlook reads Thread-Index as plain base64.
LINE = 76
WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=LINE)
TEXT_HEADERS = frozenset({"From", "To", "Subject", "Thread-Topic"})
UNFOLDED = frozenset({"List-Unsubscribe"})  # RFC 2369 parsers are not all kind to a folded <URL>
MAX_LINE = 998
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces: nothing to fold
# Every control character but tab (folding whitespace): a CR or LF would end the header early and start
# another (an injected Bcc:), the rest are refused by mail servers or garble the header.
_HEADER_BREAKERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# What the email package raises for a header it cannot write (HeaderWriteError exists from 3.11.10/3.12.5).
HEADER_ERRORS: tuple[type[Exception], ...] = (errors.HeaderParseError, getattr(errors, "HeaderWriteError",
                                                                                 errors.HeaderParseError))
_SOURCE = {"Subject": "the step's subject, or the candidate's name and fields it uses",
           "To": "the candidate's address", "From": "the mailbox owner's name or the mailbox's address",
           "Thread-Topic": "the step's subject"}
_NAME_SOURCE = {"To": "the candidate's name or address"}
_MIME_HEAD = b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n'
# A tracked email's parts. The boundary is fixed, so a retry builds the same bytes; it can never occur in a
# part: both are quoted-printable, which writes every "=" as "=3D", and the boundary starts with "=_".
_BOUNDARY = b"=_outreach_alternative"
_ALTERNATIVE_HEAD = b'Content-Type: multipart/alternative; boundary="' + _BOUNDARY + b'"\r\nMIME-Version: 1.0\r\n'
_PART_HEAD = (b"--" + _BOUNDARY + b'\r\nContent-Type: text/%s; charset="utf-8"\r\n'
              b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
_LAST_BOUNDARY = b"\r\n--" + _BOUNDARY + b"--\r\n"


class ProviderError(Exception):
    """Base of the errors a provider raises; messages never contain credentials."""


class ReconnectNeeded(ProviderError):
    """The grant is gone (revoked, expired, password changed): only the owner can fix it."""


class RateLimited(ProviderError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(ProviderError):
    """This message will never go out as it is (bad recipient, message refused)."""


class TemporaryFailure(ProviderError):
    """Worth retrying later with backoff (5xx, timeouts before the provider accepted it)."""


def new_message_id(from_address: str) -> str:
    """A Message-ID made before the send, so a crashed send can be looked up, never resent."""
    domain = from_address.rpartition("@")[2] or "outreach.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


@dataclass(frozen=True)
class OutgoingEmail:
    from_address: str
    to_address: str
    subject: str
    body: str
    message_id: str
    from_name: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_id: str | None = None  # the provider's thread of step 1, for same-thread follow-ups
    date: datetime | None = None
    to_name: str | None = None  # the candidate's name, shown as the To: display name
    # Outlook's conversation headers (scheduling.thread_index), set on SMTP sends: the thread's subject
    # without "Re: ", and the base64 conversation index.
    thread_topic: str | None = None
    thread_index: str | None = None
    # The opt-out link (an https URL, when the organisation turned it on): List-Unsubscribe with
    # RFC 8058's one-click List-Unsubscribe-Post. None: neither header, the bytes as they always were.
    unsubscribe_url: str | None = None
    # The open-tracking image's URL (bot.services.open_tracking, when the organisation allows it and the
    # campaign asks): the email becomes multipart/alternative, the text/plain part exactly as without it
    # plus a text/html copy ending with the 1×1 image (providers.html_part). None: the bytes as always.
    tracking_image_url: str | None = None

    def headers(self) -> list[tuple[str, str | Address]]:
        """Each header's value; From and To as Address objects, which the policy quotes and encodes."""
        found: list[tuple[str, str | Address]] = [
            ("From", _address(self.from_name, self.from_address)), ("To", _address(self.to_name, self.to_address)),
            ("Subject", self.subject), ("Message-ID", self.message_id)]
        if self.date is not None:
            found.append(("Date", format_datetime(self.date)))
        if self.in_reply_to:
            found.append(("In-Reply-To", self.in_reply_to))
        if self.references:
            found.append(("References", " ".join(self.references)))
        if self.thread_index:
            found += [("Thread-Topic", self.thread_topic or ""), ("Thread-Index", self.thread_index)]
        if self.unsubscribe_url:
            found += [("List-Unsubscribe", f"<{self.unsubscribe_url}>"),
                      ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
        return found

    @functools.cached_property
    def _texts(self) -> list[tuple[str, str, str | Address]]:
        """(name, text, value) of each header, made once for check_headers and to_bytes."""
        return [(name, str(value), value) for name, value in self.headers()]

    def to_bytes(self) -> bytes:
        """The wire bytes: text/plain, UTF-8, the body quoted-printable, CRLF. Built without an
        EmailMessage (five times slower, which matters at thousands of sends a second): each header
        line comes from header_line, the body from the charset's encoder."""
        head = "".join(f"{name}: {text}\r\n" if _plain(name, text) else policy_line(name, value)
                       for name, text, value in self._texts)
        body = _UTF8_QP.body_encode(self.body).replace("\r\n", "\n").replace("\n", "\r\n")
        if self.tracking_image_url is None:
            return _MIME_HEAD + head.encode("ascii") + b"\r\n" + body.encode("ascii")
        html = _UTF8_QP.body_encode(html_part(self.body, self.tracking_image_url)).replace("\r\n", "\n")
        return (_ALTERNATIVE_HEAD + head.encode("ascii") + b"\r\n" + _PART_HEAD % b"plain" + body.encode("ascii")
                + b"\r\n" + _PART_HEAD % b"html" + html.replace("\n", "\r\n").encode("ascii") + _LAST_BOUNDARY)


def display_name(name: str | None) -> str | None:
    """A person's name as a display name: None when empty, or when it holds a character no header can
    carry (the address alone goes then: a name is no reason to fail a send)."""
    name = (name or "").strip()
    return name if name and not _HEADER_BREAKERS.search(name) else None


def _address(name: str | None, address: str) -> str | Address:
    """The address with its display name, if any. Given in parts: parsing addr_spec costs 30 µs a send."""
    if not name:
        return address
    username, _, domain = address.rpartition("@")
    return Address(name, username, domain)


def header_line(name: str, value: str | Address) -> str:
    """One header as it goes on the wire, CRLF included. Printable ASCII that fits on a line (nearly
    every header) is written as it is: what the policy writes for it (a property test holds the two
    together), without the cost of its parser. Anything else the policy writes."""
    text = str(value)
    if _plain(name, text):
        return f"{name}: {text}\r\n"
    return policy_line(name, value)


def _plain(name: str, text: str) -> bool:
    """Printable ASCII words, single spaces, on one line: the policies write it as it is. A link header
    is one word the policy could only fold before it: it goes on one line (RFC 5322 allows 998)."""
    limit = MAX_LINE if name in UNFOLDED else LINE
    return len(name) + 2 + len(text) <= limit and _PLAIN_VALUE.fullmatch(text) is not None


def policy_line(name: str, value: str | Address) -> str:
    """The header as the email package writes it (see WIRE)."""
    if name not in TEXT_HEADERS:
        return WIRE.fold(name, str(value))
    if isinstance(value, Address) and not value.display_name.isascii():
        words = Header(value.display_name, "utf-8", header_name=name)
        words.append(f"<{value.addr_spec}>", "us-ascii")
    else:  # an ASCII name is quoted where it must be (str of Address), and folded at its spaces
        text = str(value)
        words = Header(text, "us-ascii" if text.isascii() else "utf-8", header_name=name)
    return WIRE.fold(name, words)


def check_headers(email: OutgoingEmail) -> OutgoingEmail:
    """The email, if its headers can be written as they are; else PermanentFailure with the reason.
    Called before a provider sees the email: one that cannot be built never will be, so it must fail
    at once (its owner told), not wait out the retries of a send whose fate is unclear."""
    for name, address in (("From", email.from_address), ("To", email.to_address)):
        if not address.isascii() or " " in address or address.count("@") != 1:
            raise PermanentFailure(f"the {name} address {address!r} is not one plain address (ASCII, no spaces): "
                                   f"fix {_SOURCE[name]}")
    words = (("From", email.from_name), ("To", email.to_name), ("Subject", email.subject),
             ("Thread-Topic", email.thread_topic), ("In-Reply-To", email.in_reply_to),
             ("References", " ".join(email.references)), ("Message-ID", email.message_id),
             ("List-Unsubscribe", email.unsubscribe_url))
    for name, value in words:
        found = _HEADER_BREAKERS.search(value or "")
        if found:
            raise PermanentFailure(f"the {name} header would contain a line break or control character "
                                   f"(U+{ord(found.group()):04X}), which an email header cannot hold: remove it from "
                                   f"{_NAME_SOURCE.get(name, _SOURCE.get(name, 'it'))}")
    try:
        plain = all(_plain(name, text) for name, text, _ in email._texts)
    except (errors.MessageError, ValueError) as exc:  # a name or address the header classes cannot hold
        raise PermanentFailure(f"the email's addresses cannot be written: {exc}"[:300]) from None
    if not plain:
        try:  # headers to encode or fold: the policy's way, as to_bytes() takes it (no body: not needed)
            replace(email, body="").to_bytes()
        except (errors.MessageError, ValueError) as exc:
            raise PermanentFailure(f"the email's headers cannot be written: {exc}"[:300]) from None
    return email


def send_once(send: Callable[[OutgoingEmail], SentMessage], email: OutgoingEmail, *, what: str) -> SentMessage:
    """One provider call, whatever goes wrong in it told as a ProviderError: a header the email package
    cannot write never left (permanent); anything else unexpected may have left (temporary, so it is
    looked up before any retry). `what` names the send in the log."""
    try:
        return send(email)
    except ProviderError:
        raise
    except HEADER_ERRORS as exc:
        raise PermanentFailure(f"its headers cannot be written: {exc}"[:300]) from None
    except Exception as exc:  # a bug or an unexpected library error: unclear whether it went out
        log.exception("unexpected error sending %s", what)
        raise TemporaryFailure(f"unexpected error: {type(exc).__name__}") from None


@dataclass(frozen=True)
class SentMessage:
    message_id: str  # the RFC 5322 Message-ID
    provider_message_id: str
    thread_id: str | None


@dataclass(frozen=True)
class SentLookup:
    """What a send looked like, for a provider that may have stored it under another Message-ID
    (Exchange may assign its own): only a message matching all of it can be taken for ours."""

    to_address: str
    subject: str
    not_before: datetime  # when the send began (or was claimed)
    not_after: datetime | None = None  # by when it must have gone, if known


@dataclass(frozen=True)
class InboundMessage:
    """An incoming message as the provider gives it: headers always, the body only when the
    mailbox has enhanced permissions (and then only for classification: never stored)."""

    provider_message_id: str
    thread_id: str | None
    headers: Message
    received_at: datetime
    full: Message | None = None


class InboundKind(str, enum.Enum):
    """What the classifier (providers.classify) says an inbound message is; stored on InboundEvent."""

    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"  # an abuse or feedback report (ARF, a provider's "marked as spam"): never a reply
    OTHER = "other"


@dataclass(frozen=True)
class Changes:
    messages: list[InboundMessage] = field(default_factory=list)
    cursor: str | None = None
    full_resync: bool = False


class MailProvider(abc.ABC):
    """A connected mailbox. Instances are per mailbox and short-lived."""

    # The provider refused to give internet headers of inbound mail (Graph under Mail.ReadBasic may):
    # it now reads without them. The sync stores it on the mailbox so the next provider starts so.
    headers_refused: bool = False

    @abc.abstractmethod
    def send(self, email: OutgoingEmail) -> SentMessage:
        """Send once. Must not retry internally: a retried send can be a double send."""

    @abc.abstractmethod
    def find_sent(self, message_id: str, lookup: SentLookup | None = None) -> SentMessage | None:
        """Look for a message we may have sent (reconciling a send interrupted by a crash).
        `lookup` lets a provider that may change the Message-ID find the message by what it looked
        like. Raises ProviderError when it cannot tell: the caller must then not send."""

    @abc.abstractmethod
    def fetch_changes(self, cursor: str | None) -> Changes:
        """Inbound messages since the cursor (headers only under basic permissions)."""

    @abc.abstractmethod
    def address(self) -> str:
        """The mailbox's own address, as the provider reports it."""

    def refresh_credentials(self) -> bytes | None:
        """Refresh tokens if needed; returns new serialised credentials to store, or None."""
        return None
