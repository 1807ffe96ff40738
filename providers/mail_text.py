"""Reading inbound mail without trusting it: header fields as raw text, MIME parts, decoded text.

Shared by the classifier (providers.classify) and the format readers beside it (bounce_formats,
complaint_reports). Pure: no database, no network; nothing here raises on hostile input but the
email package's own errors, which the classifier catches (`MAIL_ERRORS`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr

# What the email package raises on hostile input (bad encoded words, unknown charsets, broken MIME).
MAIL_ERRORS = (MessageError, LookupError, ValueError, TypeError, AttributeError, IndexError, KeyError)
MAX_PARTS = 200  # a message with more MIME parts than this is not a bounce or a reply worth reading


def decoded(part: Message) -> str:
    data = payload_bytes(part)
    found = re.search(r"charset\s*=\s*\"?([^\";\s]+)", field(part, "content-type"), re.IGNORECASE)
    charset = found.group(1) if found else "utf-8"
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError):  # a charset Python does not know, or a name no codec accepts
        return data.decode("utf-8", "replace")


def payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError):  # a transfer encoding or charset the email package chokes on
        return b""
    return data if isinstance(data, bytes) else b""




class Headers:
    """A message's header fields by lower-case name, read once from the raw source values (the same
    text under every email policy; address parsing happens on text with encoded words still in it)."""

    __slots__ = ("_fields",)

    def __init__(self, message: Message) -> None:
        fields: dict[str, list[str]] = {}
        for name, value in raw_items(message):
            fields.setdefault(str(name).strip().lower(), []).append(raw_text(value))
        self._fields = fields

    def has(self, name: str) -> bool:
        return name.lower() in self._fields

    def get(self, name: str) -> str:
        values = self._fields.get(name.lower())
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        return self._fields.get(name.lower(), [])

    def subject(self) -> str:
        return decode_words(self.get("subject"))


def raw_items(message: Message) -> list[tuple[str, object]]:
    # The source values, not the policy's parsed header objects: policy.default re-parses a
    # Content-Type on every get_content_type(), which was most of the time spent here.
    return list(message.raw_items() if hasattr(message, "raw_items") else message.items())


def field(part: Message, name: str) -> str:
    """One header field of a MIME part, as raw text ('' if absent)."""
    for key, value in raw_items(part):
        if str(key).lower() == name:
            return raw_text(value)
    return ""


def content_type(part: Message) -> str:
    """A part's MIME type, lower-case; text/plain when it has none or a malformed one, as RFC 2045 says."""
    kind = field(part, "content-type").partition(";")[0].strip().lower()
    return kind if kind.count("/") == 1 and " " not in kind else "text/plain"


def raw_text(value: object) -> str:
    text = str(value)  # a compat32 Header (8-bit header bytes) or a policy's header object
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # 8-bit header bytes the parser kept as surrogate escapes: most are UTF-8
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:  # lone surrogates that are not escapes
            text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split()) if "\n" in text or "\t" in text else text.strip()


def decode_words(text: str) -> str:
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except MAIL_ERRORS:
            pass  # keep the words as they came
    return unicodedata.normalize("NFC", text).strip()


_SIMPLE_ADDRESS = re.compile(r"(?:[^<>\"(),;:]*<)?([^\s<>\"(),;:@]+@[^\s<>\"(),;:@]+)>?")


def address(value: str) -> str:
    """The lower-case address in a From-like value, without its display name; '' if there is none."""
    simple = _SIMPLE_ADDRESS.fullmatch(value.strip())  # `a@b` or `Name <a@b>`: most mail, and parseaddr is slow
    address = simple.group(1) if simple else parseaddr(value)[1].strip().strip("<>")
    address = address.lower()
    return address if "@" in address else ""


def parts(message: Message) -> Iterator[Message]:
    """The message and its MIME parts, depth first, without entering attached messages (a bounce's
    copy of the original, or a forwarded mail) or delivery-status blocks."""
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        if content_type(part).startswith("multipart/") and part.is_multipart():
            stack.extend(reversed([p for p in part.get_payload() if isinstance(p, Message)]))


def ordered(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({a.lower() for a in addresses if a}))
