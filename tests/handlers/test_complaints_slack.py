"""A complaint as the recruiter sees it in Slack: a DM of its own (no reply buttons), the channel's
alert without the address, and the mailbox's count and warning in `/outreach mailboxes`."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person
from bot.models import Mailbox, PermissionLevel
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from handlers.commands import COMMAND
from handlers.notices import deliver_channel_alerts, deliver_notices
from handlers.views.mailboxes import complaints_text
from handlers.views.summaries import MailboxSummary
from providers.sandbox import INBOX, PostOffice
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import RITA, client_for

MAILBOX = "rita@acme.example"
REPORT = """\
From: Feedback Loop <feedback@fbl.example>
To: rita@acme.example
Subject: Email Feedback Report for IP 192.0.2.20
Message-ID: <fbl-1@fbl.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="r"

--r
Content-Type: text/plain

A user marked this message as spam.
--r
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1
Original-Rcpt-To: ana0@work.example

--r
Content-Type: text/rfc822-headers

From: rita@acme.example
To: ana0@work.example
Message-ID: {message_id}

--r--
"""


def _complained(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        mailbox.permission_level = PermissionLevel.ENHANCED
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        campaign.alert_channel_id = "C0HIRING"
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    [first] = PostOffice(runtime.providers.sandbox).sent(MAILBOX)  # type: ignore[attr-defined]
    report = REPORT.format(message_id=first["Message-ID"]).replace("\n", "\r\n").encode()
    runtime.providers.sandbox.append(MAILBOX, INBOX, message_from_bytes(report, policy=policy.default))  # type: ignore[attr-defined]
    sync_mailboxes(runtime, clock)


def test_the_owner_gets_a_dm_of_its_own_and_the_channel_never_sees_the_address(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _complained(runtime, clock)
    deliver_notices(runtime, client_for(workspace))
    [dm] = rita.dm_messages()
    assert dm.text == (":no_entry_sign: *Ana Candidate0* marked your email \u201cBackend role at Acme\u201d in "
                       "*Backend Q4* as spam: they are on the do-not-contact list and will not be emailed again.")
    assert not dm.blocks  # no "Mark handled" or "This was an auto-reply": it is not a reply
    assert deliver_channel_alerts(runtime, client_for(workspace)) == 1
    alert = workspace.messages(channel="C0HIRING")[-1].text
    assert "Ana Candidate0 marked an email from Backend Q4 as spam" in alert and "@" not in alert


def test_mailboxes_shows_the_count_and_warns_past_the_rate(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _complained(runtime, clock)
    rita.slash(COMMAND, "mailboxes")
    text = workspace.ephemerals(RITA)[-1].blocks[0]["text"]["text"]
    # one complaint for one email sent in 30 days: far past 0.3%
    assert (":warning: 1 spam complaint about its emails: 1 in the last 30 days for 1 email sent, at or past the "
            "0.3% Gmail and Yahoo allow") in text
    clock.advance(timedelta(days=31))
    rita.slash(COMMAND, "mailboxes")
    text = workspace.ephemerals(RITA)[-1].blocks[0]["text"]["text"]
    assert "1 spam complaint about its emails" in text and ":warning:" not in text  # counted, no longer recent
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox.complaints)) == 1


def test_a_mailbox_without_complaints_says_nothing_about_them(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "connect")
    rita.submit({"provider": "sandbox", "address": MAILBOX})
    rita.slash(COMMAND, "mailboxes")
    assert "complaint" not in workspace.ephemerals(RITA)[-1].blocks[0]["text"]["text"]


def test_the_warning_wording_agrees_with_its_numbers() -> None:
    base = MailboxSummary("rita@acme.example", "sandbox", "connected", "basic")
    assert complaints_text(MailboxSummary(**{**base.__dict__, "complaints": 2})) == "2 spam complaints about its emails"
    warned = MailboxSummary(**{**base.__dict__, "complaints": 4, "recent_complaints": 3, "recent_sends": 900,
                               "complaint_warning": True})
    assert complaints_text(warned).startswith(":warning: 4 spam complaints about its emails: 3 in the last 30 days "
                                              "for 900 emails sent")
