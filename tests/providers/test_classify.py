from __future__ import annotations

import json
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import Message
from email.policy import Policy
from pathlib import Path

import flufl.bounce
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from providers.base import InboundKind
from providers.classify import Verdict, classify

FIXTURES = Path(__file__).parent / "fixtures" / "inbound"
OWN = ("rita@recruit.example", "rita.recruiter@gmail.example")  # the mailbox the fixtures were sent to
POLICIES = {"default": policy.default, "compat32": policy.compat32}

BOUNCE, AUTO, REPLY, OTHER = InboundKind.BOUNCE, InboundKind.AUTO_REPLY, InboundKind.REPLY, InboundKind.OTHER
COMPLAINT = InboundKind.COMPLAINT

# file → (headers-only verdict, full verdict), each as (kind, failing recipients, permanent)
EXPECTED: dict[str, tuple[tuple[InboundKind, tuple[str, ...], bool | None], ...]] = {
    # Bounces: headers give the kind, X-Failed-Recipients and what a Gmail subject says; the body's
    # delivery-status part (or flufl.bounce, or the notice's wording) gives the rest.
    "bounce-postfix-dsn.eml": ((BOUNCE, (), None), (BOUNCE, ("ana.lima@initech.example",), True)),
    "bounce-postfix-delay.eml": ((BOUNCE, (), False), (BOUNCE, ("bo.chen@globex.example",), False)),
    "bounce-exim-dsn.eml": ((BOUNCE, ("carla.diaz@umbrella.example",), None),
                            (BOUNCE, ("carla.diaz@umbrella.example",), True)),
    "bounce-exim-text.eml": ((BOUNCE, ("dmitri@oldhost.example",), None), (BOUNCE, ("dmitri@oldhost.example",), True)),
    "bounce-office365-ndr.eml": ((BOUNCE, (), None), (BOUNCE, ("dana@contoso.example",), True)),
    "bounce-exchange-legacy-ndr.eml": ((BOUNCE, (), None), (BOUNCE, ("erik.svensson@corp.example",), True)),
    "bounce-gmail-dsn.eml": ((BOUNCE, ("fatima.khan@hooli.example",), True),
                             (BOUNCE, ("fatima.khan@hooli.example",), True)),
    "bounce-gmail-delay.eml": ((BOUNCE, (), False), (BOUNCE, ("gus@vandelay.example",), False)),
    # Auto-replies: headers or subject in both modes; a body's wording only in full mode.
    "autoreply-gmail-vacation.eml": ((AUTO, (), None), (AUTO, (), None)),
    "autoreply-exchange-oof.eml": ((AUTO, (), None), (AUTO, (), None)),
    "autoreply-german-abwesenheitsnotiz.eml": ((AUTO, (), None), (AUTO, (), None)),
    "autoreply-body-only.eml": ((REPLY, (), None), (AUTO, (), None)),
    # People: quoted text (one quoting "out of the office until …"), another address, a new subject.
    "reply-plain-quoted.eml": ((REPLY, (), None), (REPLY, (), None)),
    "reply-html-quoted.eml": ((REPLY, (), None), (REPLY, (), None)),
    "reply-from-other-address.eml": ((REPLY, (), None), (REPLY, (), None)),
    "reply-changed-subject.eml": ((REPLY, (), None), (REPLY, (), None)),
    # Not replies, though some come From a candidate's address.
    "own-followup-other-client.eml": ((OTHER, (), None), (OTHER, (), None)),
    "list-mailman.eml": ((OTHER, (), None), (OTHER, (), None)),
    "bulk-newsletter.eml": ((OTHER, (), None), (OTHER, (), None)),
    "receipt-read-outlook.eml": ((OTHER, (), None), (OTHER, (), None)),
    # Complaints (issue 18 §3): ARF from its Content-Type alone; the recipient and the reported message
    # from the body. A relay's JSON complaint needs the body (its sender is a no-reply address).
    "complaint-arf-feedback-loop.eml": ((COMPLAINT, (), None), (COMPLAINT, ("ana.lima@mailhost.example",), None)),
    "complaint-arf-headers-only-copy.eml": ((COMPLAINT, (), None), (COMPLAINT, ("bo.chen@webmail.example",), None)),
    "complaint-jmrp-legacy.eml": ((COMPLAINT, (), None), (COMPLAINT, ("carla.diaz@hotmail.example",), None)),
    "complaint-ses-json.eml": ((OTHER, (), None), (COMPLAINT, ("dana@contoso.example",), None)),
    # Bounces without a delivery-status part (issue 18 §4): relays' JSON events, ...
    "bounce-ses-json.eml": ((OTHER, (), None), (BOUNCE, ("erik.svensson@corp.example",), True)),
    "bounce-sendgrid-json-attachment.eml": ((REPLY, (), None), (BOUNCE, ("fatima.khan@hooli.example",), True)),
    "bounce-mailgun-json-temporary.eml": ((REPLY, (), None), (BOUNCE, ("gus@vandelay.example",), False)),
    # ... carriers and Japanese mobile operators (ISO-2022-JP, Shift_JIS, UTF-8; a full mailbox is temporary), ...
    "bounce-docomo-iso2022jp.eml": ((BOUNCE, (), None), (BOUNCE, ("taro.yamada@docomo.example",), True)),
    "bounce-au-shiftjis.eml": ((REPLY, (), None), (BOUNCE, ("hanako.sato@ezweb.example",), False)),
    "bounce-softbank-utf8.eml": ((REPLY, (), None), (BOUNCE, ("ichiro.suzuki@softbank.example",), True)),
    "bounce-carrier-gateway.eml": ((REPLY, (), None), (BOUNCE, ("4155550123@mms.carrier.example",), False)),
    # ... and older servers' and list managers' plain text.
    "bounce-qmail.eml": ((BOUNCE, (), None), (BOUNCE, ("bo.chen@globex.example",), True)),
    "bounce-postfix-text.eml": ((BOUNCE, (), None), (BOUNCE, ("lena.voss@vandelay.example",), False)),
    "bounce-domino.eml": ((BOUNCE, (), None), (BOUNCE, ("ines.moreau@initech.example",), True)),
    "bounce-groupwise.eml": ((REPLY, (), None), (BOUNCE, ("jon.park@umbrella.example",), True)),
    "bounce-list-manager.eml": ((OTHER, (), None), (BOUNCE, ("kim.lee@members.example",), True)),
    # Never a bounce: a reply quoting a notice, a reply saying "undeliverable", a newsletter opening
    # like a notice, an out-of-office about an old address, Postfix's success report.
    "negative-reply-quoting-notice.eml": ((REPLY, (), None), (REPLY, (), None)),
    "negative-reply-mentions-undeliverable.eml": ((REPLY, (), None), (REPLY, (), None)),
    "negative-newsletter-deliverability.eml": ((OTHER, (), None), (OTHER, (), None)),
    "negative-out-of-office-undeliverable.eml": ((AUTO, (), None), (AUTO, (), None)),
    "negative-postfix-success-notice.eml": ((OTHER, (), None), (OTHER, (), None)),
}


