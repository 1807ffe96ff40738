"""The direct header writer must give exactly the bytes the email package's generator gives."""
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from providers.base import WIRE, OutgoingEmail

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
