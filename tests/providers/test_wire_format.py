"""The direct header writer must give exactly the bytes the email package's generator gives."""
import unicodedata
from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest
from hypothesis import given, settings, strategies as st

from providers.base import WIRE, OutgoingEmail, PermanentFailure, check_headers

words = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90),  # the fast path
                  st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=90))
bodies = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=400)


@settings(max_examples=300, deadline=None)
@given(subject=words, name=words, body=bodies, refs=st.lists(st.from_regex(r"<[a-z0-9]{1,30}@x\.example>",
                                                                             fullmatch=True), max_size=4))
def test_fast_wire_bytes_equal_the_generators(subject: str, name: str, body: str, refs: list[str]) -> None:
    email = OutgoingEmail(from_address="ann@agency.example", from_name=name, to_address="bob@work.example",
                          subject=subject, body=body, message_id="<m1@agency.example>",
                          in_reply_to=refs[-1] if refs else None, references=tuple(refs),
                          date=datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc))
    assert email.to_bytes() == email.to_mime().as_bytes(policy=WIRE)


def test_common_email_takes_the_direct_path_and_long_references_fold() -> None:
    refs = tuple(f"<{'r' * 30}{i}@agency.example>" for i in range(3))
    email = OutgoingEmail(from_address="ann@agency.example", to_address="bob@work.example", subject="Re: Hi",
                          body="Hi Bob,\n", message_id="<m@agency.example>", references=refs)
    wire = email.to_bytes()
    assert wire == email.to_mime().as_bytes(policy=WIRE)
    assert b"References: " + refs[0].encode() + b"\r\n " in wire  # folded by the generator


lines = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF).filter(lambda c: c != "\t") | st.sampled_from(
    ["\r", "\n", "\u2028", "\x00", "\x85"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(subject=lines, name=lines)
def test_an_email_that_passes_check_headers_is_written_with_exactly_its_own_headers(subject: str, name: str) -> None:
    """check_headers refuses what would break a header (a PermanentFailure), and what it lets through is
    written without error and reads back as the same headers: nothing injected, nothing lost."""
    email = OutgoingEmail(from_address="ann@agency.example", from_name=name, to_address="bob@work.example",
                          subject=subject, body="Hi", message_id="<m1@agency.example>")
    try:
        check_headers(email)
    except PermanentFailure as failure:
        assert "line break or control character" in str(failure)
        assert any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in subject + name)
        return
    parsed = message_from_bytes(email.to_bytes(), policy=policy.default)
    assert sorted(parsed.keys()) == ["Content-Transfer-Encoding", "Content-Type", "From", "MIME-Version",
                                     "Message-ID", "Subject", "To"]
    assert parsed["To"] == "bob@work.example"


def test_an_address_that_is_not_one_plain_address_is_refused_before_sending() -> None:
    for to in ("ana@x.example,boss@corp.example", "ana@x.example\r\nBcc: evil@x.example", "josé@x.example"):
        email = OutgoingEmail(from_address="ann@agency.example", to_address=to, subject="Hi", body="Hi",
                              message_id="<m1@agency.example>")
        with pytest.raises(PermanentFailure, match="To"):
            check_headers(email)
