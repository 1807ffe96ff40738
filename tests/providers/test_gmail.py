"""The Gmail provider end to end: the real google-auth / googleapiclient / httplib2 / requests stack
talking https to the Google stand-in on 127.0.0.1 (tests/standins/google.py)."""
from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from providers.base import (
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    RateLimited,
    ReconnectNeeded,
    TemporaryFailure,
    new_message_id,
)
from providers.connect import ClientSecrets, ConnectFailed, Connected
from providers.gmail import GMAIL_METADATA, GMAIL_READONLY, GMAIL_SEND, GOOGLE_SCOPES, GmailConnector, GmailProvider
from tests.standins.google import GoogleStandIn
from tests.standins.tls import TestCertificates

REDIRECT = "https://bot.example/oauth/google/callback"
SECRETS = ClientSecrets(client_id="1234-bot.apps.googleusercontent.com", client_secret="GOCSPX-very-secret-value")
CANDIDATE = "ana@work.example"


@pytest.fixture(scope="module")
def google(certs: TestCertificates) -> Iterator[GoogleStandIn]:
    with GoogleStandIn(certs, client_id=SECRETS.client_id, client_secret=SECRETS.client_secret,
                       redirect_uris=(REDIRECT,)) as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def _no_leftover_faults(google: GoogleStandIn) -> Iterator[None]:
    yield
    google.clear_faults()
    google.history_page_size = 100


@pytest.fixture(scope="module")
def connector(google: GoogleStandIn) -> GmailConnector:
    return GmailConnector(SECRETS, google.endpoints)


class SignIn:
    """What one connect flow handled, so tests can look for these values where they must not be."""

    def __init__(self) -> None:
        self.url = ""
        self.flow: dict[str, Any] = {}
        self.callback: dict[str, str] = {}


def sign_in(google: GoogleStandIn, connector: GmailConnector, address: str, *, enhanced: bool = False,
            deny: bool = False, grant: list[str] | None = None, seen: SignIn | None = None) -> Connected:
    """begin → the browser's visit to Google (a GET without following the redirect) → finish."""
    seen = seen or SignIn()
    seen.url, seen.flow = connector.begin(state="st-" + address, redirect_uri=REDIRECT, enhanced=enhanced)
    google.sign_in_as(address, deny=deny, grant=grant)
    answer = requests.get(seen.url, allow_redirects=False, verify=google.certs.ca_file, timeout=5)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    seen.callback = {k: v[-1] for k, v in parse_qs(location.query).items()}
    return connector.finish(flow=seen.flow, query=seen.callback, redirect_uri=REDIRECT)


def mailbox(google: GoogleStandIn, connector: GmailConnector, address: str, *, enhanced: bool = False
            ) -> GmailProvider:
    connected = sign_in(google, connector, address, enhanced=enhanced)
    return GmailProvider(connected.credentials, secrets=SECRETS, endpoints=google.endpoints, enhanced=enhanced)


def email_from(sender: str, **changes: Any) -> OutgoingEmail:
    email = OutgoingEmail(from_address=sender, to_address=CANDIDATE, subject="Staff engineer role at Acme",
                          body="Hi Ana,\nwould you like to talk?\n", message_id=new_message_id(sender))
    return replace(email, **changes)


def reply_to(original: EmailMessage | Any, body: str = "Yes, let's talk on Friday.", **headers: str) -> bytes:
    reply = EmailMessage()
    reply["From"] = CANDIDATE
    reply["To"] = str(original["From"])
    reply["Subject"] = "Re: " + str(original["Subject"])
    reply["Date"] = "Mon, 23 Nov 2026 14:00:00 +0000"
    reply["Message-ID"] = new_message_id(CANDIDATE)
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply["References"] = str(original["Message-ID"])
    for name, value in headers.items():
        del reply[name.replace("_", "-")]
        reply[name.replace("_", "-")] = value
    reply.set_content(body)
    return bytes(reply)


# -- connecting ----------------------------------------------------------------------------------

