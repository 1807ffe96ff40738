"""Thread-Index as [MS-OXOMSG] 2.2.1.3 describes it: a 22-byte header block (0x01, the start's FILETIME
bits 63..24, a GUID), then a 5-byte child block per reply, each reply's index its parent's plus one."""
import base64
from datetime import datetime, timedelta, timezone

from providers.thread_index import filetime, thread_index

START = datetime(2026, 12, 1, 9, 30, 15, tzinfo=timezone.utc)
ROOT = "<step1@acme.test>"


def _bytes(index: str) -> bytes:
    return base64.b64decode(index)


def _reply_time(index: bytes, block: int) -> datetime:
    """Read a child block's time back (for the test: the decoder Outlook has)."""
    header_ticks = int.from_bytes(index[1:6], "big") << 24
    bits = int.from_bytes(index[22 + 5 * block:26 + 5 * block], "big")
    delta = (bits & 0x7FFFFFFF) << (23 if bits >> 31 else 18)
    return datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=(header_ticks + delta) // 10)


def test_the_first_message_has_the_22_byte_header_block() -> None:
    index = _bytes(thread_index(START, ROOT, ()))
    assert len(index) == 22 and index[0] == 1
    assert int.from_bytes(index[1:6], "big") == filetime(START) >> 24
    assert filetime(datetime(1970, 1, 1, tzinfo=timezone.utc)) == 116444736000000000  # the Unix epoch as FILETIME


def test_each_reply_extends_its_parents_index_with_a_block_holding_its_time() -> None:
    two_at, three_at = START + timedelta(days=3, hours=2), START + timedelta(days=7, minutes=5)
    one = _bytes(thread_index(START, ROOT, ()))
    two = _bytes(thread_index(START, ROOT, [(two_at, "<step2@acme.test>")]))
    three = _bytes(thread_index(START, ROOT, [(two_at, "<step2@acme.test>"), (three_at, "<step3@acme.test>")]))
    assert (len(one), len(two), len(three)) == (22, 27, 32)
    assert two[:22] == one and three[:27] == two
    assert abs(_reply_time(three, 0) - two_at) < timedelta(seconds=2)  # the header keeps whole ~1.7 s steps
    assert abs(_reply_time(three, 1) - three_at) < timedelta(seconds=2)
    assert two[22] >> 7 == 0  # delta code 0: under 1.7 years


def test_a_reply_years_later_takes_the_long_delta_code() -> None:
    later = START + timedelta(days=800)
    index = _bytes(thread_index(START, ROOT, [(later, "<late@acme.test>")]))
    assert index[22] >> 7 == 1
    assert abs(_reply_time(index, 0) - later) < timedelta(seconds=2)


def test_the_same_stored_data_gives_the_same_index_and_another_thread_another_guid() -> None:
    replies = [(START + timedelta(days=3), "<step2@acme.test>")]
    assert thread_index(START, ROOT, replies) == thread_index(START, ROOT, list(replies))  # a retry: same bytes
    assert _bytes(thread_index(START, "<other@acme.test>", ()))[6:] != _bytes(thread_index(START, ROOT, ()))[6:]
    naive = START.replace(tzinfo=None)  # a time read back without its zone is UTC
    assert thread_index(naive, ROOT, replies) == thread_index(START, ROOT, replies)
