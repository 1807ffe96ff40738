"""The Microsoft provider end to end: the real MSAL and requests talk https to the local stand-in."""
from __future__ import annotations

import json
import logging
import socket
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
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
    SentLookup,
    SentMessage,
    TemporaryFailure,
    new_message_id,
)
from providers.connect import AdminApprovalNeeded, ClientSecrets, ConnectFailed, Connected, Endpoints
from providers import graph, graph_sent
from providers.graph import GraphProvider, MicrosoftConnector
from tests.standins.microsoft import MicrosoftStandIn
from tests.standins import tls

REDIRECT_URI = "https://bot.example/oauth/microsoft/callback"
# MSAL recommends response_mode=form_post on every auth-code flow; the bot's callback takes a query.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")


@pytest.fixture(scope="module")
def standin(certs: tls.TestCertificates) -> Iterator[MicrosoftStandIn]:
    with MicrosoftStandIn(certs) as server:
        yield server


@pytest.fixture(scope="module")
def client(standin: MicrosoftStandIn) -> ClientSecrets:
    return ClientSecrets(standin.client_id, standin.client_secret)


@dataclass
class SignIn:
    """What a test can see of one sign-in, including the secrets that must never leak."""

    auth_uri: str
    flow: dict[str, Any]
    callback: dict[str, str]


def _new_address(prefix: str = "rita") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}@contoso.example"


def _browser(standin: MicrosoftStandIn, url: str) -> dict[str, str]:
    """Plays the browser: open the sign-in page, return the query it redirects back with."""
    answer = requests.get(url, allow_redirects=False, verify=standin.certificates.ca_file, timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def _sign_in(standin: MicrosoftStandIn, client: ClientSecrets, address: str, *, enhanced: bool = False,
             tenant: str = "organizations") -> tuple[MicrosoftConnector, SignIn]:
    connector = MicrosoftConnector(client, standin.endpoints(tenant))
    standin.sign_in_as(address)
    auth_uri, flow = connector.begin(state=uuid.uuid4().hex, redirect_uri=REDIRECT_URI, enhanced=enhanced)
    return connector, SignIn(auth_uri, flow, _browser(standin, auth_uri))


def _connect(standin: MicrosoftStandIn, client: ClientSecrets, address: str, *, enhanced: bool = False,
             user_tenant: str = "contoso", mail: bool = True) -> Connected:
    standin.add_user(address, tenant=user_tenant, mail=mail)
    connector, sign_in = _sign_in(standin, client, address, enhanced=enhanced)
    return connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)


def _provider(standin: MicrosoftStandIn, client: ClientSecrets, credentials: bytes, *, enhanced: bool = False,
              endpoints: Endpoints | None = None, timeout: float = 5.0, **options: Any) -> GraphProvider:
    options.setdefault("sleep", _never_sleep)
    return GraphProvider(credentials, secrets=client, endpoints=endpoints or standin.endpoints(),
                         enhanced=enhanced, timeout=timeout, **options)


def _never_sleep(seconds: float) -> None:
    raise AssertionError(f"the provider slept {seconds}s in a test that gives it no reason to wait")


def _email(sender: str, **changes: Any) -> OutgoingEmail:
    email = OutgoingEmail(from_address=sender, to_address="ana@work.example", subject="Backend role at Acme",
                          body="Hi Ana,\nwould you like to talk?", message_id=new_message_id(sender))
    return replace(email, **changes)


def _incoming(to: str, subject: str, *, in_reply_to: str | None = None, sender: str = "ana@work.example") -> bytes:
    message = EmailMessage()
    message["From"] = f"Ana Lima <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@work.example>"
    message["Date"] = "Mon, 23 Nov 2026 14:00:00 +0000"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(f"Body of {subject}: please call me.")
    return message.as_bytes()


@pytest.fixture
def mailbox(standin: MicrosoftStandIn, client: ClientSecrets) -> tuple[str, Connected]:
    address = _new_address()
    return address, _connect(standin, client, address)


# --- connecting ---------------------------------------------------------------------------------

