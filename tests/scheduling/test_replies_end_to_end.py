"""Replies, bounces and out-of-office through the real providers, end to end: a mailbox connected as
the connect flow stores it (credentials encrypted with the runtime's cipher), a two-step campaign
sent by the real Dispatcher, the answer delivered into the mailbox's inbox in the shape the real
service produces, read by the real MailboxSync, and every email counted where it left: the Gmail and
Graph stand-ins, and a real aiosmtpd + Dovecot for SMTP/IMAP.

Time is a FakeClock that jumps from one due moment to the next; the stand-ins stamp arrivals and
tokens with real time, which only moves by seconds here.
"""
from __future__ import annotations

import base64
import itertools
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from string import Template

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    Mailbox,
    MailboxStatus,
    Notification,
    OutboundMessage,
    Provider,
)
from bot.runtime import Runtime, build_runtime
from bot.services.campaigns import start_campaign
from bot.services.connections import complete_connect
from bot.services.replies import Inbound, record_inbound
from providers.base import InboundKind
from providers.connect import ClientSecrets
from providers.gmail import GmailConnector
from providers.graph import MicrosoftConnector
from providers.smtp_imap import SmtpImapSettings
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.conftest import make_settings
from tests.standins import tls
from tests.standins.google import GoogleStandIn
from tests.standins.mailservers import Dovecot, SmtpServer
from tests.standins.microsoft import MicrosoftStandIn

pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")

GOOGLE = ClientSecrets(client_id="1234-e2e.apps.googleusercontent.com", client_secret="GOCSPX-e2e-test")
WORK, HOME = "ana0@work.example", "ana0@home.example"  # tests.factories.campaign_with_candidates' candidate
NAME = "Ana Candidate0"
KINDS = ["gmail", "graph", "imap"]
_numbers = itertools.count(1)


# -- the services, one per module ----------------------------------------------------------------

