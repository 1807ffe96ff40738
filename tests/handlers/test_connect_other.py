"""Connecting an SMTP/IMAP mailbox from Slack, against real aiosmtpd and Dovecot on loopback: a wrong
password shows on its field and saves nothing; the right one connects, with the password encrypted."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person
from bot.models import Mailbox, Provider
from bot.slack_app import build_app
from handlers.commands import COMMAND
from handlers.ids import Action
from providers.smtp_imap import SmtpImapSettings
from tests.handlers.conftest import RITA, runtime_with
from tests.standins import tls
from tests.standins.mailservers import Dovecot, SmtpServer

PASSWORD = "app-pw-7f3kq9"


@pytest.fixture(scope="module")
def servers(certs: tls.TestCertificates) -> Iterator[tuple[tls.TestCertificates, SmtpServer, Dovecot]]:
    with SmtpServer(certs) as smtp, Dovecot(certs) as imap:
        for server in (smtp, imap):
            server.set_password("rita@acme.test", PASSWORD)
        yield certs, smtp, imap


def _form(smtp: SmtpServer, imap: Dovecot, password: str, smtp_port: str | None = None) -> dict[str, str]:
    return {"address": "Rita@acme.test", "username": "rita@acme.test", "password": password,
            "smtp_host": "127.0.0.1", "smtp_port": smtp_port or str(smtp.port), "imap_host": "127.0.0.1",
            "imap_port": str(imap.port)}


def test_other_mailbox_checks_both_logins_before_saving(
        tmp_path: Path, workspace: LocalSlack, engine: Engine, clock: FakeClock,
        servers: tuple[tls.TestCertificates, SmtpServer, Dovecot]) -> None:
    certs, smtp, imap = servers
    runtime = runtime_with(tmp_path, workspace, engine, clock, OUTREACH_CA_FILE=certs.ca_file)
    rita = Person(workspace, RITA, BoltTarget(build_app(runtime, process_before_response=True)))
    rita.slash(COMMAND, "connect")
    rita.click(Action.OPEN_OTHER.value, in_view=workspace.open_views(RITA)[-1])
    assert workspace.open_views(RITA)[-1]["title"]["text"] == "SMTP and IMAP"

    bad_port = rita.submit(_form(smtp, imap, PASSWORD, smtp_port="smtp"))
    assert bad_port.errors == {"smtp_port": "Enter a port number, such as 587 for SMTP or 993 for IMAP."}
    wrong = rita.submit(_form(smtp, imap, "not-the-password"))
    assert set(wrong.errors or {}) == {"password"} and "app password" in wrong.errors["password"]
    assert "not-the-password" not in str(wrong.errors)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox)) is None

    assert rita.submit(_form(smtp, imap, PASSWORD)).ok
    assert workspace.open_views(RITA) == []
    assert any("rita@acme.test is connected" in m.text for m in rita.dm_messages())
    with transaction(runtime.sessions) as session:
        mailbox = session.scalar(select(Mailbox))
        assert (mailbox.provider, mailbox.address) == (Provider.SMTP_IMAP, "rita@acme.test")
        assert PASSWORD.encode() not in mailbox.credentials
        assert runtime.cipher is not None
        saved = SmtpImapSettings.from_credentials(runtime.cipher.decrypt(mailbox.credentials))
        assert (saved.password, saved.smtp_port) == (PASSWORD, smtp.port)