def test_connect_basic_asks_for_basic_scopes_with_pkce_and_keeps_a_cache(
        standin: MicrosoftStandIn, client: ClientSecrets) -> None:
    address = _new_address()
    standin.add_user(address)
    connector, sign_in = _sign_in(standin, client, address)
    asked = parse_qs(urlsplit(sign_in.auth_uri).query)
    assert set(asked["scope"][0].split()) >= {"Mail.Send", "Mail.ReadBasic", "User.Read", "offline_access"}
    assert "Mail.Read" not in asked["scope"][0].split()
    assert asked["code_challenge_method"] == ["S256"]
    assert sign_in.flow["code_verifier"] not in sign_in.auth_uri  # the verifier stays server-side

    connected = connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)

    assert connected.address == address and connected.enhanced is False
    saved = json.loads(connected.credentials)
    assert set(saved) == {"cache", "home_account_id", "username"}
    assert "RefreshToken" in json.loads(saved["cache"])
    assert "credentials" not in repr(connected)
    assert _provider(standin, client, connected.credentials).address() == address


def test_connect_enhanced_reads_the_granted_scope_and_falls_back_to_the_principal_name(
        standin: MicrosoftStandIn, client: ClientSecrets) -> None:
    address = _new_address("Rita.UPN").replace("contoso", "Contoso")
    connected = _connect(standin, client, address, enhanced=True, mail=False)
    assert connected.enhanced is True
    assert connected.address == address.lower()  # /me had no mail: the userPrincipalName, lower-cased


@pytest.mark.parametrize("where, code", [("authorize", "AADSTS65001"), ("token", "AADSTS90094")])
def test_admin_approval_needed_gives_a_working_admin_consent_link(
        standin: MicrosoftStandIn, client: ClientSecrets, where: str, code: str) -> None:
    tenant = f"strict-{where}"
    address = _new_address()
    standin.add_user(address, tenant=tenant)
    standin.require_admin_consent(tenant, at=where)
    connector, sign_in = _sign_in(standin, client, address)
    with pytest.raises(AdminApprovalNeeded) as refused:
        connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)

    message = str(refused.value)
    assert "IT admin must approve" in message and "Mail.Send" in message and code in message
    link = urlsplit(refused.value.admin_consent_url)
    assert f"{link.scheme}://{link.netloc}" == standin.base_url
    assert link.path == "/organizations/v2.0/adminconsent"
    params = parse_qs(link.query)
    assert params["client_id"] == [client.client_id] and params["redirect_uri"] == [REDIRECT_URI]
    assert "https://graph.microsoft.com/Mail.ReadBasic" in params["scope"][0].split()

    admin = f"admin@{tenant}.example"
    standin.add_user(admin, tenant=tenant)
    standin.sign_in_as(admin)
    assert _browser(standin, refused.value.admin_consent_url) == {"admin_consent": "True", "tenant": tenant}

    connector, sign_in = _sign_in(standin, client, address)  # the same person, once approved
    assert connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI).address == address


def test_a_cancelled_sign_in_says_so(standin: MicrosoftStandIn, client: ClientSecrets) -> None:
    address = _new_address()
    standin.add_user(address)
    standin.deny_next_sign_in()
    connector, sign_in = _sign_in(standin, client, address)
    assert sign_in.callback["error"] == "access_denied"
    with pytest.raises(ConnectFailed) as refused:
        connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)
    assert not isinstance(refused.value, AdminApprovalNeeded)
    assert str(refused.value).startswith("You cancelled the Microsoft sign-in")


def test_a_replayed_callback_fails_by_code_only(standin: MicrosoftStandIn, client: ClientSecrets) -> None:
    address = _new_address()
    standin.add_user(address)
    connector, sign_in = _sign_in(standin, client, address)
    connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)
    with pytest.raises(ConnectFailed, match=r"\(AADSTS54005\)") as refused:
        connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)
    assert "already redeemed" not in str(refused.value)  # the server's own words are not echoed
    with pytest.raises(ConnectFailed, match="expired or was already used"):
        connector.finish(flow=sign_in.flow, query={**sign_in.callback, "state": "forged"}, redirect_uri=REDIRECT_URI)


# --- sending ------------------------------------------------------------------------------------