@pytest.fixture(scope="module")
def google(certs: tls.TestCertificates) -> Iterator[GoogleStandIn]:
    with GoogleStandIn(certs, client_id=GOOGLE.client_id, client_secret=GOOGLE.client_secret) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def microsoft(certs: tls.TestCertificates) -> Iterator[MicrosoftStandIn]:
    with MicrosoftStandIn(certs, page_size=50) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def smtp(certs: tls.TestCertificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot(certs: tls.TestCertificates) -> Iterator[Dovecot]:
    with Dovecot(certs) as server:
        yield server


@pytest.fixture
def runtime(tmp_path: Path, engine: Engine, clock: FakeClock, google: GoogleStandIn,
            microsoft: MicrosoftStandIn, certs: tls.TestCertificates) -> Runtime:
    """The bot configured as an operator would, pointed at the stand-ins (one CA file for all)."""
    settings = make_settings(
        tmp_path, OUTREACH_SANDBOX_MAILBOXES=False, OUTREACH_CA_FILE=certs.ca_file,
        GOOGLE_CLIENT_ID=GOOGLE.client_id, GOOGLE_CLIENT_SECRET=GOOGLE.client_secret,
        GOOGLE_AUTH_URI=google.endpoints.google_auth_uri, GOOGLE_TOKEN_URI=google.endpoints.google_token_uri,
        GMAIL_API_URL=google.endpoints.gmail_api, MICROSOFT_CLIENT_ID=microsoft.client_id,
        MICROSOFT_CLIENT_SECRET=microsoft.client_secret, MICROSOFT_AUTHORITY=microsoft.authority(),
        GRAPH_API_URL=microsoft.graph_api)
    return build_runtime(settings, clock=clock, engine=engine)


# -- one connected mailbox, the same few operations for every provider --------------------------

@dataclass
class Account:
    """A mailbox at its provider: what the bot stores on connect, how mail reaches its inbox, and
    what left it (counted by the provider, not by the bot)."""

    provider: Provider
    address: str
    credentials: bytes  # plaintext, as a connector returns it: encrypted before it is stored
    enhanced: bool
    deliver: Callable[[bytes], object]
    sent: Callable[[], list[Message]]


def _gmail(request: pytest.FixtureRequest, enhanced: bool) -> Account:
    google: GoogleStandIn = request.getfixturevalue("google")
    address = f"rita{next(_numbers)}@agency.example"
    connected = google.connect(GmailConnector(GOOGLE, google.endpoints), address, enhanced=enhanced)
    return Account(Provider.GMAIL, connected.address, connected.credentials, connected.enhanced,
                   deliver=lambda raw: google.deliver(address, raw),
                   sent=lambda: google.sent(address))


def _graph(request: pytest.FixtureRequest, enhanced: bool) -> Account:
    microsoft: MicrosoftStandIn = request.getfixturevalue("microsoft")
    address = f"rita{next(_numbers)}@contoso.example"
    microsoft.add_user(address)
    client = ClientSecrets(microsoft.client_id, microsoft.client_secret)
    connected = microsoft.connect(MicrosoftConnector(client, microsoft.endpoints()), address, enhanced=enhanced)
    return Account(Provider.GRAPH, connected.address, connected.credentials, connected.enhanced,
                   deliver=lambda raw: microsoft.deliver(address, raw),
                   sent=lambda: [m.headers for m in microsoft.sent(address)])


def _imap(request: pytest.FixtureRequest, enhanced: bool) -> Account:
    smtp: SmtpServer = request.getfixturevalue("smtp")
    dovecot: Dovecot = request.getfixturevalue("dovecot")
    address = f"rita{next(_numbers)}@acme.test"
    password = "app-" + secrets.token_urlsafe(12)
    smtp.set_password(address, password)
    dovecot.set_password(address, password)
    settings = SmtpImapSettings(address=address, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                smtp_security="starttls", imap_host="127.0.0.1", imap_port=dovecot.port,
                                username=address, password=password)
    return Account(Provider.SMTP_IMAP, address, settings.to_credentials(), enhanced,
                   deliver=lambda raw: dovecot.deliver(address, raw),
                   sent=lambda: [message_from_bytes(r.data) for r in smtp.messages_from(address)])


@pytest.fixture
def connect(request: pytest.FixtureRequest) -> Callable[..., Account]:
    def make(kind: str, *, enhanced: bool = False) -> Account:
        return {"gmail": _gmail, "graph": _graph, "imap": _imap}[kind](request, enhanced)
    return make


# -- the bot's side: connect, start, send, read ----------------------------------------------------

def _started(runtime: Runtime, clock: FakeClock, account: Account) -> None:
    """Connected as the connect flow stores it, a two-step campaign started, and the mailbox read
    once so its cursor starts from now (as the sync job does for a mailbox with a started campaign)."""
    assert runtime.cipher is not None
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = complete_connect(session, owner=rita, provider=account.provider, address=account.address,
                                   credentials=runtime.cipher.encrypt(account.credentials),
                                   enhanced=account.enhanced, clock=clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    sync_mailboxes(runtime, clock)


def _status(runtime: Runtime) -> EnrollmentStatus:
    with transaction(runtime.sessions) as session:
        [status] = session.scalars(select(Enrollment.status)).all()
        return status


def _inbound_kinds(runtime: Runtime) -> list[InboundKind]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(InboundEvent.kind).order_by(InboundEvent.id)))


def _to(message: Message) -> str:
    return parseaddr(str(message["To"]))[1]


def _step_one_sent(runtime: Runtime, clock: FakeClock, account: Account) -> Message:
    _started(runtime, clock, account)
    dispatch_for(runtime, clock, timedelta(hours=1))
    [first] = account.sent()
    assert _to(first) == WORK and first["Subject"] == "Backend role at Acme"
    return first


# -- what arrives, in the shapes the real services write -----------------------------------------