def header_block(data: bytes) -> bytes:
    """The message as basic permissions fetch it: the header lines up to the first empty line."""
    kept = []
    for line in data.splitlines(keepends=True):
        if not line.strip(b"\r\n"):
            break
        kept.append(line)
    return b"".join(kept) + b"\n"


def load(name: str, *, headers_only: bool = False, using: Policy = policy.default) -> Message:
    data = (FIXTURES / name).read_bytes()
    return message_from_bytes(header_block(data) if headers_only else data, policy=using)


def shape(verdict: Verdict) -> tuple[InboundKind, tuple[str, ...], bool | None]:
    return verdict.kind, verdict.recipients, verdict.permanent


def from_headers(*lines: str, body: str = "") -> Message:
    return message_from_bytes(("\n".join(lines) + "\n\n" + body).encode("utf-8"), policy=policy.default)


# -- the fixtures, in both modes --------------------------------------------------------------------


def test_every_fixture_has_its_expected_verdicts_in_the_table() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("using", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("name", EXPECTED)
def test_a_fixture_with_only_its_headers_gets_the_header_verdict(name: str, using: Policy) -> None:
    verdict = classify(load(name, headers_only=True, using=using), own_addresses=OWN, headers_only=True)
    assert shape(verdict) == EXPECTED[name][0], verdict.reason


@pytest.mark.parametrize("using", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("name", EXPECTED)
def test_a_whole_fixture_gets_the_full_verdict(name: str, using: Policy) -> None:
    verdict = classify(load(name, using=using), own_addresses=OWN)
    assert shape(verdict) == EXPECTED[name][1], verdict.reason


@pytest.mark.parametrize("name", EXPECTED)
def test_headers_only_mode_ignores_a_body_that_is_there(name: str) -> None:
    assert shape(classify(load(name), own_addresses=OWN, headers_only=True)) == EXPECTED[name][0]


@pytest.mark.parametrize("name", EXPECTED)
def test_full_mode_without_a_body_falls_back_to_the_headers(name: str) -> None:
    assert shape(classify(load(name, headers_only=True), own_addresses=OWN)) == EXPECTED[name][0]


# -- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("own", [("rita@recruit.example",), ("Rita Recruiter <RITA@recruit.EXAMPLE>",),
                                 [" rita@recruit.example ", "other@recruit.example"]])