def test_send_uploads_our_mime_once_and_find_sent_finds_it(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    email = _email(address, message_id=f"<o'brien.{uuid.uuid4().hex}+x@contoso.example>")  # a quote: OData-escaped
    sends, lookups = standin.requests["sendMail"], standin.requests["messages"]

    sent = provider.send(email)

    [copy] = standin.sent(address)
    assert copy.internet_message_id == email.message_id and copy.raw == email.to_bytes()
    assert (sent.message_id, sent.provider_message_id, sent.thread_id) == (email.message_id, copy.id,
                                                                          copy.conversation_id)
    assert standin.requests["sendMail"] == sends + 1
    assert standin.requests["messages"] == lookups + 1  # the copy was there at once: found by Message-ID
    found = provider.find_sent(email.message_id)
    assert found is not None
    assert (found.message_id, found.provider_message_id, found.thread_id) == (email.message_id, copy.id,
                                                                            copy.conversation_id)
    assert provider.find_sent(new_message_id(address)) is None


def test_a_500_on_send_is_temporary_and_never_retried(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    standin.fail_next("sendMail", 500)
    before = standin.requests["sendMail"]
    with pytest.raises(TemporaryFailure, match="500"):
        provider.send(_email(address))
    assert standin.requests["sendMail"] == before + 1
    assert standin.sent(address) == []


@pytest.mark.parametrize("status, headers, retry_after", [
    (429, {"Retry-After": "30"}, 30.0),
    (429, {}, 60.0),
    (503, {"Retry-After": "7"}, 7.0),
])
def test_throttling_is_rate_limited_with_the_servers_delay(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected],
        status: int, headers: dict[str, str], retry_after: float) -> None:
    address, connected = mailbox
    standin.fail_next("sendMail", status, headers)
    before = standin.requests["sendMail"]
    with pytest.raises(RateLimited) as limited:
        _provider(standin, client, connected.credentials).send(_email(address))
    assert limited.value.retry_after == retry_after
    assert standin.requests["sendMail"] == before + 1


@pytest.mark.parametrize("status, code, error", [
    (400, "ErrorInvalidRecipients", PermanentFailure),
    (400, "ErrorMessageSubmissionBlocked", PermanentFailure),
    (413, "ErrorMessageSizeExceeded", PermanentFailure),
    (403, "ErrorAccessDenied", PermanentFailure),  # a refusal reconnecting would not change
    (503, "ServiceUnavailable", TemporaryFailure),
])
def test_send_errors_map_to_one_typed_error(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected],
        status: int, code: str, error: type[ProviderError]) -> None:
    address, connected = mailbox
    standin.fail_next("sendMail", status, code=code, message="Recipient ana@work.example is not valid")
    with pytest.raises(ProviderError) as failed:
        _provider(standin, client, connected.credentials).send(_email(address))
    assert type(failed.value) is error
    assert code in str(failed.value)