def test_basic_connect_asks_for_send_and_metadata_with_pkce_and_offline_access(
        google: GoogleStandIn, connector: GmailConnector) -> None:
    seen = SignIn()
    connected = sign_in(google, connector, "Ann@Agency.example", seen=seen)

    asked = {k: v[-1] for k, v in parse_qs(urlsplit(seen.url).query).items()}
    assert asked["scope"].split() == GOOGLE_SCOPES["basic"] == [GMAIL_SEND, GMAIL_METADATA]
    assert (asked["access_type"], asked["prompt"], asked["code_challenge_method"]) == ("offline", "consent", "S256")
    assert asked["state"] == "st-Ann@Agency.example" and "include_granted_scopes" not in asked
    assert seen.flow["scopes"] == GOOGLE_SCOPES["basic"] and len(seen.flow["code_verifier"]) >= 43
    assert connected.address == "ann@agency.example" and connected.enhanced is False
    saved = json.loads(connected.credentials)
    assert set(saved) == {"token", "refresh_token", "expiry", "scopes"}
    assert saved["refresh_token"] in google.refresh_tokens("ann@agency.example")
    assert set(saved["scopes"]) == {GMAIL_SEND, GMAIL_METADATA}
    assert SECRETS.client_secret not in connected.credentials.decode()


def test_enhanced_connect_asks_for_readonly_instead_of_metadata(google: GoogleStandIn,
                                                                connector: GmailConnector) -> None:
    seen = SignIn()
    connected = sign_in(google, connector, "enhanced-connect@agency.example", enhanced=True, seen=seen)
    assert parse_qs(urlsplit(seen.url).query)["scope"] == [f"{GMAIL_SEND} {GMAIL_READONLY}"]
    assert connected.enhanced is True
    assert set(json.loads(connected.credentials)["scopes"]) == {GMAIL_SEND, GMAIL_READONLY}


def test_cancelling_on_googles_screen_says_so(google: GoogleStandIn, connector: GmailConnector) -> None:
    with pytest.raises(ConnectFailed, match="You cancelled the Google sign-in"):
        sign_in(google, connector, "cancel@agency.example", deny=True)
    assert google.refresh_tokens("cancel@agency.example") == []


@pytest.mark.parametrize("granted", [[GMAIL_SEND], [GMAIL_METADATA]], ids=["send-only", "metadata-only"])
def test_a_grant_with_unticked_boxes_is_refused(google: GoogleStandIn, connector: GmailConnector,
                                                granted: list[str]) -> None:
    with pytest.raises(ConnectFailed, match="tick every box on Google's consent screen"):
        sign_in(google, connector, "partial@agency.example", grant=granted)


def test_other_callback_errors_name_only_the_error_code(connector: GmailConnector) -> None:
    flow = {"code_verifier": "v" * 64, "scopes": GOOGLE_SCOPES["basic"], "state": "s1"}
    with pytest.raises(ConnectFailed, match=r"\(admin_policy_enforced\)") as failed:
        connector.finish(flow=flow, query={"error": "admin_policy_enforced", "state": "s1"}, redirect_uri=REDIRECT)
    assert "<" not in str(failed.value)
    with pytest.raises(ConnectFailed, match="unknown error"):  # not a code: not repeated to the person
        connector.finish(flow=flow, query={"error": "<script>alert(1)</script>", "state": "s1"}, redirect_uri=REDIRECT)


def test_a_code_works_once_and_only_with_its_own_verifier(google: GoogleStandIn, connector: GmailConnector) -> None:
    seen = SignIn()
    sign_in(google, connector, "once@agency.example", seen=seen)
    with pytest.raises(ConnectFailed, match=r"\(invalid_grant\)"):  # the browser's back button, say
        connector.finish(flow=seen.flow, query=seen.callback, redirect_uri=REDIRECT)

    url, flow = connector.begin(state="s2", redirect_uri=REDIRECT, enhanced=False)
    google.sign_in_as("once@agency.example")
    query = parse_qs(urlsplit(requests.get(url, allow_redirects=False, verify=google.certs.ca_file,
                                           timeout=5).headers["Location"]).query)
    with pytest.raises(ConnectFailed, match=r"\(invalid_grant\)"):
        connector.finish(flow={**flow, "code_verifier": "x" * 64}, query={k: v[-1] for k, v in query.items()},
                         redirect_uri=REDIRECT)


