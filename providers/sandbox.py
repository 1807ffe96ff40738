"""The sandbox provider: a mail "server" in a folder, so the demo and tests send real MIME without
reaching the internet. Each mailbox has Sent/ and INBOX/ folders of numbered .eml files a person can
read; the numbers come from a counter under a file lock, so several processes can share it.

A PostOffice stands for the rest of the world: it reads what was sent and delivers a candidate's
reply, a mailer-daemon bounce or an out-of-office auto-reply into a mailbox's INBOX.

Sync works like IMAP's: the cursor is the highest message number seen. An idle poll reads the
counter (one small file, under the mailbox lock) and lists nothing; a poll with news opens only
the numbers between the cursor and the counter, so its cost never depends on the INBOX's size.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr, make_msgid, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import IO

from providers.base import (
    Changes,
    InboundMessage,
    MailProvider,
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    RateLimited,
    ReconnectNeeded,
    SentLookup,
    SentMessage,
    TemporaryFailure,
)

SENT, INBOX = "Sent", "INBOX"
THREAD_HEADER = "X-Sandbox-Thread-Id"
ID_HEADER = "X-Sandbox-Id"


SEND_FAULTS = ("rate_limited", "server_error", "timeout", "timeout_after_accept", "reconnect", "permanent")
SYNC_FAULTS = ("sync_rate_limited", "sync_server_error", "sync_reconnect")
RESYNC_DAYS = 14  # a cursor the store does not know (the sandbox was wiped): the last RESYNC_DAYS...
RESYNC_MAX_MESSAGES = 200  # ...and no more than this many messages


def _recipient(message: bytes) -> str:
    """The To address of a message about to be sent (headers only)."""
    from email.parser import BytesHeaderParser
    from email.utils import parseaddr

    return parseaddr(str(BytesHeaderParser().parsebytes(message).get("To", "")))[1]


def _fault_error(kind: str, arg: str, recipient: str = "") -> ProviderError:
    kind = kind.removeprefix("sync_")
    if kind == "rate_limited":
        return RateLimited("sandbox: 429 Too Many Requests", retry_after=float(arg or 60))
    if kind == "reconnect":
        return ReconnectNeeded("sandbox: invalid_grant (token revoked)")
    if kind == "permanent":
        # "permanent:named" words it as many mail servers do (SMTP 550 5.1.1 names the address it refused).
        return PermanentFailure(f"sandbox: 400 invalid recipient <{recipient}>" if arg == "named"
                                else "sandbox: 400 invalid recipient")
    if kind == "server_error":
        return TemporaryFailure("sandbox: 500 backendError")
    return TemporaryFailure("sandbox: timed out")


class SandboxStore:
    """The folder layout and the cross-process counter."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, IO[str], Path]] = {}
        self._folders: dict[tuple[str, str], Path] = {}
        self._faults: dict[Path, str] = {}  # mailbox folder → its .faults file

    def folder(self, address: str, name: str) -> Path:
        path = self._folders.get((address, name))  # made once per mailbox: path joins cost more than the write
        if path is None:
            path = self.root / address.lower() / name
            path.mkdir(parents=True, exist_ok=True)
            self._folders[(address, name)] = path
        return path

    @contextmanager
    def _locked(self, address: str) -> Iterator[tuple[Path, IO[str]]]:
        """The mailbox's lock: a thread lock in this process, flock across processes. The lock
        file stays open (opening files is the slow part of a send) and holds the UID counter."""
        with self._guard:
            if address not in self._locks:
                base = self.root / address.lower()
                base.mkdir(parents=True, exist_ok=True)
                # Read-write, not append: in append mode every write lands at the end of the file.
                descriptor = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
                self._locks[address] = (threading.Lock(), os.fdopen(descriptor, "r+"), base)
            thread_lock, handle, base = self._locks[address]
        with thread_lock:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield base, handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._guard:
            for _, handle, _ in self._locks.values():
                handle.close()
            self._locks.clear()

    def append(self, address: str, folder: str, message: Message) -> int:
        """Store a message with the next number; returns the number (the IMAP-like UID)."""
        with self._locked(address) as (base, handle):
            return self._append_locked(handle, address, folder, message)

    def _append_locked(self, handle: IO[str], address: str, folder: str, message: Message | bytes,
                       extra: dict[str, str] | None = None) -> int:
        handle.seek(0)
        uid = int(handle.read() or 0) + 1
        # The number first (a crash leaves a gap, never a reused number), overwritten in place at a
        # fixed width: truncating first would let a crash in between restart the count at 1.
        handle.seek(0)
        handle.write(f"{uid:020d}")
        handle.flush()
        target = os.path.join(self.folder(address, folder), f"{uid:010d}")  # plain strings: pathlib was slow
        data = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        headers = {**(extra or {}), ID_HEADER: f"sbx-{uid}"}  # the server's own, as a trace header
        data = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + data
        with open(target + ".tmp", "wb") as tmp:
            tmp.write(data)
        os.replace(target + ".tmp", target + ".eml")  # a reader never sees half a message
        return uid

    # Faults are scripted per mailbox in a file, so a test can script them for worker processes too.
    def inject(self, address: str, *faults: str) -> None:
        """Queue faults for the next calls: rate_limited:SECONDS, server_error, timeout,
        timeout_after_accept, reconnect, permanent or permanent:named (sends), lookup_error (find_sent), and
        sync_rate_limited:SECONDS, sync_server_error, sync_reconnect (fetch_changes)."""
        with self._locked(address) as (base, _):
            path = base / ".faults"
            queued = json.loads(path.read_text()) if path.exists() else []
            path.write_text(json.dumps([*queued, *faults]))

    def _next_fault(self, base: Path, kinds: tuple[str, ...]) -> str | None:
        name = self._faults.get(base)
        if name is None:
            name = self._faults[base] = os.path.join(base, ".faults")
        if not os.path.exists(name):  # every send looks: faults are scripted by other processes too
            return None
        path = Path(name)
        queued = json.loads(path.read_text())
        for index, fault in enumerate(queued):
            if fault.split(":")[0] in kinds:
                del queued[index]
                path.write_text(json.dumps(queued))
                return fault
        return None

    def send(self, address: str, message: bytes, extra: dict[str, str]) -> int:
        """Deliver to Sent unless a scripted fault says otherwise (then raise as a provider would)."""
        with self._locked(address) as (base, handle):
            fault = self._next_fault(base, SEND_FAULTS)
            if fault is None:
                return self._append_locked(handle, address, SENT, message, extra)
            kind, _, arg = fault.partition(":")
            if kind == "timeout_after_accept":
                self._append_locked(handle, address, SENT, message, extra)
            raise _fault_error(kind, arg, _recipient(message))

    def check_lookup(self, address: str) -> None:
        with self._locked(address) as (base, _):
            if self._next_fault(base, ("lookup_error",)):
                raise TemporaryFailure("sandbox: the mailbox search timed out")

    def counter(self, address: str) -> int:
        """The last message number given out, unless a sync fault is scripted (then raised). Read
        under the lock: every number up to it is then on disk or was never used (a crash)."""
        with self._locked(address) as (base, handle):
            fault = self._next_fault(base, SYNC_FAULTS)
            if fault is not None:
                kind, _, arg = fault.partition(":")
                raise _fault_error(kind, arg)
            handle.seek(0)
            return int(handle.read() or 0)

    def between(self, address: str, folder: str, after_uid: int, last_uid: int) -> list[tuple[int, Path]]:
        """The messages of a folder numbered after_uid < n <= last_uid, without listing the folder."""
        folder_path = os.path.join(self.folder(address, folder), "")
        found = ((uid, f"{folder_path}{uid:010d}.eml") for uid in range(after_uid + 1, last_uid + 1))
        return [(uid, Path(path)) for uid, path in found if os.path.exists(path)]

    def list(self, address: str, folder: str, after_uid: int = 0) -> list[tuple[int, Path]]:
        path = self.folder(address, folder)
        files = sorted(path.glob("*.eml"))
        return [(int(f.stem), f) for f in files if int(f.stem) > after_uid]