def test_an_access_token_expired_server_side_is_refreshed_and_the_mail_goes_once(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    assert provider.refresh_credentials() is None  # nothing changed yet
    standin.expire_access_tokens(address)
    sends, tokens = standin.requests["sendMail"], standin.requests["token"]

    provider.send(_email(address))

    assert standin.requests["sendMail"] == sends + 2  # refused with 401, then accepted
    assert standin.requests["token"] == tokens + 1
    assert len(standin.sent(address)) == 1
    renewed = provider.refresh_credentials()
    assert renewed is not None and renewed != connected.credentials
    assert provider.refresh_credentials() is None  # saved: no change since
    _provider(standin, client, renewed).send(_email(address))  # the saved cache holds the new token
    assert standin.requests["token"] == tokens + 1 and len(standin.sent(address)) == 2


@pytest.mark.parametrize("code", ["AADSTS50173", "AADSTS700082"])
def test_a_dead_refresh_token_needs_a_reconnect(
        standin: MicrosoftStandIn, client: ClientSecrets, code: str) -> None:
    address = _new_address()
    connected = _connect(standin, client, address)
    standin.revoke(address, code)
    standin.expire_access_tokens(address)
    sends = standin.requests["sendMail"]
    with pytest.raises(ReconnectNeeded, match=f"refused the saved sign-in \\({code}\\): reconnect the mailbox"):
        _provider(standin, client, connected.credentials).send(_email(address))
    assert standin.requests["sendMail"] == sends + 1 and standin.sent(address) == []
    with pytest.raises(ReconnectNeeded, match=code):
        _provider(standin, client, connected.credentials).fetch_changes(None)


def test_a_fresh_token_refused_again_needs_a_reconnect(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    standin.expire_access_tokens(address)
    standin.fail_next("sendMail", 401, code="InvalidAuthenticationToken")  # the retry with a new token
    with pytest.raises(ReconnectNeeded, match="401"):
        _provider(standin, client, connected.credentials).send(_email(address))
    assert standin.sent(address) == []


def test_the_token_endpoint_failing_is_temporary(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    standin.expire_access_tokens(address)
    standin.fail_next("token", 500)
    with pytest.raises(TemporaryFailure, match="sign-in"):
        _provider(standin, client, connected.credentials).send(_email(address))
    assert standin.sent(address) == []


def test_an_enhanced_provider_on_a_basic_grant_needs_a_reconnect(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    _, connected = mailbox
    with pytest.raises(ReconnectNeeded, match="AADSTS65001"):
        _provider(standin, client, connected.credentials, enhanced=True).fetch_changes(None)


def test_unreadable_credentials_need_a_reconnect(standin: MicrosoftStandIn, client: ClientSecrets) -> None:
    with pytest.raises(ReconnectNeeded):
        _provider(standin, client, b"not json")


# --- finding a sent message ---------------------------------------------------------------------

def test_find_sent_raises_when_the_lookup_fails(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials, timeout=0.5)
    standin.fail_next("messages", 500)
    with pytest.raises(TemporaryFailure):
        provider.find_sent(new_message_id(address))
    standin.fail_next("messages", 429, {"Retry-After": "12"})
    with pytest.raises(RateLimited):
        provider.find_sent(new_message_id(address))
    standin.fail_next("messages", 200, stall=3.0)  # answers after the client gave up
    with pytest.raises(TemporaryFailure, match="Timeout"):
        provider.find_sent(new_message_id(address))


def test_an_unreachable_graph_is_temporary(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    _, connected = mailbox
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    endpoints = replace(standin.endpoints(), graph_api=f"https://127.0.0.1:{closed_port}/v1.0")
    with pytest.raises(TemporaryFailure, match="ConnectionError"):
        _provider(standin, client, connected.credentials, endpoints=endpoints).find_sent("<x@contoso.example>")


# --- incoming mail ------------------------------------------------------------------------------

def test_basic_fetch_changes_gives_headers_only_and_never_downloads_bodies(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    outgoing = _email(address)
    provider.send(outgoing)
    start = provider.fetch_changes(None).cursor  # a new mailbox is read from now on
    thread = standin.sent(address)[0].conversation_id
    delivered = [standin.deliver(address, _incoming(address, f"Note {n}")) for n in range(2)]
    delivered.append(standin.deliver(address, _incoming(address, "Re: Backend role", in_reply_to=outgoing.message_id)))
    pages, bodies = standin.requests["delta"], standin.requests["value"]

    changes = provider.fetch_changes(start)

    assert standin.requests["delta"] == pages + 2  # page size 2: a nextLink was followed
    assert standin.requests["value"] == bodies  # no body was fetched
    assert [m.provider_message_id for m in changes.messages] == [d.id for d in delivered]
    assert not changes.full_resync and changes.cursor and "deltatoken" in changes.cursor
    reply = changes.messages[-1]
    assert reply.full is None and reply.thread_id == thread
    assert reply.headers["Subject"] == "Re: Backend role"
    assert reply.headers["From"] == "Ana Lima <ana@work.example>"
    assert reply.headers["Message-ID"] == delivered[-1].internet_message_id
    assert reply.headers["Date"] is not None and reply.received_at.tzinfo is not None

    assert provider.fetch_changes(changes.cursor).messages == []
    late = standin.deliver(address, _incoming(address, "One more"))
    later = provider.fetch_changes(changes.cursor)
    assert [m.provider_message_id for m in later.messages] == [late.id]


def test_basic_headers_come_from_internet_message_headers_when_graph_gives_them(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    start = provider.fetch_changes(None).cursor
    standin.deliver(address, _incoming(address, "Re: hi", in_reply_to="<ours@contoso.example>"))
    standin.read_basic_headers = "given"
    try:
        [message] = provider.fetch_changes(start).messages
    finally:
        standin.read_basic_headers = "omitted"
    assert message.headers["In-Reply-To"] == "<ours@contoso.example>" and message.full is None


def test_enhanced_fetch_changes_downloads_the_whole_message(
        standin: MicrosoftStandIn, client: ClientSecrets) -> None:
    address = _new_address()
    connected = _connect(standin, client, address, enhanced=True)
    provider = _provider(standin, client, connected.credentials, enhanced=True)
    start = provider.fetch_changes(None).cursor
    standin.deliver(address, _incoming(address, "Automatic reply: away", in_reply_to="<ours@contoso.example>"))
    bodies = standin.requests["value"]

    [message] = provider.fetch_changes(start).messages

    assert standin.requests["value"] == bodies + 1
    assert message.headers["In-Reply-To"] == "<ours@contoso.example>"
    assert message.full is not None and "please call me" in message.full.get_content()


def test_a_forgotten_delta_state_starts_over_with_a_full_resync(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    first = standin.deliver(address, _incoming(address, "First"))
    cursor = provider.fetch_changes(None).cursor
    assert cursor
    second = standin.deliver(address, _incoming(address, "Second"))
    standin.expire_delta()

    changes = provider.fetch_changes(cursor)

    assert changes.full_resync is True
    assert [m.provider_message_id for m in changes.messages] == [first.id, second.id]
    assert changes.cursor and provider.fetch_changes(changes.cursor).messages == []


def test_delta_errors_are_typed(standin: MicrosoftStandIn, client: ClientSecrets,
                                mailbox: tuple[str, Connected]) -> None:
    _, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    standin.fail_next("delta", 429, {"Retry-After": "45"})
    with pytest.raises(RateLimited) as limited:
        provider.fetch_changes(None)
    assert limited.value.retry_after == 45
    standin.fail_next("delta", 503)
    with pytest.raises(TemporaryFailure):
        provider.fetch_changes(None)


# --- secrets ------------------------------------------------------------------------------------

def test_no_secret_reaches_errors_or_logs(standin: MicrosoftStandIn, client: ClientSecrets,
                                          caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    address = _new_address()
    standin.add_user(address)
    errors: list[BaseException] = []

    connector, sign_in = _sign_in(standin, client, address)
    connected = connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI)
    for attempt in (lambda: connector.finish(flow=sign_in.flow, query=sign_in.callback, redirect_uri=REDIRECT_URI),
                    lambda: connector.finish(flow=sign_in.flow, query={**sign_in.callback, "state": "x"},
                                             redirect_uri=REDIRECT_URI)):
        with pytest.raises(ConnectFailed) as failed:
            attempt()
        errors.append(failed.value)
    provider = _provider(standin, client, connected.credentials)
    provider.send(_email(address))
    standin.expire_access_tokens(address)
    provider.send(_email(address))  # a refresh, logged by MSAL at DEBUG
    standin.revoke(address, "AADSTS50173")
    standin.expire_access_tokens(address)
    with pytest.raises(ReconnectNeeded) as revoked:
        _provider(standin, client, connected.credentials).send(_email(address))
    errors.append(revoked.value)

    secrets = [client.client_secret, sign_in.callback["code"], sign_in.flow["code_verifier"],
               *standin.tokens_of(address)]
    assert len(secrets) >= 7  # the secret, the code, the verifier, two access and two refresh tokens
    printed = capsys.readouterr()
    assert caplog.records  # MSAL did log: the scan below looked at something
    seen = "\n".join([caplog.text, printed.out, printed.err,
                      *("".join(traceback.format_exception(e)) for e in errors), repr(connected), repr(client)])
    for secret in secrets:
        assert secret not in seen


# --- Mail.ReadBasic and internetMessageHeaders ---------------------------------------------------

@pytest.fixture
def refusing(standin: MicrosoftStandIn) -> Iterator[MicrosoftStandIn]:
    """Graph answering 403 to a ReadBasic token's select of internetMessageHeaders."""
    standin.read_basic_headers = "refused"
    yield standin
    standin.read_basic_headers = "omitted"


def test_a_refused_header_select_falls_back_to_the_fields_and_is_remembered(
        refusing: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    standin = refusing
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    refusals, pages = standin.refused_header_selects, standin.requests["delta"]

    start = provider.fetch_changes(None)

    assert provider.headers_refused is True and start.cursor and not start.full_resync
    assert (standin.refused_header_selects, standin.requests["delta"]) == (refusals + 1, pages + 2)
    outgoing = _email(address)
    provider.send(outgoing)
    reply = standin.deliver(address, _incoming(address, "Re: Backend role", in_reply_to=outgoing.message_id))
    [message] = provider.fetch_changes(start.cursor).messages
    assert standin.refused_header_selects == refusals + 1  # not asked again
    # classified from the fields Graph gives: From, Subject, Message-ID, the conversation
    assert message.headers["From"] == "Ana Lima <ana@work.example>"
    assert message.headers["Subject"] == "Re: Backend role"
    assert message.headers["Message-ID"] == reply.internet_message_id
    assert message.headers["In-Reply-To"] is None and message.thread_id == standin.sent(address)[0].conversation_id

    # the mailbox row remembers it: the next provider goes straight to the select Graph takes
    again = _provider(standin, client, connected.credentials, headers_refused=True)
    pages = standin.requests["delta"]
    assert again.fetch_changes(None).cursor and standin.requests["delta"] == pages + 1
    assert standin.refused_header_selects == refusals + 1

    standin.revoke(address)  # a lost grant still means reconnect
    standin.expire_access_tokens(address)
    with pytest.raises(ReconnectNeeded, match="AADSTS50173"):
        again.fetch_changes(start.cursor)


def test_a_cursor_saved_with_headers_resyncs_without_them_once_graph_refuses(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    cursor = provider.fetch_changes(None).cursor  # headers were selected (and left out) then
    earlier = standin.deliver(address, _incoming(address, "Earlier"))
    standin.read_basic_headers = "refused"
    try:
        changes = provider.fetch_changes(cursor)
    finally:
        standin.read_basic_headers = "omitted"
    assert provider.headers_refused is True and changes.full_resync is True
    assert [m.provider_message_id for m in changes.messages] == [earlier.id]


def test_a_403_without_the_header_select_is_a_refusal_not_a_reconnect(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    _, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    standin.fail_next("delta", 403, code="ErrorAccessDenied", message="Access is denied.")
    standin.fail_next("delta", 403, code="ErrorAccessDenied", message="Access is denied.")
    with pytest.raises(PermanentFailure, match="403 ErrorAccessDenied") as refused:
        provider.fetch_changes(None)
    assert not isinstance(refused.value, ReconnectNeeded)
    assert provider.headers_refused is False  # both selects were refused: not the headers' fault
    assert provider.fetch_changes(None).cursor  # and the next poll asks with headers again
    standin.fail_next("messages", 403, code="ErrorAccessDenied")
    with pytest.raises(PermanentFailure):
        provider.find_sent(new_message_id(_new_address()))


# --- what Exchange stored for a send ------------------------------------------------------------

@pytest.fixture
def rewriting(standin: MicrosoftStandIn) -> Iterator[MicrosoftStandIn]:
    """Exchange assigning its own internetMessageId to every message sent from now on."""
    standin.rewrite_message_ids = True
    yield standin
    standin.rewrite_message_ids = False


def test_a_send_returns_the_message_id_and_conversation_exchange_stored(
        rewriting: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    standin = rewriting
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    email = _email(address)
    lookups = standin.requests["messages"]

    sent = provider.send(email)

    [copy] = standin.sent(address)
    assert copy.internet_message_id != email.message_id and copy.headers["Message-ID"] == copy.internet_message_id
    assert (sent.message_id, sent.provider_message_id, sent.thread_id) == (copy.internet_message_id, copy.id,
                                                                          copy.conversation_id)
    assert standin.requests["messages"] == lookups + 2  # by our Message-ID (none), then by what it looked like


def test_a_late_sent_copy_is_looked_for_again_after_a_pause(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    waits: list[float] = []
    provider = _provider(standin, client, connected.credentials, sleep=waits.append)
    standin.sent_copy_lag = 2  # missed by the first look's two requests
    try:
        sent = provider.send(_email(address))
    finally:
        standin.sent_copy_lag = 0
    [copy] = standin.sent(address)
    assert waits == [graph.SENT_COPY_WAITS[1]]
    assert (sent.message_id, sent.provider_message_id, sent.thread_id) == (copy.internet_message_id, copy.id,
                                                                          copy.conversation_id)


def test_a_sent_copy_never_found_still_records_the_send_with_our_message_id(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    waits: list[float] = []
    provider = _provider(standin, client, connected.credentials, sleep=waits.append)
    email = _email(address)
    sends, lookups = standin.requests["sendMail"], standin.requests["messages"]
    standin.sent_copy_lag = 1000
    try:
        sent = provider.send(email)
    finally:
        standin.sent_copy_lag = 0
    assert sent == SentMessage(email.message_id, "", None)
    assert waits == [w for w in graph.SENT_COPY_WAITS if w]  # bounded: never sleeps past the schedule
    assert standin.requests["sendMail"] == sends + 1
    assert standin.requests["messages"] == lookups + 2 * len(graph.SENT_COPY_WAITS)

    standin.fail_next("messages", 429, {"Retry-After": "30"})  # a lookup failing after the 202: still sent
    other = _email(address)
    assert provider.send(other) == SentMessage(other.message_id, "", None)
    assert len(standin.sent(address)) == 2


def test_find_sent_falls_back_to_recipient_subject_and_time_and_never_guesses(
        rewriting: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    standin = rewriting
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    started = datetime.now(timezone.utc)
    first = _email(address)
    provider.send(first)
    [copy] = standin.sent(address)
    like = SentLookup(first.to_address, first.subject, not_before=started, not_after=started + timedelta(minutes=5))

    assert provider.find_sent(first.message_id) is None  # Exchange's id is not ours
    found = provider.find_sent(first.message_id, like)
    assert found == SentMessage(copy.internet_message_id, copy.id, copy.conversation_id)
    for near_miss in (replace(like, to_address="bo@work.example"), replace(like, subject="Backend role at Acme!"),
                      replace(like, not_before=started - timedelta(hours=1), not_after=started - timedelta(minutes=30))):
        assert provider.find_sent(first.message_id, near_miss) is None

    provider.send(_email(address))  # the same recipient and subject again: which copy is the first's?
    with pytest.raises(ProviderError, match="2 messages in Sent Items match"):
        provider.find_sent(first.message_id, like)


def test_find_sent_never_takes_another_send_that_kept_our_kind_of_message_id(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected]) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    started = datetime.now(timezone.utc)
    sent = _email(address)
    provider.send(sent)  # Exchange kept its Message-ID
    never_sent = _email(address)
    like = SentLookup(never_sent.to_address, never_sent.subject, not_before=started)
    assert provider.find_sent(never_sent.message_id, like) is None
    assert provider.find_sent(sent.message_id, like) is not None


def test_find_sent_cannot_tell_when_the_window_holds_more_than_it_compares(
        standin: MicrosoftStandIn, client: ClientSecrets, mailbox: tuple[str, Connected],
        monkeypatch: pytest.MonkeyPatch) -> None:
    address, connected = mailbox
    provider = _provider(standin, client, connected.credentials)
    started = datetime.now(timezone.utc)
    for n in range(3):
        provider.send(_email(address, to_address=f"c{n}@work.example"))
    monkeypatch.setattr(graph_sent, "WINDOW_PAGE_SIZE", 1)  # three pages of one, more than WINDOW_MAX_PAGES
    lookups = standin.requests["messages"]
    with pytest.raises(ProviderError, match="more mail"):
        provider.find_sent(new_message_id(address), SentLookup("ana@work.example", "Backend role at Acme", started))
    assert standin.requests["messages"] == lookups + 1 + graph_sent.WINDOW_MAX_PAGES