def _mime(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def _fill(template: str, original: Message, account: Account, *, id_domain: str = "mail.example") -> bytes:
    """The template answering `original` (step 1 as it left the mailbox), dated now in real time:
    the stand-ins stamp arrivals with real time too."""
    return _mime(Template(template).substitute(
        mailbox=account.address, domain=account.address.rpartition("@")[2], name=NAME,
        original_id=str(original["Message-ID"]).strip(), subject=str(original["Subject"]), recipient=_to(original),
        date=format_datetime(datetime.now(timezone.utc)), original_date=str(original["Date"]),
        message_id=make_msgid(domain=id_domain).strip("<>"), boundary=secrets.token_hex(12)))


HUMAN_REPLY = """\
From: $name <$recipient>
To: Rita Recruiter <$mailbox>
Subject: Re: $subject
Date: $date
Message-ID: <$message_id>
In-Reply-To: $original_id
References: $original_id
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"

Hi Rita,

Yes, I'd be glad to talk. Tuesday afternoon works for me.

Ana

On $original_date, Rita Recruiter <$mailbox> wrote:
> Hi Ana,
> Would you like to talk?
> Rita
"""

# Gmail's own bounce: from mailer-daemon@googlemail.com, in the thread, with X-Failed-Recipients.
GMAIL_BOUNCE = """\
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: $mailbox
Auto-Submitted: auto-replied
Message-ID: <$message_id>
Date: $date
Subject: Delivery Status Notification (Failure)
References: $original_id
In-Reply-To: $original_id
X-Failed-Recipients: $recipient
MIME-Version: 1.0
Content-Type: multipart/report; boundary="$boundary"; report-type=delivery-status

--$boundary
Content-Type: text/plain; charset="UTF-8"


** Address not found **

Your message wasn't delivered to $recipient because the address couldn't be found, or is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist.

--$boundary
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
X-Original-Message-ID: $original_id

Final-Recipient: rfc822; $recipient
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist.

--$boundary
Content-Type: text/rfc822-headers

From: Rita Recruiter <$mailbox>
To: $recipient
Subject: $subject
Message-ID: $original_id

--$boundary--
"""

# Exchange Online's NDR: "Undeliverable:" from postmaster of the sender's domain, in the conversation.
EXCHANGE_NDR = """\
MIME-Version: 1.0
From: Microsoft Outlook <postmaster@$domain>
To: <$mailbox>
Date: $date
Content-Type: multipart/report; report-type=delivery-status; boundary="$boundary"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <$message_id>
In-Reply-To: $original_id
References: $original_id
Thread-Topic: $subject
Subject: Undeliverable: $subject
Auto-Submitted: auto-replied

--$boundary
Content-Type: text/plain; charset="utf-8"

Your message to $recipient couldn't be delivered.

Status code: 550 5.1.10

Original Message Details
Sender Address:       $mailbox
Recipient Address:    $recipient
Subject:              $subject

Error Details
Error:            550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient $recipient not found by SMTP address lookup

--$boundary
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR02MB5555.eurprd02.prod.outlook.com

Original-Recipient: rfc822;$recipient
Final-Recipient: rfc822;$recipient
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient $recipient not found

--$boundary
Content-Type: text/rfc822-headers

From: Rita Recruiter <$mailbox>
To: $recipient
Subject: $subject
Message-ID: $original_id

--$boundary--
"""

# Postfix's DSN: from MAILER-DAEMON of the sending server, a new thread that names the original only
# inside its report (no In-Reply-To).
POSTFIX_DSN = """\
Return-Path: <>
Date: $date
From: MAILER-DAEMON@mx1.$domain (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: $mailbox
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="$boundary"
Message-Id: <$message_id>

This is a MIME-encapsulated message.

--$boundary
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host mx1.$domain.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<$recipient>: host mx.work.example[198.51.100.25] said: 550
    5.1.1 <$recipient>: Recipient address rejected: User unknown
    in virtual mailbox table (in reply to RCPT TO command)

--$boundary
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.$domain
X-Postfix-Sender: rfc822; $mailbox

Final-Recipient: rfc822; $recipient
Original-Recipient: rfc822;$recipient
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.work.example
Diagnostic-Code: smtp; 550 5.1.1 <$recipient>: Recipient address
    rejected: User unknown in virtual mailbox table

--$boundary
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Rita Recruiter <$mailbox>
To: $recipient
Subject: $subject
Message-ID: $original_id

--$boundary--
"""

# Exim's DSN (cPanel and most shared hosting): from Mailer-Daemon of the sending host, a new thread,
# the failing address in X-Failed-Recipients.
EXIM_DSN = """\
Return-path: <>
Envelope-to: $mailbox
Received: from mailnull by smtp.$domain with local (Exim 4.98)
        id 1vLk7c-00042A-1X
        for $mailbox;
        $date
X-Failed-Recipients: $recipient
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@smtp.$domain>
To: $mailbox
Content-Type: multipart/report; report-type=delivery-status; boundary=$boundary
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <$message_id>
Date: $date

--$boundary
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  $recipient
    host mx1.work.example [198.51.100.80]
    SMTP error from remote mail server after RCPT TO:<$recipient>:
    550 5.1.1 <$recipient>: Recipient address rejected: User unknown

--$boundary
Content-type: message/delivery-status

Reporting-MTA: dns; smtp.$domain

Action: failed
Final-Recipient: rfc822;$recipient
Status: 5.0.0
Remote-MTA: dns; mx1.work.example
Diagnostic-Code: smtp; 550 5.1.1 <$recipient>: Recipient address rejected: User unknown

--$boundary
Content-type: text/rfc822-headers

From: Rita Recruiter <$mailbox>
To: $recipient
Subject: $subject
Message-ID: $original_id

--$boundary--
"""

# Gmail's vacation responder: the person's own subject, Auto-Submitted, in the thread.
GMAIL_VACATION = """\
From: $name <$recipient>
To: Rita Recruiter <$mailbox>
Date: $date
References: $original_id
In-Reply-To: $original_id
Auto-Submitted: auto-replied
Message-ID: <$message_id>
Subject: Away until 1 December
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"

Hello,

I'm on parental leave until 1 December and won't be reading email.

Ana
"""

# Exchange's automatic reply (the Mailbox Rules Agent): "Automatic reply:" and auto-generated.
EXCHANGE_OOF = """\
From: $name <$recipient>
To: Rita Recruiter <$mailbox>
Subject: Automatic reply: $subject
Thread-Topic: $subject
Date: $date
Message-ID: <$message_id>
References: $original_id
In-Reply-To: $original_id
X-Auto-Response-Suppress: All
auto-submitted: auto-generated
x-ms-exchange-generated-message-source: Mailbox Rules Agent
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

Thank you for your message. I am out of the office until Monday 30 November with limited access to email.
"""

# A Sieve vacation reply (RFC 5230, as Dovecot Pigeonhole writes it): "Auto:" and auto-replied.
SIEVE_VACATION = """\
From: $name <$recipient>
To: <$mailbox>
Subject: Auto: $subject
Date: $date
Message-ID: <$message_id>
In-Reply-To: $original_id
References: $original_id
Auto-Submitted: auto-replied (vacation)
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am away until Monday 30 November and will answer when I am back.
"""

# A feedback loop's ARF report (RFC 5965) about step 1: a new thread, from the loop's own address,
# naming the candidate in Original-Rcpt-To and step 1 in the reported headers.
ARF_REPORT = """\
From: Feedback Loop <feedback@fbl.mailhost.example>
To: $mailbox
Subject: Email Feedback Report for IP 192.0.2.20
Date: $date
Message-ID: <$message_id>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="$boundary"

--$boundary
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 192.0.2.20.

--$boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: MailhostFBL/2.1
Version: 1
Original-Mail-From: <$mailbox>
Original-Rcpt-To: <$recipient>
Source-IP: 192.0.2.20

--$boundary
Content-Type: text/rfc822-headers

From: Rita Recruiter <$mailbox>
To: $recipient
Subject: $subject
Message-ID: $original_id

--$boundary--
"""

# qmail's bounce (QSBMF): plain text, no delivery-status part, the address only in the body.
QMAIL_BOUNCE = """\
Return-Path: <>
From: MAILER-DAEMON@mail.$domain
To: $mailbox
Subject: failure notice
Date: $date
Message-ID: <$message_id>

Hi. This is the qmail-send program at mail.$domain.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<$recipient>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

From: Rita Recruiter <$mailbox>
To: $recipient
Subject: $subject
Message-ID: $original_id
"""

# A relay's JSON event (Amazon SES through an SNS email subscription): from a no-reply address.
SES_JSON_BOUNCE = """\
From: AWS Notifications <no-reply@sns.amazonaws.example>
To: $mailbox
Subject: AWS Notification Message
Date: $date
Message-ID: <$message_id>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "$recipient", "status": "5.1.1"}]}, "mail": {"commonHeaders": {"messageId": "$original_id"}}}
"""

AUTO_REPLIES = {"gmail": GMAIL_VACATION, "graph": EXCHANGE_OOF, "imap": SIEVE_VACATION}
BOUNCE_CASES = [
    pytest.param("gmail", False, GMAIL_BOUNCE, id="gmail-basic"),
    pytest.param("gmail", True, GMAIL_BOUNCE, id="gmail-enhanced"),
    pytest.param("graph", True, EXCHANGE_NDR, id="graph-enhanced"),
    # Mail.ReadBasic: the stand-in gives no internetMessageHeaders (whether Graph does is unverified),
    # so the NDR carries no In-Reply-To and no failing recipient: its conversationId ties it to step 1,
    # which GraphProvider.send read back from the Sent copy.
    pytest.param("graph", False, EXCHANGE_NDR, id="graph-basic"),
    # A Postfix DSN is outside the thread and names the recipient only in its body: enhanced (SPEC).
    pytest.param("imap", True, POSTFIX_DSN, id="imap-postfix-enhanced"),
    # Exim (most shared hosting) names the recipient in X-Failed-Recipients: headers are enough.
    pytest.param("imap", False, EXIM_DSN, id="imap-exim-basic"),
    # Without a delivery-status part (issue 18 §4): the body names the recipient, so enhanced.
    pytest.param("imap", True, QMAIL_BOUNCE, id="imap-qmail-enhanced"),
    pytest.param("gmail", True, SES_JSON_BOUNCE, id="gmail-ses-json-enhanced"),
]


# -- the proof -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_reply_in_the_inbox_stops_the_sequence_before_its_next_step(
        kind: str, connect: Callable[..., Account], runtime: Runtime, clock: FakeClock) -> None:
    account = connect(kind)
    first = _step_one_sent(runtime, clock, account)

    account.deliver(_fill(HUMAN_REPLY, first, account, id_domain="mail.work.example"))
    sync_mailboxes(runtime, clock)

    assert _status(runtime) == EnrollmentStatus.REPLIED
    assert _inbound_kinds(runtime) == [InboundKind.REPLY]
    dispatch_for(runtime, clock, timedelta(hours=24 * 4))  # well past step 2's day
    assert [_to(m) for m in account.sent()] == [WORK]  # step 2 never left the mailbox


