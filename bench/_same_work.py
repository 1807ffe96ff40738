"""The per-message work of a send with none of the bot's code, for the dispatch benchmark's floor and
its peer queue: render the bench's step with a sandboxed Jinja template, build the MIME bytes the
bot's OutgoingEmail.to_bytes() builds for it, and write them into a sandbox mailbox's Sent folder the
way providers/sandbox.py does (the mailbox's lock file kept open, a thread lock and flock, the counter
read and rewritten at a fixed width, a .tmp file renamed to .eml, the two trace headers in front).

Standard library and jinja2 only: the peer imports this file from a virtual environment that has
neither the bot nor its other dependencies. tests/test_bench_same_work.py holds the bytes equal to the
bot's, so the floor and the peer cannot drift to cheaper work than the bot does.
"""
from __future__ import annotations

import fcntl
import os
import re
import threading
from datetime import datetime
from email import charset, policy
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

SUBJECT = "Hello {{ first_name }}"  # the bench's sequence step (bench/dispatch.py seed)
BODY = "Hi {{ first_name }},\nA role at {{ company }}?\n"
SENT = "Sent"
THREAD_HEADER = "X-Sandbox-Thread-Id"
ID_HEADER = "X-Sandbox-Id"

_UTF8_QP = charset.Charset("utf-8")
_UTF8_QP.body_encoding = charset.QP
_LINE = 76  # providers/base.py: the email package's compat32 policy at 76, names and subjects in a Header
_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=_LINE)
_TEXT_HEADERS = frozenset({"From", "To", "Subject"})
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words with single spaces: written as is
_MIME_HEAD = (b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
              b"Content-Transfer-Encoding: quoted-printable\r\n")


def _address(name: str | None, address: str) -> str | Address:
    if not name:
        return address
    username, _, domain = address.rpartition("@")
    return Address(name, username, domain)


def _policy_line(name: str, value: str | Address) -> str:
    if name not in _TEXT_HEADERS:
        return _WIRE.fold(name, str(value))
    if isinstance(value, Address) and not value.display_name.isascii():
        words = Header(value.display_name, "utf-8", header_name=name)
        words.append(f"<{value.addr_spec}>", "us-ascii")
    else:
        text = str(value)
        words = Header(text, "us-ascii" if text.isascii() else "utf-8", header_name=name)
    return _WIRE.fold(name, words)


class SameWork:
    """One instance per process (or per benchmark run): it keeps each mailbox's lock file open."""

    def __init__(self, root: Path, subject: str = SUBJECT, body: str = BODY) -> None:
        self.root = Path(root)
        env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self._subject = env.from_string(subject)  # compiled once
        self._body = env.from_string(body)
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, IO[str]]] = {}
        self._folders: set[Path] = set()

    # -- the three parts of a send, separately callable so the floor can time each ----------------
    def render(self, candidate_name: str, fields: dict[str, Any]) -> tuple[str, str]:
        first, _, last = candidate_name.strip().partition(" ")
        values = {"name": candidate_name, "first_name": first, "last_name": last.strip(), **fields}
        return self._subject.render(values), self._body.render(values)

    @staticmethod
    def mime(from_address: str, from_name: str | None, to_address: str, to_name: str | None, subject: str,
             body: str, message_id: str, now: datetime) -> bytes:
        """RFC 5322 text/plain, UTF-8, quoted-printable, CRLF; From and To with their display names.
        Headers that need neither encoding nor folding are written directly; any other by the email
        package's policies, as providers/base.py does."""
        headers = (("From", _address(from_name, from_address)), ("To", _address(to_name, to_address)),
                   ("Subject", subject), ("Message-ID", message_id), ("Date", format_datetime(now)))
        texts = [(name, str(value), value) for name, value in headers]
        head = "".join(f"{name}: {text}\r\n" if len(name) + 2 + len(text) <= _LINE and _PLAIN_VALUE.fullmatch(text)
                       else _policy_line(name, value) for name, text, value in texts)
        encoded = _UTF8_QP.body_encode(body).replace("\r\n", "\n").replace("\n", "\r\n")
        return _MIME_HEAD + head.encode("ascii") + b"\r\n" + encoded.encode("ascii")

    def write(self, address: str, data: bytes, thread_id: str) -> int:
        """Store `data` in the mailbox's Sent folder under the next number; returns the number."""
        address = address.lower()
        base = self.root / address
        with self._guard:
            if address not in self._locks:
                base.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o644)  # read-write, kept open
                self._locks[address] = (threading.Lock(), os.fdopen(descriptor, "r+"))
            thread_lock, handle = self._locks[address]
        with thread_lock:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                uid = int(handle.read() or 0) + 1
                handle.seek(0)
                handle.write(f"{uid:020d}")  # the number first, in place, at a fixed width
                handle.flush()
                target = os.path.join(self._folder(address), f"{uid:010d}")
                headers = {THREAD_HEADER: thread_id, ID_HEADER: f"sbx-{uid}"}
                data = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + data
                with open(target + ".tmp", "wb") as tmp:
                    tmp.write(data)
                os.replace(target + ".tmp", target + ".eml")
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return uid

    def _folder(self, address: str) -> Path:
        path = self.root / address / SENT
        if path not in self._folders:
            path.mkdir(parents=True, exist_ok=True)
            self._folders.add(path)
        return path

    # -- the whole send -----------------------------------------------------------------------------
    def send(self, from_address: str, from_name: str, to_address: str, candidate_name: str, fields: dict[str, Any],
             message_id: str, now: datetime) -> None:
        subject, body = self.render(candidate_name, fields)
        data = self.mime(from_address, from_name, to_address, candidate_name, subject, body, message_id, now)
        self.write(from_address, data, f"thread-{message_id.strip('<>')}")

    def close(self) -> None:
        with self._guard:
            for _, handle in self._locks.values():
                handle.close()
            self._locks.clear()