# -- sending -------------------------------------------------------------------------------------

def test_a_follow_up_goes_into_the_same_thread(google: GoogleStandIn, connector: GmailConnector) -> None:
    box = "thread@agency.example"
    gmail = mailbox(google, connector, box)
    first = email_from(box)
    sent = gmail.send(first)
    follow_up = email_from(box, subject="Re: " + first.subject, in_reply_to=first.message_id,
                           references=(first.message_id,), thread_id=sent.thread_id)
    sent_again = gmail.send(follow_up)

    assert sent.message_id == first.message_id and sent.provider_message_id
    assert sent_again.thread_id == sent.thread_id and sent_again.provider_message_id != sent.provider_message_id
    original, second = google.sent(box)
    assert original["Message-ID"] == first.message_id  # Gmail keeps our pre-generated Message-ID
    assert second["In-Reply-To"] == first.message_id and second["References"] == first.message_id
    assert gmail.find_sent(follow_up.message_id) == sent_again


def test_a_send_that_fails_with_500_was_attempted_exactly_once(google: GoogleStandIn,
                                                               connector: GmailConnector) -> None:
    box = "once-500@agency.example"
    gmail = mailbox(google, connector, box)
    google.fail_next("send", 500, reason="backendError", message="Backend Error")
    before = google.requests["send"]
    with pytest.raises(TemporaryFailure, match="500"):
        gmail.send(email_from(box))
    assert google.requests["send"] - before == 1
    assert google.sent(box) == []


def test_a_lost_answer_is_not_resent_and_find_sent_then_reconciles(google: GoogleStandIn,
                                                                   connector: GmailConnector) -> None:
    """httplib2 would resend a request whose connection closed before the answer: a double send."""
    box = "lost-answer@agency.example"
    gmail = mailbox(google, connector, box)
    accepted, refused = email_from(box), email_from(box)
    before = google.requests["send"]
    google.drop_next("send", accept=True)
    with pytest.raises(TemporaryFailure):
        gmail.send(accepted)
    google.drop_next("send", accept=False)
    with pytest.raises(TemporaryFailure):
        gmail.send(refused)

    assert google.requests["send"] - before == 2
    assert [m["Message-ID"] for m in google.sent(box)] == [accepted.message_id]
    found = gmail.find_sent(accepted.message_id)
    assert found is not None and found.provider_message_id
    assert gmail.find_sent(refused.message_id) is None


@pytest.mark.parametrize(("status", "headers", "reason", "retry_after"), [
    (429, {"Retry-After": "30"}, "rateLimitExceeded", 30.0),
    (403, {}, "userRateLimitExceeded", 60.0),
    (403, {}, "rateLimitExceeded", 60.0),
])
def test_rate_limits_say_when_to_retry(google: GoogleStandIn, connector: GmailConnector, status: int,
                                       headers: dict[str, str], reason: str, retry_after: float) -> None:
    box = f"limited-{status}-{reason}@agency.example"
    gmail = mailbox(google, connector, box)
    google.fail_next("send", status, headers=headers, reason=reason, message="User-rate limit exceeded")
    before = google.requests["send"]
    with pytest.raises(RateLimited) as limited:
        gmail.send(email_from(box))
    assert limited.value.retry_after == retry_after
    assert google.requests["send"] - before == 1  # googleapiclient's own retry of 429/403-rate stays off


def test_an_invalid_recipient_is_a_permanent_failure_with_googles_message(google: GoogleStandIn,
                                                                          connector: GmailConnector) -> None:
    box = "bad-to@agency.example"
    gmail = mailbox(google, connector, box)
    with pytest.raises(PermanentFailure, match="Invalid To header"):
        gmail.send(email_from(box, to_address="not an address"))
    with pytest.raises(PermanentFailure, match="Invalid recipient address"):
        gmail.send(email_from(box, to_address="nobody@nowhere.invalid"))
    assert google.sent(box) == []


