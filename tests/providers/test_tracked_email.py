"""OutgoingEmail with and without the tracking image: without it, the bytes are those the bot built
before open tracking existed (SHA-256 of main's output at 3ae572e, for a plain email, a threaded
follow-up, one with the opt-out link, and an SMTP one with Outlook's thread headers and non-ASCII
words); with it, multipart/alternative whose text part is those same body bytes, and whose HTML part
is the text escaped, its lines and links kept, ending with the invisible image."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest

from providers.base import OutgoingEmail, check_headers
from providers.html_part import html_part

AT = datetime(2026, 11, 23, 16, 5, tzinfo=timezone.utc)
IMAGE = "https://outreach.example.com/o/swK9F9p7sKtOCJdZJtRZ5Q.gif"
UNSUBSCRIBE = "https://outreach.example.com/unsubscribe/7.abcdefghijklmnopqrstuv"
EMAILS = {
    "plain": OutgoingEmail(from_address="rita@acme.example", from_name="Rita Recruiter", to_address="ana@work.example",
                           to_name="Ana Candidate", subject="Backend role at Acme", message_id="<a1@acme.example>",
                           body="Hi Ana,\n\nWould you be open to a chat about our backend team?\n\nRita\n", date=AT),
    "follow_up": OutgoingEmail(from_address="rita@acme.example", from_name="Rita Recruiter",
                               to_address="ana@work.example", to_name="Ana Candidate", subject="Re: Backend role at Acme",
                               message_id="<a2@acme.example>", in_reply_to="<a1@acme.example>",
                               references=("<a1@acme.example>",), thread_id="t1", date=AT,
                               body="Hi Ana, just bringing this up again. = signs and a long line " + "x" * 120 + "\n"),
    "opt_out": OutgoingEmail(from_address="rita@acme.example", to_address="bo@work.example", subject="Hello Bo",
                             message_id="<a3@acme.example>", date=AT,
                             body=("Hi Bo,\n\nA role for you.\n\nIf you'd rather not hear from me again, this link "
                                   f"stops my emails:\n{UNSUBSCRIBE}\n"), unsubscribe_url=UNSUBSCRIBE),
    "smtp_thread": OutgoingEmail(from_address="rita@acme.example", from_name="Rita Récruteuse",
                                 to_address="zoe@work.example", to_name="Zoë Ünlü", subject="Re: Poste à Zürich ¡hola!",
                                 message_id="<a4@acme.example>", in_reply_to="<a3@acme.example>",
                                 references=("<a1@acme.example>", "<a3@acme.example>"), date=AT,
                                 thread_topic="Poste à Zürich ¡hola!", thread_index="AdtaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456",
                                 body="Grüße,\r\nRita — 🙂\n"),
}
BEFORE = {  # (length, SHA-256) of each email's to_bytes() as built before open tracking
    "plain": (362, "03f2de32a80b3fd2c29bc429a30faf319750e7a39609b1227cf2f13022f6fbfc"),
    "follow_up": (548, "405f47fa11bb7e10f1e92ed63f8bd6911b14fe7023a96c3c163951ca39d81f0c"),
    "opt_out": (546, "ceb3bdc42074e60c1f6471843100e9fa7e58e38ab762c35f6ce2a2d8a5d0f046"),
    "smtp_thread": (595, "38483a2bcd02ccbd3eb6aa137c25e27e307e3cea1cda9863cc031f9f45bb992b"),
}


@pytest.mark.parametrize("name", EMAILS)
def test_without_the_image_the_bytes_are_those_built_before_open_tracking(name: str) -> None:
    data = EMAILS[name].to_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == BEFORE[name]


@pytest.mark.parametrize("name", EMAILS)
def test_with_the_image_the_text_part_is_unchanged_and_the_html_part_ends_with_it(name: str) -> None:
    email = replace(EMAILS[name], tracking_image_url=IMAGE)
    data = check_headers(email).to_bytes()
    assert data == replace(EMAILS[name], tracking_image_url=IMAGE).to_bytes()  # built again: the same bytes
    plain_head, _, plain_body = EMAILS[name].to_bytes().partition(b"\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[2:] == plain_head.split(b"\r\n")[3:]  # every header after the MIME ones
    assert head.startswith(b'Content-Type: multipart/alternative; boundary="=_outreach_alternative"\r\nMIME-Version')
    assert (b'--=_outreach_alternative\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: '
            b"quoted-printable\r\n\r\n" + plain_body + b"\r\n--=_outreach_alternative\r\n") in body
    assert body.endswith(b"\r\n--=_outreach_alternative--\r\n") and body.count(b"--=_outreach_alternative") == 3
    parsed = message_from_bytes(data, policy=policy.default)
    assert not parsed.defects and [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    original = message_from_bytes(EMAILS[name].to_bytes(), policy=policy.default)
    assert parsed.get_body(("plain",)).get_content() == original.get_content()
    assert [(k, str(v)) for k, v in parsed.items()][1:] == [(k, str(v)) for k, v in original.items()
                                                            if k != "Content-Transfer-Encoding"][1:]
    page = parsed.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert page.endswith(f'<img src="{IMAGE}" width="1" height="1" alt="">\n</body></html>\n')


def test_the_html_part_escapes_the_text_keeps_its_lines_and_makes_links_clickable() -> None:
    page = html_part("Hi <Ana> & co,\n  two spaces   three\nSee https://acme.example/jobs?a=1&b=2.\n\n"
                     f"Stop my emails:\n{UNSUBSCRIBE}\n", IMAGE)
    assert "Hi &lt;Ana&gt; &amp; co,<br>\n&nbsp; two spaces&nbsp;&nbsp; three<br>\n" in page
    assert 'See <a href="https://acme.example/jobs?a=1&amp;b=2">https://acme.example/jobs?a=1&amp;b=2</a>.<br>' in page
    assert f'Stop my emails:<br>\n<a href="{UNSUBSCRIBE}">{UNSUBSCRIBE}</a></div>' in page
    assert "<script" not in html_part("<script>alert(1)</script>", IMAGE)
    assert page.count("<img") == 1 and "style" not in page and "border" not in page
