"""The SMTP + IMAP provider against real servers on loopback: aiosmtpd (STARTTLS and implicit TLS)
and a private Dovecot. Each test gets its own mailbox (user) so the module-wide servers stay clean."""
from __future__ import annotations

import itertools
import logging
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from providers.base import (
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    RateLimited,
    ReconnectNeeded,
    SentMessage,
    TemporaryFailure,
    new_message_id,
)
from providers.connect import LoginRefused
from providers.smtp_imap import SmtpImapProvider, SmtpImapSettings, verify_login
from tests.standins import tls
from tests.standins.mailservers import Dovecot, SmtpServer

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def starttls_smtp(certs: tls.TestCertificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs) as server:
        yield server


@pytest.fixture(scope="module")
def tls_smtp(certs: tls.TestCertificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs, implicit_tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot(certs: tls.TestCertificates) -> Iterator[Dovecot]:
    with Dovecot(certs) as server:
        yield server


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def settings(starttls_smtp: SmtpServer, tls_smtp: SmtpServer, dovecot: Dovecot) -> SmtpImapSettings:
    """A fresh mailbox on both servers, with a password no other test uses."""
    address = f"recruiter{next(_numbers)}@acme.test"
    password = "app-" + secrets.token_urlsafe(12)
    for server in (starttls_smtp, tls_smtp, dovecot):
        server.set_password(address, password)
    return SmtpImapSettings(address=address, smtp_host="127.0.0.1", smtp_port=starttls_smtp.port,
                            smtp_security="starttls", imap_host="127.0.0.1", imap_port=dovecot.port,
                            username=address, password=password)


@pytest.fixture
def provider_for(certs: tls.TestCertificates) -> Callable[..., SmtpImapProvider]:
    def make(settings: SmtpImapSettings, **kwargs: object) -> SmtpImapProvider:
        return SmtpImapProvider(settings.to_credentials(), ca_file=certs.ca_file, timeout=5, **kwargs)  # type: ignore[arg-type]
    return make


def _email(settings: SmtpImapSettings, **kw: object) -> OutgoingEmail:
    values: dict[str, object] = dict(from_address=settings.address, to_address="ana@work.example",
                                     subject="Hello Ana", body="Hi Ana,\nwould you like to talk?",
                                     message_id=new_message_id(settings.address))
    values.update(kw)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def _incoming(subject: str, body: str = "Thanks, let's talk.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "ana@work.example"
    msg["To"] = "recruiter@acme.test"
    msg["Subject"] = subject
    msg["Message-ID"] = new_message_id("work.example")
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def _sent_ids(dovecot: Dovecot, user: str) -> list[str]:
    return [str(message_from_bytes(raw)["Message-ID"]) for _, raw in dovecot.read(user, "Sent")]


# -- settings ------------------------------------------------------------------------------------

def test_settings_round_trip_and_hide_the_password(settings: SmtpImapSettings) -> None:
    again = SmtpImapSettings.from_credentials(settings.to_credentials())
    assert again == settings
    assert settings.password not in repr(settings)
    with pytest.raises(ValueError):
        replace(settings, smtp_security="plain")
    with pytest.raises(ValueError):
        replace(settings, imap_port=0)


# -- verify_login --------------------------------------------------------------------------------

def test_verify_login_accepts_good_settings_on_both_tls_styles(
        settings: SmtpImapSettings, tls_smtp: SmtpServer, certs: tls.TestCertificates) -> None:
    verify_login(settings, ca_file=certs.ca_file, timeout=5)
    verify_login(replace(settings, smtp_port=tls_smtp.port, smtp_security="ssl"), ca_file=certs.ca_file, timeout=5)


def test_verify_login_wrong_password_points_at_the_password(
        settings: SmtpImapSettings, dovecot: Dovecot, certs: tls.TestCertificates) -> None:
    wrong = replace(settings, password="not-the-" + settings.password)
    with pytest.raises(LoginRefused) as smtp_refused:
        verify_login(wrong, ca_file=certs.ca_file, timeout=5)
    assert smtp_refused.value.field == "password"
    assert "app password" in str(smtp_refused.value) and "SMTP" in str(smtp_refused.value)
    # SMTP right but IMAP refuses (e.g. IMAP access switched off): still the password field.
    dovecot.set_password(settings.username, "something-else")
    with pytest.raises(LoginRefused) as imap_refused:
        verify_login(settings, ca_file=certs.ca_file, timeout=5)
    assert imap_refused.value.field == "password" and "IMAP" in str(imap_refused.value)
    for error in (smtp_refused.value, imap_refused.value):
        assert settings.password not in str(error) and wrong.password not in str(error)


def test_verify_login_nothing_listening_points_at_the_ports(
        settings: SmtpImapSettings, closed_port: int, certs: tls.TestCertificates) -> None:
    with pytest.raises(LoginRefused) as smtp_refused:
        verify_login(replace(settings, smtp_port=closed_port), ca_file=certs.ca_file, timeout=5)
    assert smtp_refused.value.field == "smtp_port"
    assert f"127.0.0.1:{closed_port}" in str(smtp_refused.value)
    with pytest.raises(LoginRefused) as imap_refused:
        verify_login(replace(settings, imap_port=closed_port), ca_file=certs.ca_file, timeout=5)
    assert imap_refused.value.field == "imap_port"


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says anything."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_never_answers_times_out(
        settings: SmtpImapSettings, silent_port: int, certs: tls.TestCertificates) -> None:
    with pytest.raises(LoginRefused) as refused:
        verify_login(replace(settings, smtp_port=silent_port), ca_file=certs.ca_file, timeout=0.2)
    assert refused.value.field == "smtp_port" and "did not answer in time" in str(refused.value)
    with pytest.raises(LoginRefused) as imap_refused:
        verify_login(replace(settings, imap_port=silent_port), ca_file=certs.ca_file, timeout=0.2)
    assert imap_refused.value.field == "imap_port"
    provider = SmtpImapProvider(replace(settings, smtp_port=silent_port).to_credentials(), ca_file=certs.ca_file,
                                timeout=0.2)
    with pytest.raises(TemporaryFailure, match="did not answer in time"):
        provider.send(_email(settings))


def test_verify_login_unknown_host_points_at_the_host(settings: SmtpImapSettings, certs: tls.TestCertificates) -> None:
    with pytest.raises(LoginRefused) as refused:  # .invalid never resolves (RFC 2606), no network needed
        verify_login(replace(settings, smtp_host="smtp.example.invalid"), ca_file=certs.ca_file, timeout=5)
    assert refused.value.field == "smtp_host"


def test_verify_login_untrusted_certificate_is_a_tls_failure_on_the_port(settings: SmtpImapSettings) -> None:
    with pytest.raises(LoginRefused) as refused:
        verify_login(settings, ca_file=None, timeout=5)  # the test CA is not in the system store
    assert refused.value.field == "smtp_port"
    assert "TLS failed" in str(refused.value) and "certificate" in str(refused.value)


def test_verify_login_tls_mismatch_points_at_the_port(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, certs: tls.TestCertificates) -> None:
    with pytest.raises(LoginRefused) as smtp_refused:  # implicit TLS against a STARTTLS port
        verify_login(replace(settings, smtp_security="ssl"), ca_file=certs.ca_file, timeout=5)
    assert smtp_refused.value.field == "smtp_port" and "TLS failed" in str(smtp_refused.value)
    with pytest.raises(LoginRefused) as imap_refused:  # a plaintext greeting where IMAPS was expected
        verify_login(replace(settings, imap_port=starttls_smtp.port), ca_file=certs.ca_file, timeout=5)
    assert imap_refused.value.field == "imap_port" and "TLS failed" in str(imap_refused.value)


# -- send ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_send_goes_out_once_and_is_filed_in_sent(
        security: str, settings: SmtpImapSettings, starttls_smtp: SmtpServer, tls_smtp: SmtpServer,
        dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    smtp = tls_smtp if security == "ssl" else starttls_smtp
    settings = replace(settings, smtp_port=smtp.port, smtp_security=security)  # type: ignore[arg-type]
    email = _email(settings, body="Hi Ana,\n.a line starting with a dot\n.\nstill here")
    sent = provider_for(settings).send(email)
    assert sent == SentMessage(email.message_id, provider_message_id=email.message_id, thread_id=None)
    [received] = smtp.messages_from(settings.address)
    assert received.rcpt_tos == ("ana@work.example",) and received.login == settings.username
    delivered = message_from_bytes(received.data, policy=policy.default)
    assert delivered["Message-ID"] == email.message_id
    assert delivered.get_content().replace("\r\n", "\n").rstrip("\n") == email.body  # dot-stuffing undone
    [(flags, copy)] = dovecot.read(settings.username, "Sent")
    assert b"\\Seen" in flags
    assert message_from_bytes(copy)["Message-ID"] == email.message_id


def test_send_without_save_sent_leaves_sent_to_the_server(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, dovecot: Dovecot,
        provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider_for(replace(settings, save_sent=False)).send(_email(settings))
    assert len(starttls_smtp.messages_from(settings.address)) == 1
    assert dovecot.read(settings.username, "Sent") == []


def test_a_failed_sent_copy_is_not_a_failed_send(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, closed_port: int,
        provider_for: Callable[..., SmtpImapProvider], caplog: pytest.LogCaptureFixture) -> None:
    email = _email(settings)
    with caplog.at_level(logging.DEBUG):
        sent = provider_for(replace(settings, imap_port=closed_port)).send(email)
    assert sent.message_id == email.message_id
    assert len(starttls_smtp.messages_from(settings.address)) == 1
    assert "could not file a copy in Sent" in caplog.text and email.message_id in caplog.text
    assert settings.password not in caplog.text


def test_unknown_recipient_is_permanent_after_one_transaction(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, dovecot: Dovecot,
        provider_for: Callable[..., SmtpImapProvider]) -> None:
    before = starttls_smtp.transactions
    starttls_smtp.fail_next("RCPT", "550 5.1.1 <ana@work.example>: Recipient address rejected: User unknown")
    with pytest.raises(PermanentFailure) as failed:
        provider_for(settings).send(_email(settings))
    assert "550" in str(failed.value) and "User unknown" in str(failed.value)
    assert starttls_smtp.transactions == before + 1
    assert starttls_smtp.messages_from(settings.address) == []
    assert dovecot.read(settings.username, "Sent") == []


@contextmanager
def _greeting(line: bytes) -> Iterator[int]:
    """A one-connection server that greets with `line` and hangs up; yields its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        sock.settimeout(5)

        def greet() -> None:
            conn, _ = sock.accept()
            with conn:
                conn.sendall(line)

        greeter = threading.Thread(target=greet)
        greeter.start()
        yield sock.getsockname()[1]
        greeter.join()


def test_a_session_refused_at_the_greeting_fails_no_message(
        settings: SmtpImapSettings, provider_for: Callable[..., SmtpImapProvider]) -> None:
    # A 554 greeting (e.g. the bot's IP is blocklisted) is the session's problem, not the message's.
    with _greeting(b"554 5.7.1 Service unavailable; client host blocked\r\n") as port:
        with pytest.raises(TemporaryFailure, match="554"):
            provider_for(replace(settings, smtp_port=port)).send(_email(settings))


@pytest.mark.parametrize("stage, reply, error", [
    ("MAIL", "421 4.7.0 Try again later, closing connection", TemporaryFailure),
    ("DATA", "451 4.3.0 Local error in processing", TemporaryFailure),
    ("DATA", "451 4.7.1 Rate limit exceeded, slow down", RateLimited),
    ("RCPT", "452 4.5.3 Too many recipients this hour", RateLimited),
    ("DATA", "550 5.4.5 Daily user sending limit exceeded", RateLimited),
    ("DATA", "554 5.7.1 Message rejected as spam", PermanentFailure),
])
def test_smtp_answers_map_to_one_typed_error(
        stage: str, reply: str, error: type[ProviderError], settings: SmtpImapSettings,
        starttls_smtp: SmtpServer, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    starttls_smtp.fail_next(stage, reply)
    with pytest.raises(ProviderError) as failed:
        provider_for(settings).send(_email(settings))
    assert type(failed.value) is error
    assert reply.split()[0] in str(failed.value)
    if error is RateLimited:
        assert failed.value.retry_after > 0  # type: ignore[attr-defined]
    assert starttls_smtp.messages_from(settings.address) == []
    assert dovecot.read(settings.username, "Sent") == []


def test_drop_after_data_is_temporary_and_reconciliation_finds_the_send(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, dovecot: Dovecot,
        provider_for: Callable[..., SmtpImapProvider]) -> None:
    email = _email(settings)
    starttls_smtp.drop_next_after_data()
    provider = provider_for(settings)
    with pytest.raises(TemporaryFailure) as failed:
        provider.send(email)
    assert "may have gone out" in str(failed.value)
    assert len(starttls_smtp.messages_from(settings.address)) == 1  # it did go out
    # The engine's next step: look it up instead of resending. A fresh provider, as after a crash.
    assert provider_for(settings).find_sent(email.message_id) == SentMessage(email.message_id, email.message_id, None)
    assert _sent_ids(dovecot, settings.username) == [email.message_id]


def test_changed_password_needs_reconnect_for_send_and_fetch(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, dovecot: Dovecot,
        provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider = provider_for(settings)
    cursor = provider.fetch_changes(None).cursor
    starttls_smtp.set_password(settings.username, "changed-elsewhere")
    dovecot.set_password(settings.username, "changed-elsewhere")
    with pytest.raises(ReconnectNeeded) as on_send:
        provider.send(_email(settings))
    assert "reconnect" in str(on_send.value)
    with pytest.raises(ReconnectNeeded):
        provider.fetch_changes(cursor)
    with pytest.raises(ReconnectNeeded):
        provider.find_sent("<anything@acme.test>")
    assert starttls_smtp.messages_from(settings.address) == []


# -- find_sent -----------------------------------------------------------------------------------

def test_find_sent_finds_exactly_our_message_id(
        settings: SmtpImapSettings, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider = provider_for(settings)
    email = _email(settings)
    provider.send(email)
    assert provider.find_sent(email.message_id) == SentMessage(email.message_id, email.message_id, None)
    assert provider.find_sent(new_message_id(settings.address)) is None
    # An id that only appears in another message's References was not sent.
    never_sent = new_message_id(settings.address)
    other = _email(settings, message_id=new_message_id(settings.address), references=(never_sent,))
    dovecot.deliver(settings.username, other.to_bytes(), folder="Sent")
    assert provider.find_sent(never_sent) is None
    assert provider.find_sent(other.message_id) is not None


def test_find_sent_raises_when_imap_is_unreachable(
        settings: SmtpImapSettings, closed_port: int, provider_for: Callable[..., SmtpImapProvider]) -> None:
    with pytest.raises(TemporaryFailure):
        provider_for(replace(settings, imap_port=closed_port)).find_sent("<x@acme.test>")


# -- fetch_changes -------------------------------------------------------------------------------

def test_fetch_changes_starts_from_now_and_returns_each_message_once(
        settings: SmtpImapSettings, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    dovecot.deliver(settings.username, _incoming("Old news"))
    provider = provider_for(settings)
    start = provider.fetch_changes(None)
    assert start.messages == [] and start.cursor and not start.full_resync
    validity = dovecot.uidvalidity(settings.username)
    uids = [dovecot.deliver(settings.username, _incoming(f"Re: Hello {n}")) for n in (1, 2)]
    changes = provider.fetch_changes(start.cursor)
    assert [m.headers["Subject"] for m in changes.messages] == ["Re: Hello 1", "Re: Hello 2"]
    assert [m.provider_message_id for m in changes.messages] == [f"{validity}:{uid}" for uid in uids]
    assert all(m.full is None and m.received_at.tzinfo is not None for m in changes.messages)
    assert changes.cursor == f"{validity}:{uids[-1]}"
    again = provider.fetch_changes(changes.cursor)  # "N:*" still names the last message: filtered out
    assert again.messages == [] and again.cursor == changes.cursor
    # Headers were peeked: nothing was marked read in the person's INBOX.
    assert all(b"\\Seen" not in flags for flags, _ in dovecot.read(settings.username, "INBOX"))


def test_fetch_changes_after_the_newest_message_was_deleted_returns_nothing_old(
        settings: SmtpImapSettings, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider = provider_for(settings)
    cursor = provider.fetch_changes(None).cursor
    dovecot.deliver(settings.username, _incoming("Re: Hello"))
    seen = provider.fetch_changes(cursor)
    assert len(seen.messages) == 1
    dovecot.delete(settings.username, dovecot.deliver(settings.username, _incoming("Spam")))
    # UIDNEXT moved on, so the provider asks for "N:*", and the server answers with the older message.
    later = provider.fetch_changes(seen.cursor)
    assert later.messages == []


def test_fetch_changes_under_enhanced_returns_the_whole_message(
        settings: SmtpImapSettings, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider = provider_for(settings, enhanced=True)
    cursor = provider.fetch_changes(None).cursor
    dovecot.deliver(settings.username, _incoming("Automatic reply: Hello", body="I am out until Monday."))
    [message] = provider.fetch_changes(cursor).messages
    assert message.full is not None and "out until Monday" in message.full.get_content()  # type: ignore[attr-defined]
    assert message.headers["Subject"] == "Automatic reply: Hello"


def test_basic_fetch_never_carries_the_body(
        settings: SmtpImapSettings, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider = provider_for(settings)
    cursor = provider.fetch_changes(None).cursor
    dovecot.deliver(settings.username, _incoming("Re: Hello", body="SECRET-BODY-TEXT"))
    [message] = provider.fetch_changes(cursor).messages
    assert message.full is None and "SECRET-BODY-TEXT" not in message.headers.as_string()


def test_changed_uidvalidity_is_a_full_resync(
        settings: SmtpImapSettings, dovecot: Dovecot, provider_for: Callable[..., SmtpImapProvider]) -> None:
    provider = provider_for(settings)
    cursor = provider.fetch_changes(None).cursor
    dovecot.deliver(settings.username, _incoming("Re: Hello"))
    seen = provider.fetch_changes(cursor)
    new_validity = dovecot.change_uidvalidity(settings.username)
    resync = provider.fetch_changes(seen.cursor)
    assert resync.full_resync
    assert [m.headers["Subject"] for m in resync.messages] == ["Re: Hello"]
    assert resync.cursor is not None and resync.cursor.startswith(f"{new_validity}:")
    after = provider.fetch_changes(resync.cursor)
    assert after.messages == [] and not after.full_resync


# -- secrets -------------------------------------------------------------------------------------

def test_the_password_never_appears_in_errors_reprs_or_logs(
        settings: SmtpImapSettings, starttls_smtp: SmtpServer, dovecot: Dovecot, closed_port: int,
        certs: tls.TestCertificates, provider_for: Callable[..., SmtpImapProvider],
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    password = settings.password
    wrong = replace(settings, password=password + "-old")

    def echoing_server_refuses() -> object:
        starttls_smtp.fail_next("RCPT", f"550 5.1.1 unknown user (you sent {password})")
        return provider_for(settings).send(_email(settings))

    attempts: list[Callable[[], object]] = [
        lambda: verify_login(replace(settings, smtp_port=closed_port), ca_file=certs.ca_file, timeout=5),
        lambda: verify_login(settings, ca_file=None, timeout=5),
        lambda: verify_login(wrong, ca_file=certs.ca_file, timeout=5),
        lambda: provider_for(replace(settings, imap_port=closed_port)).find_sent("<x@acme.test>"),
        lambda: provider_for(replace(settings, imap_port=closed_port)).send(_email(settings)),  # warns
        echoing_server_refuses,
        lambda: provider_for(wrong).send(_email(settings)),
        lambda: provider_for(wrong).fetch_changes(None),
    ]
    texts = [repr(settings), repr(provider_for(settings))]
    with caplog.at_level(logging.DEBUG):
        for attempt in attempts:
            try:
                attempt()
            except (ProviderError, LoginRefused) as exc:
                texts += [str(exc), repr(exc)]
    captured = capsys.readouterr()
    # Every log record but the stand-in SMTP server's own protocol trace ("mail.log"), which
    # shows the echo above verbatim, as a real server's log would.
    ours = [caplog.handler.format(r) for r in caplog.records if not r.name.startswith("mail.")]
    assert any(r.name == "providers.smtp_imap" for r in caplog.records)  # the failed Sent copy warned
    texts += [*ours, captured.out, captured.err]
    assert len(texts) == 2 + 2 * (len(attempts) - 1) + len(ours) + 2  # every attempt but one failed
    for text in texts:
        assert password not in text