def test_a_missing_permission_asks_for_a_reconnect(google: GoogleStandIn, connector: GmailConnector) -> None:
    box = "scope-gone@agency.example"
    gmail = mailbox(google, connector, box)
    google.fail_next("send", 403, reason="insufficientPermissions",
                     message="Request had insufficient authentication scopes.")
    with pytest.raises(ReconnectNeeded, match="insufficientPermissions"):
        gmail.send(email_from(box))


def test_a_revoked_grant_asks_for_a_reconnect_on_send_and_on_fetch(google: GoogleStandIn,
                                                                   connector: GmailConnector) -> None:
    box = "revoked@agency.example"
    gmail = mailbox(google, connector, box)
    cursor = gmail.fetch_changes(None).cursor
    google.revoke(box)
    expected = "Google refused the saved sign-in (invalid_grant): reconnect the mailbox"
    with pytest.raises(ReconnectNeeded) as on_send:
        gmail.send(email_from(box))
    with pytest.raises(ReconnectNeeded) as on_fetch:
        gmail.fetch_changes(cursor)
    assert str(on_send.value) == str(on_fetch.value) == expected
    assert on_send.value.__suppress_context__  # google-auth's exception does not travel along
    assert google.sent(box) == []


def test_an_expired_access_token_is_refreshed_and_the_mail_goes_once(google: GoogleStandIn,
                                                                    connector: GmailConnector) -> None:
    box = "refresh@agency.example"
    gmail = mailbox(google, connector, box)
    gmail.address()
    assert gmail.refresh_credentials() is None
    old_token = json.loads(gmail.current_credentials())["token"]
    google.expire_access_tokens(box)
    tokens_before = google.requests["token"]

    sent = gmail.send(email_from(box))

    assert [m["Message-ID"] for m in google.sent(box)] == [sent.message_id]
    assert google.requests["token"] - tokens_before == 1
    renewed = gmail.refresh_credentials()
    assert renewed is not None
    saved = json.loads(renewed)
    assert saved["token"] != old_token and saved["token"] in google.access_tokens(box)
    assert saved["refresh_token"] in google.refresh_tokens(box)
    assert gmail.refresh_credentials() is None  # handed over once
    again = GmailProvider(renewed, secrets=SECRETS, endpoints=google.endpoints, enhanced=False)
    assert again.address() == box and again.refresh_credentials() is None


def test_an_unreachable_gmail_is_temporary_even_for_a_lookup(google: GoogleStandIn, connector: GmailConnector) -> None:
    connected = sign_in(google, connector, "unreachable@agency.example")
    with socket.socket() as placeholder:  # a port nobody listens on once it is closed
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    nowhere = replace(google.endpoints, gmail_api=f"https://127.0.0.1:{port}/")
    gmail = GmailProvider(connected.credentials, secrets=SECRETS, endpoints=nowhere, enhanced=False)
    with pytest.raises(TemporaryFailure, match="could not reach Google"):
        gmail.find_sent("<x@agency.example>")
    with pytest.raises(TemporaryFailure, match="could not reach Google"):
        gmail.send(email_from("unreachable@agency.example"))


# -- find_sent -----------------------------------------------------------------------------------

def test_find_sent_under_basic_reads_headers_and_never_searches(google: GoogleStandIn,
                                                                connector: GmailConnector) -> None:
    box = "find-basic@agency.example"
    gmail = mailbox(google, connector, box)
    wanted = email_from(box)
    sent = gmail.send(wanted)
    for _ in range(3):  # newer mail on top of it
        gmail.send(email_from(box))
    calls = len(google.queries)

    assert gmail.find_sent(wanted.message_id) == sent
    assert gmail.find_sent("<never-sent@agency.example>") is None
    lookups = [query for kind, query in google.queries[calls:]]
    assert lookups and all("q" not in query for query in lookups)  # gmail.metadata would answer 403
    assert all(query.get("format") == ["metadata"] for kind, query in google.queries[calls:] if kind == "get")

    google.fail_next("list", 500)
    with pytest.raises(TemporaryFailure):
        gmail.find_sent(wanted.message_id)
    google.fail_next("get", 503)
    with pytest.raises(TemporaryFailure):
        gmail.find_sent("<never-sent@agency.example>")
    google.fail_next("get", 429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited):
        gmail.find_sent(wanted.message_id)