def test_the_recruiters_own_follow_up_from_another_client_is_never_a_reply(own: object) -> None:
    message = load("own-followup-other-client.eml")
    assert message["From"] == "Rita Recruiter <Rita@Recruit.Example>"
    verdict = classify(message, own_addresses=own)  # type: ignore[arg-type]
    assert (verdict.kind, verdict.reason) == (OTHER, "from the mailbox itself")
    assert classify(message).kind is REPLY  # the same message, not known as our own: a person wrote it


def test_a_bounce_that_also_says_auto_submitted_is_a_bounce() -> None:
    postfix = load("bounce-postfix-dsn.eml")
    assert postfix["Auto-Submitted"] == "auto-replied"
    assert classify(postfix, headers_only=True).kind is BOUNCE
    both = from_headers("From: Ana <ana@acme.example>", "Subject: Undeliverable: Automatic reply: Backend role",
                        "Auto-Submitted: auto-replied", "X-Autoreply: yes",
                        "X-MS-Exchange-Inbox-Rules-Loop: ana@acme.example")
    assert classify(both, headers_only=True).kind is BOUNCE


@pytest.mark.parametrize(("headers", "kind", "reason"), [
    (["Auto-Submitted: auto-generated"], AUTO, "Auto-Submitted: auto-generated"),
    (["Auto-Submitted: no"], REPLY, "plausible human message"),
    (["X-Autoreply: yes"], AUTO, "X-Autoreply"),
    (["X-Autorespond: Ana Lima"], AUTO, "X-Autorespond"),
    (["X-Autoresponder: on"], AUTO, "X-Autoresponder"),
    (["Precedence: auto_reply"], AUTO, "Precedence: auto_reply"),
    (["Precedence: bulk"], AUTO, "Precedence: bulk"),  # vacation(1) sends this and nothing else
    (["Precedence: junk", "List-Unsubscribe: <mailto:leave@acme.example>"], OTHER, "bulk mail"),
    (["List-Id: <jobs.lists.example>"], OTHER, "mailing list"),
    (["X-MS-Exchange-Inbox-Rules-Loop: ana@acme.example"], AUTO, "X-MS-Exchange-Inbox-Rules-Loop"),
    (["X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"], AUTO, "Mailbox Rules Agent"),
    (["X-Auto-Response-Suppress: All"], REPLY, "plausible human message"),  # Exchange stamps it on ordinary mail
    (["Subject: Out of Office: Backend role"], AUTO, "auto-reply subject"),
    (["Subject: OOF: Backend role"], AUTO, "auto-reply subject"),
    (["Subject: Auto: Backend role"], AUTO, "auto-reply subject"),
    (["Subject: AutoReply: Backend role"], AUTO, "auto-reply subject"),
    (["Subject: Automatische Antwort: Backend role"], AUTO, "auto-reply subject"),
    (["Subject: Re: Automatic reply: Backend role"], REPLY, "plausible human message"),  # a person answering one
    (["Subject: Fwd: Undeliverable: Backend role"], REPLY, "plausible human message"),  # a person forwarding one
    (["Subject: Delivered: Backend role", "Content-Type: multipart/report; report-type=delivery-status; boundary=x"],
     OTHER, "receipt"),
    (["Subject: Read: Backend role"], OTHER, "receipt"),
    (["X-MS-Exchange-Message-Is-Ndr:"], BOUNCE, "X-MS-Exchange-Message-Is-Ndr"),
    (["Return-Path: <>", "Subject: Message could not be delivered"], BOUNCE, "empty Return-Path"),
    (["Return-Path: <>", "Subject: Automatic reply: delivery of the laptop"], AUTO, "auto-reply subject"),
    (["Return-Path: <>", "Subject: Re: your delivery question"], REPLY, "plausible human message"),
    (["Subject: Returned mail: see transcript for details"], BOUNCE, "bounce subject"),
    (["Subject: failure notice"], BOUNCE, "bounce subject"),
])
def test_header_signals_decide_the_kind(headers: list[str], kind: InboundKind, reason: str) -> None:
    message = from_headers("From: Ana Lima <ana@acme.example>", *headers)
    verdict = classify(message, headers_only=True)
    assert verdict.kind is kind and reason in verdict.reason, verdict