@pytest.mark.parametrize(("kind", "enhanced", "bounce"), BOUNCE_CASES)
def test_a_bounce_sends_step_one_again_to_the_personal_address_in_a_new_thread(
        kind: str, enhanced: bool, bounce: str, connect: Callable[..., Account], runtime: Runtime,
        clock: FakeClock) -> None:
    account = connect(kind, enhanced=enhanced)
    first = _step_one_sent(runtime, clock, account)

    account.deliver(_fill(bounce, first, account))
    sync_mailboxes(runtime, clock)

    assert _inbound_kinds(runtime) == [InboundKind.BOUNCE]
    dispatch_for(runtime, clock, timedelta(hours=1))
    sent = account.sent()
    assert [_to(m) for m in sent] == [WORK, HOME]
    again = sent[1]
    assert again["Subject"] == first["Subject"] and again["Message-ID"] != first["Message-ID"]
    assert again["In-Reply-To"] is None and again["References"] is None  # a new conversation
    assert _status(runtime) == EnrollmentStatus.IN_PROGRESS


@pytest.mark.parametrize("kind", KINDS)
def test_an_auto_reply_marks_out_of_office_and_step_two_still_goes_when_due(
        kind: str, connect: Callable[..., Account], runtime: Runtime, clock: FakeClock) -> None:
    account = connect(kind)
    first = _step_one_sent(runtime, clock, account)

    account.deliver(_fill(AUTO_REPLIES[kind], first, account, id_domain="mail.work.example"))
    sync_mailboxes(runtime, clock)

    assert _status(runtime) == EnrollmentStatus.OUT_OF_OFFICE
    assert _inbound_kinds(runtime) == [InboundKind.AUTO_REPLY]
    dispatch_for(runtime, clock, timedelta(hours=24 * 3))
    sent = account.sent()
    assert [_to(m) for m in sent] == [WORK, WORK]
    assert sent[1]["In-Reply-To"] == first["Message-ID"]  # step 2, in step 1's thread