def test_find_sent_under_enhanced_searches_by_message_id(google: GoogleStandIn, connector: GmailConnector) -> None:
    box = "find-enhanced@agency.example"
    gmail = mailbox(google, connector, box, enhanced=True)
    wanted = email_from(box)
    sent = gmail.send(wanted)
    gmail.send(email_from(box))
    calls = len(google.queries)

    assert gmail.find_sent(wanted.message_id) == sent
    assert gmail.find_sent("<never-sent@agency.example>") is None
    searches = [query["q"] for kind, query in google.queries[calls:] if kind == "list"]
    assert searches == [[f"rfc822msgid:{wanted.message_id.strip('<>')}"], ["rfc822msgid:never-sent@agency.example"]]
    assert all(kind == "list" for kind, _ in google.queries[calls:])  # one call each, no per-message reads

    google.fail_next("list", 500)
    with pytest.raises(TemporaryFailure):
        gmail.find_sent(wanted.message_id)


# -- fetch_changes -------------------------------------------------------------------------------

def test_basic_fetch_sees_replies_and_bounces_as_headers_only(google: GoogleStandIn,
                                                              connector: GmailConnector) -> None:
    box = "inbox-basic@agency.example"
    gmail = mailbox(google, connector, box)
    sent = gmail.send(email_from(box))
    google.deliver(box, b"From: old@example.com\r\nSubject: before we started\r\n\r\nold news\r\n")
    start = gmail.fetch_changes(None)
    assert start.messages == [] and start.cursor

    [original] = google.sent(box)
    google.deliver(box, reply_to(original, body="SECRET-BODY-TEXT reply"))
    google.deliver(box, reply_to(original, body="Returned mail body", From="mailer-daemon@googlemail.com",
                                 X_Failed_Recipients=CANDIDATE, Auto_Submitted="auto-replied"))
    changes = gmail.fetch_changes(start.cursor)

    reply, bounce = changes.messages
    assert changes.full_resync is False and changes.cursor != start.cursor
    assert {reply.thread_id, bounce.thread_id} == {sent.thread_id}
    assert reply.full is None and bounce.full is None
    assert reply.headers["In-Reply-To"] == sent.message_id
    assert reply.headers["Subject"] == "Re: Staff engineer role at Acme"
    assert bounce.headers["X-Failed-Recipients"] == CANDIDATE and bounce.headers["Auto-Submitted"] == "auto-replied"
    assert reply.received_at.tzinfo is not None
    assert "SECRET-BODY-TEXT" not in str(reply.headers) and not reply.headers.get_payload()
    assert gmail.fetch_changes(changes.cursor).messages == []


def test_enhanced_fetch_gives_the_whole_message(google: GoogleStandIn, connector: GmailConnector) -> None:
    box = "inbox-enhanced@agency.example"
    gmail = mailbox(google, connector, box, enhanced=True)
    sent = gmail.send(email_from(box))
    cursor = gmail.fetch_changes(None).cursor
    [original] = google.sent(box)
    google.deliver(box, reply_to(original, body="I am out of office until Monday."))

    [message] = gmail.fetch_changes(cursor).messages
    assert message.full is not None and message.thread_id == sent.thread_id
    assert "out of office until Monday" in message.full.get_content()
    assert message.headers["Message-ID"] == message.full["Message-ID"]


def test_fetch_follows_every_history_page(google: GoogleStandIn, connector: GmailConnector) -> None:
    box = "pages@agency.example"
    gmail = mailbox(google, connector, box)
    cursor = gmail.fetch_changes(None).cursor
    gmail.send(email_from(box))  # in Sent, not INBOX: not a change to report
    ids = [google.deliver(box, f"From: p{n}@example.com\r\nSubject: n{n}\r\n\r\nx\r\n".encode()) for n in range(3)]
    google.history_page_size = 1
    changes = gmail.fetch_changes(cursor)
    assert [m.provider_message_id for m in changes.messages] == ids
    assert [m.headers["Subject"] for m in changes.messages] == ["n0", "n1", "n2"]