@pytest.mark.parametrize(("sender", "reason"), [
    ("MAILER-DAEMON", "from mailer-daemon"), ("Mail Delivery System <MAILER-DAEMON@mx.example>", "from mailer-daemon"),
    ("postmaster@acme.example", "from postmaster"), ("Mailer-Daemon@host.example (Mail Delivery System)",
                                                     "from mailer-daemon"),
])
def test_mail_from_a_mail_system_is_a_bounce(sender: str, reason: str) -> None:
    verdict = classify(from_headers(f"From: {sender}", "Subject: Notice"), headers_only=True)
    assert (verdict.kind, verdict.reason) == (BOUNCE, reason)


@pytest.mark.parametrize(("subject", "permanent"), [
    ("Delivery Status Notification (Failure)", True), ("Delivery Status Notification (Delay)", False),
    ("Delayed Mail (still being retried)", False), ("Warning: message 1vLk7c-00042A-1X delayed 24 hours", False),
    ("Undeliverable: Backend role", None), ("Mail delivery failed: returning message to sender", None),
    ("Undeliverable: Delayed start (failure) of the project", None),  # the original subject says nothing
])
def test_a_bounce_subject_tells_permanence_only_when_it_says_so(subject: str, permanent: bool | None) -> None:
    verdict = classify(from_headers("From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
                                    f"Subject: {subject}"), headers_only=True)
    assert (verdict.kind, verdict.permanent) == (BOUNCE, permanent)


def test_x_failed_recipients_lists_every_failing_address_lower_case() -> None:
    message = from_headers("From: Mail Delivery System <Mailer-Daemon@mx.example>",
                           "X-Failed-Recipients: Ana@Acme.example, bo@globex.example",
                           "X-Failed-Recipients: carla@umbrella.example")
    verdict = classify(message, headers_only=True)
    assert verdict.recipients == ("ana@acme.example", "bo@globex.example", "carla@umbrella.example")


@pytest.mark.parametrize(("subject", "kind"), [
    ("=?utf-8?B?QXV0b21hdGljIHJlcGx5OiBCYWNrZW5kIHJvbGU=?=", AUTO),  # "Automatic reply: Backend role"
    ("=?iso-8859-1?q?R=E9ponse_automatique_:_Poste_backend?=", AUTO),
    ("=?UTF-8?Q?Respuesta_autom=C3=A1tica:_Puesto?=", AUTO),
    ("=?utf-8?q?Abwesenheitsnotiz=3A?= =?utf-8?q?_Stelle_f=C3=BCr_Backend?=", AUTO),  # split over two words
    ("=?UTF-8?Q?Unzustellbar:_Backend?=", BOUNCE),
    ("=?utf-8?B?UmU6IEJhY2tlbmQgcm9sZQ==?=", REPLY),  # "Re: Backend role"
    ("Re\u0301ponse automatique : decomposed accent", AUTO),  # é as e + combining accent
])
def test_encoded_subjects_are_decoded_before_they_are_read(subject: str, kind: InboundKind) -> None:
    assert classify(from_headers("From: Ana <ana@acme.example>", f"Subject: {subject}"), headers_only=True).kind is kind


def test_raw_8bit_subjects_are_read_as_utf8() -> None:
    message = message_from_bytes("From: ana@acme.example\nSubject: Réponse automatique : Poste\n\nx".encode(),
                                 policy=policy.compat32)
    assert classify(message).kind is AUTO


@pytest.mark.parametrize(("sender", "reason"), [
    ("no-reply@accounts.example", "no-reply sender"), ("Notifications <noreply+abc@jobs.example>", "no-reply sender"),
    ("DoNotReply@hr.example", "no-reply sender"), ("undisclosed-recipients:;", "no sender address"),
])
def test_mail_without_a_person_to_answer_is_other(sender: str, reason: str) -> None:
    verdict = classify(from_headers(f"From: {sender}", "Subject: Your application"), headers_only=True)
    assert (verdict.kind, verdict.reason) == (OTHER, reason)


# -- full mode --------------------------------------------------------------------------------------

DSN_BODY = """--b
Content-Type: text/plain

Delivery report.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {address}
Action: {action}
Status: {status}

--b--
"""


def test_a_delivery_status_part_makes_a_bounce_even_without_bounce_headers() -> None:
    message = from_headers("From: Gateway <gw@corp.example>", "Subject: Notice",
                           "Content-Type: multipart/mixed; boundary=b",
                           body=DSN_BODY.format(address="Eve@Corp.example", action="failed", status="5.2.2"))
    assert classify(message, headers_only=True).kind is REPLY
    assert shape(classify(message)) == (BOUNCE, ("eve@corp.example",), True)


