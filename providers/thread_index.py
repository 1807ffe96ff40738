"""Outlook's conversation headers: Thread-Topic (the thread's subject, without "Re: ") and Thread-Index,
by which Outlook groups a thread whatever its clients did to In-Reply-To. Written from stored data only,
so a send and its retry after a crash carry the same bytes.

Thread-Index is the base64 of a conversation index ([MS-OXOMSG] 2.2.1.3, PidTagConversationIndex):
- a 22-byte header block: 0x01; the 40 high bits of the thread's start as a FILETIME (100-nanosecond
  ticks since 1601-01-01 UTC, bits 63..24), big-endian; a 16-byte GUID naming the conversation;
- one 5-byte child block per reply, appended to its parent's index: a delta code bit, a 31-bit time
  delta and 8 random bits. The delta is the reply's FILETIME minus the header's (as the header holds
  it): under about 1.7 years (none of bits 49..55 set) the code is 0 and the delta keeps bits 48..18,
  else the code is 1 and it keeps bits 53..23.

Here the GUID comes from the Message-ID of the thread's first message, and the "random" bits of a reply
from its own Message-ID: both fixed once the rows are planned.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_GUIDS = uuid.UUID("5d1f0a2e-6b0c-4f4e-9a57-2f1c3b8e7d10")  # our namespace for uuid5 of a Message-ID
_LONG_DELTA = 0x00FE0000 << 32  # "high order part of the delta AND 0x00FE0000": more than ~1.7 years


def filetime(when: datetime) -> int:
    """100-nanosecond ticks since 1601-01-01 UTC; a naive time is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - _FILETIME_EPOCH) // timedelta(microseconds=1) * 10


def header_block(started: datetime, root_message_id: str) -> bytes:
    """The 22 bytes every message of the thread starts with."""
    ticks = filetime(started) >> 24
    return b"\x01" + ticks.to_bytes(5, "big") + uuid.uuid5(_GUIDS, root_message_id).bytes


def child_block(header: bytes, when: datetime, message_id: str) -> bytes:
    """The 5 bytes a reply made at `when` appends to its parent's index."""
    delta = max(0, filetime(when) - (int.from_bytes(header[1:6], "big") << 24))
    if delta & _LONG_DELTA:
        bits = (1 << 31) | ((delta >> 23) & 0x7FFFFFFF)
    else:
        bits = (delta >> 18) & 0x7FFFFFFF
    return bits.to_bytes(4, "big") + hashlib.sha256(message_id.encode()).digest()[:1]


def thread_index(started: datetime, root_message_id: str, replies: Sequence[tuple[datetime, str]]) -> str:
    """The Thread-Index of the thread's latest message. `replies`: (time, Message-ID) of each reply
    after the first message, in order, this message last; none for the first message itself."""
    header = header_block(started, root_message_id)
    return base64.b64encode(header + b"".join(child_block(header, when, mid) for when, mid in replies)).decode()