@pytest.mark.parametrize("kind", KINDS)
def test_a_complaint_in_the_inbox_ends_the_candidate_and_never_shows_as_a_reply(
        kind: str, connect: Callable[..., Account], runtime: Runtime, clock: FakeClock) -> None:
    account = connect(kind, enhanced=True)  # the report names the candidate only in its body
    first = _step_one_sent(runtime, clock, account)

    account.deliver(_fill(ARF_REPORT, first, account, id_domain="fbl.mailhost.example"))
    sync_mailboxes(runtime, clock)

    assert _status(runtime) == EnrollmentStatus.COMPLAINED
    assert _inbound_kinds(runtime) == [InboundKind.COMPLAINT]
    with transaction(runtime.sessions) as session:
        assert [n.kind for n in session.scalars(select(Notification)) if n.kind != "connected"] == ["complaint"]
        assert session.scalar(select(Mailbox.complaints)) == 1
        assert [(d.value, d.source) for d in session.scalars(select(DoNotContact))] == [
            (WORK, DoNotContactSource.COMPLAINT)]
    dispatch_for(runtime, clock, timedelta(hours=24 * 4))
    assert [_to(m) for m in account.sent()] == [WORK]  # step 2 never left, nor went to the home address


def test_under_basic_permissions_a_complaint_is_still_never_a_reply(
        connect: Callable[..., Account], runtime: Runtime, clock: FakeClock) -> None:
    account = connect("gmail")
    first = _step_one_sent(runtime, clock, account)
    account.deliver(_fill(ARF_REPORT, first, account, id_domain="fbl.mailhost.example"))
    sync_mailboxes(runtime, clock)
    assert _status(runtime) == EnrollmentStatus.IN_PROGRESS  # headers alone name no send to act on
    with transaction(runtime.sessions) as session:
        assert [n.kind for n in session.scalars(select(Notification)) if n.kind != "connected"] == []