def test_a_delivery_report_with_only_successes_is_not_a_bounce() -> None:
    message = from_headers("From: postmaster@corp.example", "Subject: Relayed report",
                           "Content-Type: multipart/report; report-type=delivery-status; boundary=b",
                           body=DSN_BODY.format(address="eve@corp.example", action="relayed", status="2.0.0"))
    assert classify(message, headers_only=True).kind is BOUNCE  # headers cannot tell
    assert classify(message).kind is OTHER


def test_a_status_code_decides_permanence_over_the_action() -> None:
    message = from_headers("From: MAILER-DAEMON@mx.example",
                           "Content-Type: multipart/report; report-type=delivery-status; boundary=b",
                           body=DSN_BODY.format(address="eve@corp.example", action="failed", status="4.4.7"))
    assert shape(classify(message)) == (BOUNCE, ("eve@corp.example",), False)


def test_a_text_bounce_from_a_null_sender_is_found_by_flufl_bounce_in_full_mode() -> None:
    body = ("Your message\n\n  To: Erik\n  Subject: Backend role\n\ndid not reach the following recipient(s):\n\n"
            "Erik@Corp.example on 20/11/2026 14:05\n    The recipient name is not recognized\n"
            "    MSEXCH:IMS:CORP:MAIL:EX01 3550 (000B09AA)\n")
    message = from_headers("Return-Path: <>", "From: Gateway <gw@corp.example>", "Subject: Notice", body=body)
    assert classify(message, headers_only=True).kind is REPLY
    assert shape(classify(message)) == (BOUNCE, ("erik@corp.example",), True)
    person = from_headers("Return-Path: <eve@corp.example>", "From: Eve <eve@corp.example>", "Subject: Notice",
                          body=body)  # a person pasting that text: flufl.bounce is not asked
    assert classify(person).kind is REPLY


def test_a_crash_inside_flufl_bounce_does_not_stop_classification(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(message: Message) -> None:
        raise RuntimeError("a detector tripped")

    monkeypatch.setattr(flufl.bounce, "all_failures", broken)
    verdict = classify(load("bounce-exchange-legacy-ndr.eml"))
    assert shape(verdict) == (BOUNCE, (), True)  # the kind from headers, permanence from the notice's "#5.1.1"


@pytest.mark.parametrize(("text", "kind"), [
    ("I'm currently out of office until 4 December, with no access to email.", AUTO),
    ("Vom 1. bis 14. Dezember bin ich nicht im Büro.", AUTO),
    ("Bonjour, je suis absente jusqu'au 3 décembre.", AUTO),
    ("Gracias. Estoy fuera de la oficina hasta el lunes.", AUTO),
    ("Yes! I'm out of the office next week, but let's talk after.", REPLY),  # nothing about coming back
    ("Thanks Rita. " + "I have a few questions about the team and the stack. " * 40
     + "I'm out of the office until Monday.", REPLY),  # the phrase is not at the top of the text
])
def test_out_of_office_wording_counts_only_at_the_top_with_a_return(text: str, kind: InboundKind) -> None:
    message = from_headers("From: Ana <ana@acme.example>", "Subject: Re: Backend role",
                           "Content-Type: text/plain; charset=utf-8", body=text)
    assert classify(message).kind is kind
    assert classify(message, headers_only=True).kind is REPLY


# -- bad mail -------------------------------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "binary": bytes(range(256)) * 4,
    "no header block": b"just some text\nwithout headers\n",
    "unknown charset in an encoded word": b"From: a@b.example\nSubject: =?x-unknown?q?Automatic_reply?=\n\nx",
    "broken base64 word": b"From: a@b.example\nSubject: =?utf-8?B?!!!!?=\n\nx",
    "report without a boundary": b"From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; "
                                 b"report-type=delivery-status\n\nbody",
    "garbage delivery status": b"From: x@y.example\nContent-Type: multipart/report; report-type=delivery-status; "
                               b"boundary=q\n\n--q\nContent-Type: message/delivery-status\n\n\x00\xff::\n;;;\n--q--\n",
    "undecodable body charset": b"From: x@y.example\nContent-Type: text/plain; charset=base64\n\nI am out of office",
    "bad transfer encoding": b"From: x@y.example\nContent-Transfer-Encoding: base64\n\n%%%%not base64",
    "headers without values": b"From:\nSubject:\nAuto-Submitted:\nContent-Type:\n\n",
    "folded garbage": b"From: \xff\xfe <@>\n\t\x00\nSubject: \xc3\x28\n\n\xc3\x28",
    "nested parts": b"From: x@y.example\nContent-Type: multipart/mixed; boundary=a\n\n"
                    + b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 300,
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("headers_only", [False, True])
def test_malformed_mail_gets_a_verdict_never_an_exception(data: bytes, headers_only: bool) -> None:
    for using in POLICIES.values():
        verdict = classify(message_from_bytes(data, policy=using), own_addresses=["a@b.example"],
                           headers_only=headers_only)
        assert isinstance(verdict.kind, InboundKind)


def test_a_bounce_whose_body_no_codec_can_read_keeps_what_its_headers_say() -> None:
    data = (b"From: Mail Delivery System <Mailer-Daemon@mx.example>\nX-Failed-Recipients: ana@acme.example\n"
            b"Content-Type: text/plain; charset=\"utf\x00-8\"\nContent-Transfer-Encoding: 8bit\n\n"
            b"This is a permanent error. \xff\xfe\n")
    for using in POLICIES.values():
        verdict = classify(message_from_bytes(data, policy=using))
        assert (verdict.kind, verdict.recipients) == (BOUNCE, ("ana@acme.example",)), verdict


def test_a_header_the_email_package_cannot_even_turn_into_text_makes_the_message_other() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("not text")

    message = Message()  # compat32 stores whatever it is given
    message["From"] = "ana@acme.example"
    message["Subject"] = Unprintable()  # type: ignore[assignment]
    for headers_only in (False, True):
        verdict = classify(message, headers_only=headers_only)
        assert (verdict.kind, verdict.reason) == (OTHER, "unreadable message (ValueError)")


def test_mail_with_no_sender_at_all_is_other() -> None:
    assert classify(message_from_bytes(b"", policy=policy.default)) == Verdict(OTHER, reason="no sender address")


_HEADER_NAMES = st.sampled_from(["From", "Subject", "Content-Type", "Auto-Submitted", "X-Failed-Recipients",
                                 "Return-Path", "Precedence", "List-Id", "Content-Transfer-Encoding"])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=st.lists(st.tuples(_HEADER_NAMES, _TEXT), max_size=8), body=st.binary(max_size=300),
       headers_only=st.booleans())