def _load(path: Path, headers_only: bool = False) -> Message:
    data = path.read_bytes()
    if headers_only:  # the header block alone: the header parser would keep the body as the payload
        head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
        return BytesHeaderParser(policy=policy.default).parsebytes(head + b"\r\n\r\n")
    return message_from_bytes(data, policy=policy.default)


def _received(headers: Message, path: Path) -> datetime:
    """The Date the PostOffice stamped (UTC when it names no zone); else when the file was written."""
    try:
        when = parsedate_to_datetime(str(headers["Date"]))
    except (TypeError, ValueError):
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _sent_from(message: Message) -> SentMessage:
    return SentMessage(
        message_id=str(message["Message-ID"]),
        provider_message_id=str(message[ID_HEADER]),
        thread_id=str(message[THREAD_HEADER]) if message[THREAD_HEADER] else None,
    )


class SandboxProvider(MailProvider):
    def __init__(self, store: SandboxStore, address: str, *, enhanced: bool = False, latency: float = 0.0,
                 now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self._address = address.lower()
        self.enhanced = enhanced
        self.latency = latency  # seconds per call, to stand for a provider's round trip in benchmarks
        self._now = now or (lambda: datetime.now(timezone.utc))  # the demo's simulated clock, for resyncs

    def address(self) -> str:
        return self._address

    def send(self, email: OutgoingEmail) -> SentMessage:
        if email.date is None:
            email = replace(email, date=datetime.now(timezone.utc))
        thread = email.thread_id or f"thread-{email.message_id.strip('<>')}"
        if self.latency:
            time.sleep(self.latency)
        uid = self.store.send(self._address, email.to_bytes(), {THREAD_HEADER: thread})
        return SentMessage(email.message_id, f"sbx-{uid}", thread)

    def find_sent(self, message_id: str, lookup: SentLookup | None = None) -> SentMessage | None:
        self.store.check_lookup(self._address)
        for _, path in reversed(self.store.list(self._address, SENT)):
            headers = _load(path, headers_only=True)
            if headers["Message-ID"] == message_id:
                return _sent_from(headers)
        return None

    def fetch_changes(self, cursor: str | None) -> Changes:
        """What the PostOffice delivered to INBOX since `cursor` (the last message number seen).

        None starts from now: the counter, no messages. Headers only, unless the mailbox is
        enhanced (then the whole message too). A cursor above the counter (the sandbox was wiped)
        or not a number is stale: a full resync of the newest RESYNC_MAX_MESSAGES dated within
        RESYNC_DAYS (`full_resync=True`). Messages may come again after a resync: the caller
        dedupes by provider_message_id. Scripted sync_* faults raise as a real provider would."""
        last = self.store.counter(self._address)
        if cursor is None:
            return Changes(messages=[], cursor=str(last))
        after = int(cursor) if cursor.isdigit() else None
        if after is None or after > last:
            return self._full_resync(last)
        if after == last:  # idle: nothing was numbered since
            return Changes(messages=[], cursor=cursor)
        found = [self._inbound(path) for _, path in self.store.between(self._address, INBOX, after, last)]
        return Changes(messages=found, cursor=str(last))

    def _full_resync(self, last: int) -> Changes:
        cutoff = self._now() - timedelta(days=RESYNC_DAYS)
        recent: list[InboundMessage] = []
        for _, path in reversed(self.store.list(self._address, INBOX)):
            if len(recent) >= RESYNC_MAX_MESSAGES:
                break
            message = self._inbound(path)
            if message.received_at < cutoff:
                break
            recent.append(message)
        return Changes(messages=recent[::-1], cursor=str(last), full_resync=True)

    def _inbound(self, path: Path) -> InboundMessage:
        headers = _load(path, headers_only=True)
        return InboundMessage(
            provider_message_id=str(headers[ID_HEADER]),
            thread_id=str(headers[THREAD_HEADER]) if headers[THREAD_HEADER] else None,
            headers=headers,
            received_at=_received(headers, path),
            full=_load(path) if self.enhanced else None,
        )


@dataclass(frozen=True)
class Delivered:
    mailbox: str
    uid: int
    message: Message


def recipient_of(message: Message) -> str:
    """The address a sent message went to: its To: carries the candidate's name as well."""
    return parseaddr(str(message["To"]))[1]


class PostOffice:
    """The world outside the mailbox: reads sent mail, delivers replies, bounces, auto-replies."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def sent(self, mailbox: str) -> list[Message]:
        return [_load(path) for _, path in self.store.list(mailbox, SENT)]

    def all_sent(self) -> list[Message]:
        if not self.store.root.exists():
            return []
        return [m for box in sorted(self.store.root.iterdir()) if box.is_dir() for m in self.sent(box.name)]

    def _deliver(self, mailbox: str, original: Message, reply: Message, when: datetime) -> Delivered:
        reply["Date"] = format_datetime(when)
        reply["Message-ID"] = make_msgid(domain="sandbox.invalid")
        reply["In-Reply-To"] = str(original["Message-ID"])
        refs = str(original["References"] or "").split()
        reply["References"] = " ".join([*refs, str(original["Message-ID"])])
        if original[THREAD_HEADER]:
            reply[THREAD_HEADER] = str(original[THREAD_HEADER])
        uid = self.store.append(mailbox, INBOX, reply)
        return Delivered(mailbox, uid, reply)

    def reply(self, mailbox: str, original: Message, text: str, when: datetime,
              from_address: str | None = None, subject: str | None = None) -> Delivered:
        """The candidate answers `original` (in its thread), with "Re: …" or a subject of their own."""
        msg = EmailMessage()
        msg["From"] = from_address or str(original["To"])
        msg["To"] = mailbox
        msg["Subject"] = subject or _re(str(original["Subject"]))
        plain = original.get_body(("plain",)) or original  # a tracked email: its text/plain part
        quoted = "\n".join(f"> {line}" for line in plain.get_content().splitlines())
        msg.set_content(f"{text}\n\nOn {original['Date']}, {original['From']} wrote:\n{quoted}\n")
        return self._deliver(mailbox, original, msg, when)

    def auto_reply(self, mailbox: str, original: Message, text: str, when: datetime,
                   subject: str | None = None) -> Delivered:
        msg = EmailMessage()
        msg["From"] = str(original["To"])
        msg["To"] = mailbox
        msg["Subject"] = subject or f"Automatic reply: {original['Subject']}"
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Autoreply"] = "yes"
        msg.set_content(text)
        return self._deliver(mailbox, original, msg, when)

    def bounce(self, mailbox: str, original: Message, when: datetime, status: str = "5.1.1") -> Delivered:
        """A bounce shaped like a Postfix DSN: multipart/report with a delivery-status part."""
        recipient = recipient_of(original)
        report = MIMEMultipart("report", **{"report-type": "delivery-status"})
        report["From"] = formataddr(("Mail Delivery System", "MAILER-DAEMON@sandbox.invalid"))
        report["To"] = mailbox
        report["Subject"] = "Undelivered Mail Returned to Sender"
        report["Auto-Submitted"] = "auto-replied"
        report["X-Failed-Recipients"] = recipient
        report.attach(MIMEText(
            "I'm sorry to have to inform you that your message could not\n"
            f"be delivered to one or more recipients.\n\n<{recipient}>: host said: {status} user unknown\n"
        ))
        # message/delivery-status holds header blocks: one per message, then one per recipient.
        per_message, per_recipient = Message(), Message()
        per_message["Reporting-MTA"] = "dns; sandbox.invalid"
        per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
        per_recipient["Action"] = "failed"
        per_recipient["Status"] = status
        delivery_status = Message()
        delivery_status.set_type("message/delivery-status")
        delivery_status.set_payload([per_message, per_recipient])
        report.attach(delivery_status)
        headers = MIMEText("".join(f"{k}: {v}\n" for k, v in original.items()), "rfc822-headers")
        report.attach(headers)
        return self._deliver(mailbox, original, report, when)


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"