# -- Graph: what the real service may do that no document settles -------------------------------

def test_a_graph_mailbox_refusing_the_header_select_is_remembered_never_reconnected(
        connect: Callable[..., Account], runtime: Runtime, clock: FakeClock, microsoft: MicrosoftStandIn,
        caplog: pytest.LogCaptureFixture) -> None:
    microsoft.read_basic_headers = "refused"
    try:
        account = connect("graph")
        refusals = microsoft.refused_header_selects
        with caplog.at_level(logging.WARNING, logger="scheduling.sync"):
            first = _step_one_sent(runtime, clock, account)  # the campaign's start read the mailbox once
            account.deliver(_fill(HUMAN_REPLY, first, account, id_domain="mail.work.example"))
            runtime.providers._cache.clear()  # type: ignore[attr-defined]  # as after a restart
            sync_mailboxes(runtime, clock)
    finally:
        microsoft.read_basic_headers = "omitted"

    with transaction(runtime.sessions) as session:
        [mailbox] = session.scalars(select(Mailbox)).all()
        assert (mailbox.status, mailbox.headers_refused) == (MailboxStatus.CONNECTED, True)
    assert microsoft.refused_header_selects == refusals + 1  # the rebuilt provider did not ask again
    assert [r.getMessage() for r in caplog.records if "refused internet headers" in r.getMessage()] == [
        f"mailbox {mailbox.id}: Graph refused internet headers (Mail.ReadBasic); reading without them"]
    assert _status(runtime) == EnrollmentStatus.REPLIED  # matched from the fields Graph gives