def test_any_header_and_body_mix_gets_a_verdict(headers: list[tuple[str, str]], body: bytes,
                                                 headers_only: bool) -> None:
    lines = "".join(f"{name}: {value.replace(chr(10), ' ').replace(chr(13), ' ')}\n" for name, value in headers)
    message = message_from_bytes(lines.encode("utf-8") + b"\n" + body, policy=policy.default)
    assert isinstance(classify(message, headers_only=headers_only).kind, InboundKind)


# -- outreach classify ------------------------------------------------------------------------------


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_the_command_prints_one_json_object_per_file_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(FIXTURES / n) for n in ("bounce-gmail-dsn.eml", "reply-plain-quoted.eml", "bounce-gmail-delay.eml")]
    assert main(["classify", *files]) == 0
    captured = capsys.readouterr()
    assert _lines(captured.out) == [
        {"file": files[0], "kind": "bounce", "recipients": ["fatima.khan@hooli.example"], "permanent": True,
         "message_id": None},
        {"file": files[1], "kind": "reply", "recipients": [], "permanent": None, "message_id": None},
        {"file": files[2], "kind": "bounce", "recipients": ["gus@vandelay.example"], "permanent": False,
         "message_id": None},
    ]
    assert captured.err == ""


def test_the_command_reads_only_headers_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(FIXTURES / n) for n in ("autoreply-body-only.eml", "bounce-postfix-dsn.eml")]
    assert main(["classify", "--headers-only", *files]) == 0
    assert [(o["kind"], o["recipients"], o["permanent"]) for o in _lines(capsys.readouterr().out)] == [
        ("reply", [], None), ("bounce", [], None)]


def test_the_command_treats_mail_from_own_addresses_as_other(capsys: pytest.CaptureFixture[str]) -> None:
    file = str(FIXTURES / "own-followup-other-client.eml")
    assert main(["classify", file, "--own", "someone@else.example", "--own", "rita@recruit.example"]) == 0
    assert main(["classify", file]) == 0
    assert [o["kind"] for o in _lines(capsys.readouterr().out)] == ["other", "reply"]


def test_unreadable_files_are_named_on_stderr_and_the_others_still_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(FIXTURES / "autoreply-exchange-oof.eml")
    missing, folder = str(tmp_path / "missing.eml"), str(tmp_path)
    assert main(["classify", missing, good, folder, good]) == 2
    captured = capsys.readouterr()
    assert [o["file"] for o in _lines(captured.out)] == [good, good]
    errors = captured.err.splitlines()
    assert errors == [f"outreach classify: {missing}: cannot read it: No such file or directory",
                      f"outreach classify: {folder}: cannot read it: Is a directory"]


