"""IMAP reading for providers.smtp_imap: quoting folder names, finding the Sent folder, SELECT with
its UIDVALIDITY, FETCH answers parsed into (uid, INTERNALDATE, bytes), the sync cursor and SEARCH dates."""
from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from providers.base import TemporaryFailure

REPLY_TEXT_LIMIT = 300  # characters of a server's answer quoted in an error
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$', re.IGNORECASE)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_INTERNALDATE = re.compile(rb'INTERNALDATE "\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"')
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)


def quoted(value: str) -> str:
    """An IMAP quoted string (mailbox names, search values)."""
    if "\r" in value or "\n" in value:
        raise ValueError("an IMAP string cannot contain line breaks")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquoted(name: bytes) -> str:
    name = name.strip()
    if name.startswith(b'"') and name.endswith(b'"'):
        name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
    return name.decode("utf-8", "replace")  # still modified UTF-7, as the server expects it back


def reply_text(data: list[object]) -> str:
    return " ".join(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
                    for item in data if item is not None)[:REPLY_TEXT_LIMIT]


def check_ok(typ: str, data: list[object], what: str) -> None:
    if typ != "OK":
        raise TemporaryFailure(f"IMAP {what} failed: {typ} {reply_text(data)}")


def find_sent_folder(imap: imaplib.IMAP4) -> str:
    """The folder marked \\Sent (RFC 6154), else "Sent"."""
    if "SPECIAL-USE" in imap.capabilities:
        typ, data = imap.list('""', '"*" RETURN (SPECIAL-USE)')
    else:
        typ, data = imap.list('""', '"*"')
    check_ok(typ, data, "LIST")
    for item in data:
        line = b"".join(item) if isinstance(item, tuple) else item  # a literal name arrives as a tuple
        match = _LIST_LINE.match(line or b"")
        if match and b"\\sent" in match["flags"].lower().split():
            literal = re.match(rb"^\{\d+\}(.*)$", match["name"], re.DOTALL)
            return _unquoted(literal[1] if literal else match["name"])
    return "Sent"


def select_folder(imap: imaplib.IMAP4, folder: str) -> dict[str, int]:
    """EXAMINE (read-only) a folder; its EXISTS, UIDVALIDITY and UIDNEXT (when the server says)."""
    typ, data = imap.select(quoted(folder), readonly=True)
    check_ok(typ, data, f"SELECT {folder}")
    found = {}
    for key in ("EXISTS", "UIDVALIDITY", "UIDNEXT"):
        _, values = imap.response(key)
        if values and values[-1] is not None:
            found[key] = int(values[-1])
    if "UIDNEXT" not in found:  # optional in SELECT's answer: ask for it
        typ, data = imap.status(quoted(folder), "(UIDNEXT)")
        check_ok(typ, data, "STATUS")
        match = re.search(rb"UIDNEXT (\d+)", data[0] if isinstance(data[0], bytes) else b"")
        if match:
            found["UIDNEXT"] = int(match[1])
    if "UIDVALIDITY" not in found or "UIDNEXT" not in found:
        raise TemporaryFailure(f"IMAP server gave no UIDVALIDITY/UIDNEXT for {folder}")
    return found


def _parse_internaldate(meta: bytes) -> datetime | None:
    match = _INTERNALDATE.search(meta)
    if not match:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == b"-" else 1)
    local = datetime(int(year), _MONTHS[month.decode().lower()], int(day), int(hour), int(minute), int(second),
                     tzinfo=timezone(offset))
    return local.astimezone(timezone.utc)


def fetched(data: list[object]) -> Iterator[tuple[int, datetime | None, bytes]]:
    """(uid, internaldate, literal) per message in a FETCH answer. Items may come in any order, so
    the text after a literal (imaplib's next bytes item) is searched too; answers without a literal
    (unsolicited FLAGS updates) are skipped."""
    index = 0
    while index < len(data):
        item = data[index]
        index += 1
        if not isinstance(item, tuple):
            continue
        meta, literal = item
        if index < len(data) and isinstance(data[index], bytes):
            meta += data[index]  # type: ignore[operator]
            index += 1
        uid = _UID.search(meta)
        if uid:
            yield int(uid[1]), _parse_internaldate(meta), literal


def parse_cursor(cursor: str) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID), or None for something that is not our cursor (then: a full resync)."""
    validity, _, last_uid = cursor.partition(":")
    if not (validity.isdigit() and last_uid.isdigit()):
        return None
    return int(validity), int(last_uid)


def search_date(when: datetime) -> str:
    """An IMAP date (RFC 3501 date-text): English month names whatever the locale."""
    return f"{when.day}-{tuple(_MONTHS)[when.month - 1].capitalize()}-{when.year}"


# -- the provider ------------------------------------------------------------------------------