def test_a_message_id_exchange_assigned_is_stored_and_answers_quoting_it_match(
        connect: Callable[..., Account], runtime: Runtime, clock: FakeClock, microsoft: MicrosoftStandIn) -> None:
    microsoft.rewrite_message_ids = True
    try:
        account = connect("graph")
        first = _step_one_sent(runtime, clock, account)
    finally:
        microsoft.rewrite_message_ids = False
    with transaction(runtime.sessions) as session:
        [row] = session.scalars(select(OutboundMessage).where(OutboundMessage.sent_at.is_not(None))).all()
        assert row.sent_message_id == str(first["Message-ID"]) != row.message_id
        assert row.provider_thread_id == microsoft.sent(account.address)[0].conversation_id

    # an answer quoting Exchange's Message-ID, seen without its conversation (another thread)
    # and from an address that is not the candidate's: only the stored Message-ID ties it to step 1
    with transaction(runtime.sessions, write=True) as session:
        [mailbox] = session.scalars(select(Mailbox)).all()
        outcome = record_inbound(session, mailbox=mailbox, clock=clock, rng=runtime.rng,
                                 reply_watch=timedelta(days=30), inbound=Inbound(
            provider_message_id="AAMk-forwarded", thread_id=None, from_address="assistant@work.example",
            subject="Re: Backend role at Acme", received_at=clock.now(),
            references=(str(first["Message-ID"]).strip("<>"),), kind=InboundKind.REPLY))
    assert outcome.effect == "replied" and _status(runtime) == EnrollmentStatus.REPLIED


def test_a_send_exchange_took_under_its_own_message_id_is_reconciled_never_sent_twice(
        connect: Callable[..., Account], runtime: Runtime, clock: FakeClock, microsoft: MicrosoftStandIn) -> None:
    microsoft.rewrite_message_ids = True
    microsoft.now = clock.now  # Sent Items stamped on the bot's clock: the lookup's time window compares alike
    try:
        account = connect("graph")
        _started(runtime, clock, account)
        microsoft.fail_next("sendMail", 503, accept=True)  # sent, but the answer says it failed: unclear
        dispatch_for(runtime, clock, timedelta(hours=1))
        dispatch_for(runtime, clock, timedelta(minutes=1))  # the lease is over: the dispatcher looks it up
    finally:
        microsoft.rewrite_message_ids = False
        microsoft.now = lambda: datetime.now(timezone.utc)

    [copy] = microsoft.sent(account.address)  # found by recipient, subject and time: not sent again
    with transaction(runtime.sessions) as session:
        [row] = session.scalars(select(OutboundMessage).where(OutboundMessage.step_position == 1)).all()
        assert row.attempts == 1 and row.sent_at is not None
        assert (row.sent_message_id, row.provider_message_id, row.provider_thread_id) == (
            copy.internet_message_id, copy.id, copy.conversation_id)


# -- Outlook's conversation headers (issue 17 §6) ------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_smtp_sends_carry_thread_topic_and_an_index_each_follow_up_extends(
        kind: str, connect: Callable[..., Account], runtime: Runtime, clock: FakeClock) -> None:
    account = connect(kind)
    first = _step_one_sent(runtime, clock, account)
    dispatch_for(runtime, clock, timedelta(hours=24 * 3))
    sent = account.sent()
    assert [_to(m) for m in sent] == [WORK, WORK]
    if kind != "imap":  # Gmail and Exchange keep their own conversations
        assert [m["Thread-Index"] for m in sent] == [None, None]
        return
    one, two = (base64.b64decode(str(m["Thread-Index"])) for m in sent)
    assert (len(one), len(two)) == (22, 27) and two[:22] == one  # step 2 = step 1's index + a child block
    assert one[0] == 1
    assert [str(m["Thread-Topic"]) for m in sent] == ["Backend role at Acme"] * 2
    assert sent[1]["Subject"] == "Re: Backend role at Acme" and sent[1]["In-Reply-To"] == first["Message-ID"]