def test_the_command_runs_without_any_settings(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "classify", str(FIXTURES / "bounce-office365-ndr.eml")],
                          env={"PATH": "/usr/bin:/bin"}, cwd=Path(__file__).parents[2], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"file": str(FIXTURES / "bounce-office365-ndr.eml"), "kind": "bounce",
                                       "recipients": ["dana@contoso.example"], "permanent": True, "message_id": None}
    assert done.stderr == ""


def test_the_command_needs_at_least_one_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["classify"])
    assert stopped.value.code == 2
    assert "FILE.eml" in capsys.readouterr().err


def test_the_command_reports_a_complaint_with_its_recipient_and_the_reported_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    file = str(FIXTURES / "complaint-arf-feedback-loop.eml")
    assert main(["classify", file, "--own", "rita@recruit.example"]) == 0
    assert main(["classify", "--headers-only", file]) == 0
    assert _lines(capsys.readouterr().out) == [
        {"file": file, "kind": "complaint", "recipients": ["ana.lima@mailhost.example"], "permanent": None,
         "message_id": "<5f1c0a77e2b94c6d8e0f1a2b3c4d5e6f@recruit.example>"},
        {"file": file, "kind": "complaint", "recipients": [], "permanent": None, "message_id": None}]


# -- complaints (issue 18 §3) -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "message_id"), [
    ("complaint-arf-feedback-loop.eml", "<5f1c0a77e2b94c6d8e0f1a2b3c4d5e6f@recruit.example>"),
    ("complaint-arf-headers-only-copy.eml", "<9a8b7c6d5e4f40312a1b2c3d4e5f6071@recruit.example>"),
    ("complaint-jmrp-legacy.eml", "<0e1d2c3b4a5948576d6c5b4a39281706@recruit.example>"),
    ("complaint-ses-json.eml", "<c4ca4238a0b923820dcc509a6f75849b@recruit.example>"),
])
def test_a_complaint_names_the_message_it_reports_so_our_send_can_be_found(name: str, message_id: str) -> None:
    assert classify(load(name), own_addresses=OWN).message_id == message_id
    assert classify(load(name, headers_only=True), own_addresses=OWN, headers_only=True).message_id is None


ARF = """--r
Content-Type: text/plain

A report.
--r
Content-Type: message/feedback-report

Feedback-Type: {kind}
Version: 1
Original-Rcpt-To: ana@acme.example

--r
Content-Type: text/rfc822-headers

From: rita@recruit.example
To: ana@acme.example
Message-ID: <ours-1@recruit.example>

--r--
"""


def test_a_feedback_report_was_read_as_the_candidates_reply_and_no_longer_is() -> None:
    # What a candidate's provider sends when they press "Spam": it may even come From their address.
    for sender in ("Ana Lima <ana@acme.example>", "Feedback Loop <fbl@acme.example>"):
        message = from_headers(f"From: {sender}", "Subject: Backend role at Acme",
                               "Content-Type: multipart/report; report-type=feedback-report; boundary=r",
                               body=ARF.format(kind="abuse"))
        for headers_only in (True, False):
            verdict = classify(message, own_addresses=OWN, headers_only=headers_only)
            assert verdict.kind is COMPLAINT, verdict
        assert shape(classify(message, own_addresses=OWN)) == (COMPLAINT, ("ana@acme.example",), None)


@pytest.mark.parametrize("kind", ["abuse", "fraud", "virus", "other", "Abuse"])
def test_every_rfc_5965_complaint_type_is_a_complaint(kind: str) -> None:
    message = from_headers("From: fbl@isp.example", "Content-Type: multipart/mixed; boundary=r",
                           body=ARF.format(kind=kind))  # wrapped in another multipart: the part still counts
    assert classify(message, own_addresses=OWN).kind is COMPLAINT


def test_an_authentication_failure_report_is_not_a_complaint() -> None:
    message = from_headers("From: dmarc@isp.example", "Subject: Report",
                           "Content-Type: multipart/report; report-type=feedback-report; boundary=r",
                           body=ARF.format(kind="auth-failure"))
    assert classify(message, headers_only=True).kind is COMPLAINT  # the headers cannot tell
    assert classify(message).kind is OTHER


def test_a_person_forwarding_a_complaint_notice_is_a_reply() -> None:
    message = from_headers("From: Ana <ana@acme.example>", "Subject: Fwd: complaint about message from 192.0.2.1",
                           "Content-Type: multipart/mixed; boundary=r", body=ARF.format(kind="abuse"))
    assert classify(message, headers_only=True).kind is REPLY
    assert classify(message).kind is REPLY


