"""The wire format: headers written by the email package's policies (RFC 2047 words of at most 75
characters, lines of at most 78), the direct writer equal to the policy where it takes over."""
import re
import unicodedata
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest
from hypothesis import given, settings, strategies as st

from providers.base import OutgoingEmail, PermanentFailure, check_headers, display_name, header_line, policy_line

words = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90),  # the fast path
                  st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=90))
bodies = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=400)
DATE = datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)


@settings(max_examples=300, deadline=None)
@given(subject=words, name=words, to_name=words, refs=st.lists(st.from_regex(r"<[a-z0-9]{1,30}@x\.example>",
                                                                             fullmatch=True), max_size=4))
def test_the_direct_writer_writes_what_the_policy_writes(subject: str, name: str, to_name: str,
                                                         refs: list[str]) -> None:
    email = OutgoingEmail(from_address="ann@agency.example", from_name=name, to_address="bob@work.example",
                          to_name=to_name, subject=subject, body="Hi", message_id="<m1@agency.example>",
                          in_reply_to=refs[-1] if refs else None, references=tuple(refs), date=DATE)
    for header, value in email.headers():
        assert header_line(header, value) == policy_line(header, value)


# Unicode from every plane the names and subjects of a recruiting campaign may use; no control characters
# (check_headers refuses them) and no surrogates (not text).
human = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=120)
ENCODED_WORD = re.compile(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=")


def _readable(text: str) -> str:
    """What a header can carry back: folding whitespace is one space, and leading or trailing spaces
    are not kept (RFC 5322 §3.2.2)."""
    return " ".join(text.split())


@settings(max_examples=400, deadline=None)
@given(subject=human, name=human, topic=human)
def test_encoded_words_and_lines_stay_within_the_rfc_limits_and_read_back(subject: str, name: str, topic: str) -> None:
    email = OutgoingEmail(from_address="ann@agency.example", from_name="Ann Øster", to_address="bob@work.example",
                          to_name=name, subject=subject, body="Hi", message_id="<m1@agency.example>", date=DATE,
                          thread_topic=topic, thread_index="AQHZ1234")
    wire = email.to_bytes()
    head = wire.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 78, line
        for word in ENCODED_WORD.findall(line):
            assert len(word) <= 75, word  # RFC 2047 §2
    parsed = message_from_bytes(wire, policy=policy.default)
    assert _readable(parsed["Subject"]) == _readable(subject)
    assert _readable(parsed["Thread-Topic"]) == _readable(topic)
    (to,) = parsed["To"].addresses
    assert to.addr_spec == "bob@work.example"
    # The display name decoded as RFC 2047 §6.2 says (the folding space between two adjacent encoded words
    # dropped): the package's address parser of 3.11 keeps that space, so it is read with decode_header.
    raw_name, address = parseaddr(message_from_bytes(wire, policy=policy.compat32)["To"])
    assert address == "bob@work.example"
    assert _readable(str(make_header(decode_header(raw_name)))) == _readable(name)
    assert parsed["From"].addresses[0].display_name == "Ann Øster"


def test_a_name_with_a_comma_and_apostrophe_is_quoted_and_a_foreign_one_encoded() -> None:
    email = OutgoingEmail(from_address="ann@agency.example", to_address="pat@work.example", to_name="Pat O'Brien, Jr.",
                          subject="Hi", body="Hi", message_id="<m1@agency.example>")
    assert b"\r\nTo: \"Pat O'Brien, Jr.\" <pat@work.example>\r\n" in email.to_bytes()
    parsed = message_from_bytes(email.to_bytes(), policy=policy.default)
    assert [a.display_name for a in parsed["To"].addresses] == ["Pat O'Brien, Jr."]  # one person, not two
    foreign = OutgoingEmail(from_address="ann@agency.example", to_address="l@work.example", to_name="Łukasz Żółć",
                            subject="Hi", body="Hi", message_id="<m1@agency.example>")
    assert b"\r\nTo: =?utf-8?b?" in foreign.to_bytes()


def test_long_subject_of_the_issue_folds_into_short_words_and_lines() -> None:
    subject = "Société Générale recherche un ingénieur — poste à Zürich, télétravail possible, équipe très sympa"
    email = OutgoingEmail(from_address="ann@agency.example", to_address="bob@work.example", subject=subject,
                          body="Hi", message_id="<m1@agency.example>")
    wire = email.to_bytes()
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert max(len(w) for w in ENCODED_WORD.findall(head)) <= 75
    assert message_from_bytes(wire, policy=policy.default)["Subject"] == subject


def test_common_email_takes_the_direct_path_and_long_references_fold_at_spaces_unencoded() -> None:
    refs = tuple(f"<{'r' * 30}{i}@agency.example>" for i in range(3)) + ("<" + "x" * 80 + "@prod.outlook.com>",)
    email = OutgoingEmail(from_address="ann@agency.example", to_address="bob@work.example", subject="Re: Hi",
                          body="Hi Bob,\n", message_id="<m@agency.example>", references=refs, in_reply_to=refs[-1])
    wire = email.to_bytes()
    assert b"References: " + refs[0].encode() + b"\r\n " in wire  # folded by the policy, at a space
    assert b"=?" not in wire  # a Message-ID is never an encoded word (RFC 5322 §3.6.4)
    parsed = message_from_bytes(wire, policy=policy.default)
    assert str(parsed["References"]).split() == list(refs)


lines = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF).filter(lambda c: c != "\t") | st.sampled_from(
    ["\r", "\n", "\u2028", "\x00", "\x85"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(subject=lines, name=lines)
def test_an_email_that_passes_check_headers_is_written_with_exactly_its_own_headers(subject: str, name: str) -> None:
    """check_headers refuses what would break a header (a PermanentFailure), and what it lets through is
    written without error and reads back as the same headers: nothing injected, nothing lost."""
    email = OutgoingEmail(from_address="ann@agency.example", from_name=name, to_address="bob@work.example",
                          to_name=name, subject=subject, body="Hi", message_id="<m1@agency.example>")
    try:
        check_headers(email)
    except PermanentFailure as failure:
        assert "line break or control character" in str(failure)
        assert any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in subject + name)
        return
    parsed = message_from_bytes(email.to_bytes(), policy=policy.default)
    assert sorted(parsed.keys()) == ["Content-Transfer-Encoding", "Content-Type", "From", "MIME-Version",
                                     "Message-ID", "Subject", "To"]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["bob@work.example"]


def test_an_address_that_is_not_one_plain_address_is_refused_before_sending() -> None:
    for to in ("ana@x.example,boss@corp.example", "ana@x.example\r\nBcc: evil@x.example", "josé@x.example"):
        email = OutgoingEmail(from_address="ann@agency.example", to_address=to, subject="Hi", body="Hi",
                              message_id="<m1@agency.example>")
        with pytest.raises(PermanentFailure, match="To"):
            check_headers(email)


def test_a_name_no_header_can_carry_is_left_out_rather_than_failing_the_send() -> None:
    assert display_name("  Ana Lopez ") == "Ana Lopez"
    assert display_name("Ana\nBcc: evil@x.example") is None and display_name("  ") is None and display_name(None) is None