def test_a_stale_history_id_falls_back_to_a_full_resync(google: GoogleStandIn, connector: GmailConnector) -> None:
    box = "stale@agency.example"
    gmail = mailbox(google, connector, box)
    cursor = gmail.fetch_changes(None).cursor
    first = google.deliver(box, b"From: a@example.com\r\nSubject: one\r\n\r\nx\r\n")
    google.expire_history(box)
    second = google.deliver(box, b"From: b@example.com\r\nSubject: two\r\n\r\nx\r\n")

    changes = gmail.fetch_changes(cursor)
    assert changes.full_resync is True
    assert [m.provider_message_id for m in changes.messages] == [first, second]
    assert changes.cursor == str(google.mailbox(box).history_id)
    assert gmail.fetch_changes(changes.cursor).messages == []


def test_a_failing_history_call_raises_and_keeps_the_cursor_usable(google: GoogleStandIn,
                                                                  connector: GmailConnector) -> None:
    box = "history-500@agency.example"
    gmail = mailbox(google, connector, box)
    cursor = gmail.fetch_changes(None).cursor
    google.deliver(box, b"From: a@example.com\r\nSubject: kept\r\n\r\nx\r\n")
    google.fail_next("history", 503)
    with pytest.raises(TemporaryFailure):
        gmail.fetch_changes(cursor)
    google.fail_next("get", 500)
    with pytest.raises(TemporaryFailure):
        gmail.fetch_changes(cursor)
    assert [m.headers["Subject"] for m in gmail.fetch_changes(cursor).messages] == ["kept"]


# -- secrets -------------------------------------------------------------------------------------

def test_no_secret_reaches_an_error_message_or_a_log(google: GoogleStandIn, connector: GmailConnector,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capsys: pytest.CaptureFixture[str],
                                                     request: pytest.FixtureRequest) -> None:
    caplog.set_level(logging.DEBUG)
    # google-auth may stop its "google" loggers propagating to the root; listen there too.
    google_loggers = logging.getLogger("google")
    google_loggers.addHandler(caplog.handler)
    request.addfinalizer(lambda: google_loggers.removeHandler(caplog.handler))
    box = "secrets@agency.example"
    seen = SignIn()
    connected = sign_in(google, connector, box, seen=seen)
    secret_values = {SECRETS.client_secret, seen.callback["code"], seen.flow["code_verifier"],
                     *google.access_tokens(box), *google.refresh_tokens(box)}
    gmail = GmailProvider(connected.credentials, secrets=SECRETS, endpoints=google.endpoints, enhanced=False)
    errors: list[BaseException] = []

    def failing(call: Any) -> None:
        try:
            call()
        except ProviderError as error:
            errors.append(error)
        else:
            raise AssertionError("expected a ProviderError")

    failing(lambda: connector.finish(flow=seen.flow, query=seen.callback, redirect_uri=REDIRECT))  # code reused
    bad_client = GmailConnector(ClientSecrets(SECRETS.client_id, "wrong-" + SECRETS.client_secret), google.endpoints)
    failing(lambda: sign_in(google, bad_client, box))
    for status, reason in [(400, "invalidArgument"), (500, "backendError"), (403, "insufficientPermissions")]:
        google.fail_next("send", status, reason=reason)
        failing(lambda: gmail.send(email_from(box)))
    google.expire_access_tokens(box)
    gmail.send(email_from(box))  # refreshes
    secret_values |= set(google.access_tokens(box))
    google.revoke(box)
    failing(lambda: gmail.send(email_from(box)))
    failing(lambda: gmail.find_sent("<x@agency.example>"))

    captured = capsys.readouterr()
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [caplog.text, captured.out, captured.err]
    texts += [repr(connected), repr(gmail), repr(SECRETS), repr(seen.flow.get("scopes"))]
    texts += [str(record.__dict__) for record in caplog.records]
    assert len(errors) == 7 and caplog.records  # the libraries did log at DEBUG
    for secret in secret_values:
        assert all(secret not in text for text in texts), "a secret leaked"