@pytest.mark.parametrize(("sender", "kind"), [
    ("staff@hotmail.example", COMPLAINT), ("Feedback <feedback@isp.example>", COMPLAINT),
    ("Ana <ana@acme.example>", REPLY),  # a person choosing those words is not a feedback loop
])
def test_a_feedback_loop_notice_subject_counts_only_from_a_feedback_address(sender: str, kind: InboundKind) -> None:
    message = from_headers(f"From: {sender}", "Subject: complaint about message from 192.0.2.20")
    assert classify(message, headers_only=True).kind is kind


# -- bounces without a delivery-status part (issue 18 §4) ----------------------------------------------


@pytest.mark.parametrize(("event", "expected"), [
    ({"notificationType": "Bounce", "bounce": {"bounceType": "Transient",
                                               "bouncedRecipients": [{"emailAddress": "Ana@Acme.example"}]}},
     (BOUNCE, ("ana@acme.example",), False)),
    ({"eventType": "Bounce", "bounce": {"bounceType": "Undetermined",
                                        "bouncedRecipients": [{"emailAddress": "ana@acme.example", "status": "5.1.1"}]}},
     (BOUNCE, ("ana@acme.example",), True)),
    ({"RecordType": "Bounce", "Type": "HardBounce", "Email": "ana@acme.example"}, (BOUNCE, ("ana@acme.example",), True)),
    ({"RecordType": "Bounce", "Type": "SoftBounce", "Email": "ana@acme.example"},
     (BOUNCE, ("ana@acme.example",), False)),
    ({"RecordType": "SpamComplaint", "Email": "ana@acme.example"}, (COMPLAINT, ("ana@acme.example",), None)),
    ([{"event": "deferred", "email": "ana@acme.example"}], (BOUNCE, ("ana@acme.example",), False)),
    ([{"event": "spamreport", "email": "ana@acme.example"}], (COMPLAINT, ("ana@acme.example",), None)),
    ({"event-data": {"event": "complained", "recipient": "ana@acme.example"}},
     (COMPLAINT, ("ana@acme.example",), None)),
])
def test_relay_json_events_of_every_shape(event: object, expected: tuple[object, ...]) -> None:
    message = from_headers("From: Relay <events@relay.example>", "Subject: Event",
                           "Content-Type: application/json", body=json.dumps(event))
    assert shape(classify(message)) == expected


@pytest.mark.parametrize("event", [
    {"notificationType": "Delivery", "delivery": {"recipients": ["ana@acme.example"]}},
    [{"event": "delivered", "email": "ana@acme.example"}, {"event": "open", "email": "ana@acme.example"}],
    {"RecordType": "Bounce", "Type": "AutoResponder", "Email": "ana@acme.example"},
    {"name": "Ana", "email": "ana@acme.example"},  # JSON, but no relay's event
])
def test_json_that_reports_no_failure_is_not_a_bounce(event: object) -> None:
    message = from_headers("From: Relay <events@relay.example>", "Subject: Event",
                           "Content-Type: application/json", body=json.dumps(event))
    assert classify(message).kind is REPLY


def test_a_person_pasting_a_relay_event_into_a_reply_is_a_reply() -> None:
    event = {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                      "bouncedRecipients": [{"emailAddress": "bo@globex.example"}]}}
    message = from_headers("From: Ana <ana@acme.example>", "Subject: Re: Backend role", body=json.dumps(event))
    assert classify(message).kind is REPLY


@pytest.mark.parametrize(("text", "permanent"), [
    ("550 5.1.1 user unknown", True), ("452 4.2.2 mailbox full", False),
    ("552 5.2.2 mailbox full", False),  # a full mailbox is temporary, whatever its code
    ("mailbox is full: retry timeout exceeded. This is a permanent error.", True),  # the server gave up
    ("受信者のメールボックスが一杯です", False), ("宛先不明", True), ("the server said something", None),
])
def test_permanence_from_a_notices_words(text: str, permanent: bool | None) -> None:
    message = from_headers("From: Gateway <gw@carrier.example>", "Subject: Notice",
                           body=f"This message could not be delivered to the following recipient:\n\n"
                                f"  ana@acme.example\n\n{text}\n")
    assert shape(classify(message)) == (BOUNCE, ("ana@acme.example",), permanent)


def test_a_notice_opening_later_in_the_body_is_not_a_bounce() -> None:
    body = "Hi Rita,\n\n" + "Thanks for the note about the role and the team. " * 20 + (
        "\n\nThis message could not be delivered to the following recipients: ana@acme.example\n")
    message = from_headers("From: Bo <bo@globex.example>", "Subject: Backend role", body=body)
    assert classify(message).kind is REPLY
