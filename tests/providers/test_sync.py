"""Incremental inbox sync, the same promises for every provider: Gmail and Graph through their
stand-ins (which count every request), IMAP against a real Dovecot (whose rawlog records every
command), and the sandbox (whose store counts what it reads).

A new mailbox starts from now; what arrives later comes once, headers only under basic permissions
and whole under enhanced; an idle poll costs the same whatever the mailbox holds; a stale cursor
resyncs only the recent past; a lost sign-in asks for a reconnect and throttling says how long to wait.
"""
from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import format_datetime
from pathlib import Path
from typing import Callable

import pytest

from providers import gmail, graph, sandbox, smtp_imap
from providers.base import (
    InboundMessage,
    MailProvider,
    OutgoingEmail,
    RateLimited,
    ReconnectNeeded,
    TemporaryFailure,
    new_message_id,
)
from providers.connect import ClientSecrets
from providers.gmail import GmailConnector, GmailProvider
from providers.graph import GraphProvider, MicrosoftConnector
from providers.sandbox import INBOX, PostOffice, SandboxProvider, SandboxStore
from providers.smtp_imap import SmtpImapProvider, SmtpImapSettings
from tests.standins.counting_store import CountingStore
from tests.standins import tls
from tests.standins.google import GoogleStandIn
from tests.standins.mailservers import Dovecot
from tests.standins.microsoft import MicrosoftStandIn

pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")

GOOGLE = ClientSecrets(client_id="1234-bot.apps.googleusercontent.com", client_secret="GOCSPX-sync-test")
CANDIDATE = "ana@work.example"
IMAP_CONNECTION_LIMIT = 3
PROVIDERS = ["gmail", "graph", "imap", "sandbox"]
_numbers = itertools.count(1)


def message(subject: str, *, body: str = "Thanks, let's talk on Friday.", in_reply_to: str | None = None,
            received: datetime | None = None, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ana Lima <{CANDIDATE}>"
    msg["To"] = "recruiter@acme.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(received or datetime.now(timezone.utc))
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@work.example>"
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


def message_id(raw: bytes) -> str:
    return next(line.split(b":", 1)[1].strip().decode() for line in raw.splitlines()
                if line.lower().startswith(b"message-id:"))


def ids(messages: list[InboundMessage]) -> list[str]:
    return [str(m.headers["Message-ID"]) for m in messages]


# -- one mailbox per test, behind the same few operations for every provider ---------------------

@dataclass
class Box:
    provider: MailProvider
    deliver: Callable[[bytes, datetime | None], None]
    cost: Callable[[], int]  # provider requests (IMAP: commands after login) so far
    make_stale: Callable[[str], str]  # the provider forgets what a cursor stands for; the cursor to use then
    revoke: Callable[[], None]
    throttle: Callable[[], Callable[[], None]]  # returns how to stop throttling
    retry_after: float
    fail: Callable[[], None] | None  # the provider's next sync call fails on its side (5xx)
    idle_cost: int  # what an idle poll costs
    resync_limit: int  # the most messages a full resync returns
    basic_in_reply_to: bool = True  # headers-only mode carries In-Reply-To (Graph's ReadBasic may not)
    deliver_many: Callable[[list[tuple[bytes, datetime]]], None] | None = None

    def fill(self, received: list[datetime]) -> list[str]:
        """Past mail, one message per arrival time; returns their Message-IDs."""
        batch = [(message(f"Old {n}", received=when), when) for n, when in enumerate(received)]
        if self.deliver_many is not None:
            self.deliver_many(batch)
        else:
            for raw, when in batch:
                self.deliver(raw, when)
        return [message_id(raw) for raw, _ in batch]


@pytest.fixture(scope="module")
def google(certs: tls.TestCertificates) -> Iterator[GoogleStandIn]:
    with GoogleStandIn(certs, client_id=GOOGLE.client_id, client_secret=GOOGLE.client_secret) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def microsoft(certs: tls.TestCertificates) -> Iterator[MicrosoftStandIn]:
    with MicrosoftStandIn(certs, page_size=50) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def dovecot(certs: tls.TestCertificates) -> Iterator[Dovecot]:
    with Dovecot(certs, max_user_connections=IMAP_CONNECTION_LIMIT, command_log=True) as server:
        yield server


@pytest.fixture
def make_box(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Box]:
    """make_box(kind, enhanced=False): a fresh mailbox of that provider, empty."""
    def make(kind: str, *, enhanced: bool = False) -> Box:
        return {"gmail": _gmail_box, "graph": _graph_box, "imap": _imap_box,
                "sandbox": _sandbox_box}[kind](request, tmp_path, enhanced)
    return make


def _gmail_box(request: pytest.FixtureRequest, tmp_path: Path, enhanced: bool) -> Box:
    google: GoogleStandIn = request.getfixturevalue("google")
    address = f"rita{next(_numbers)}@agency.example"
    connected = google.connect(GmailConnector(GOOGLE, google.endpoints), address, enhanced=enhanced)
    provider = GmailProvider(connected.credentials, secrets=GOOGLE, endpoints=google.endpoints, enhanced=enhanced)
    request.addfinalizer(google.clear_faults)

    def make_stale(cursor: str) -> str:
        google.expire_history(address)  # Gmail keeps about a week of history
        return cursor

    def throttle() -> Callable[[], None]:
        google.fail_next("history", 429, {"Retry-After": "30"})
        return google.clear_faults

    return Box(provider, lambda raw, when: google.deliver(address, raw, received=when),
               cost=lambda: google.api_calls + google.requests["token"], make_stale=make_stale,
               revoke=lambda: google.revoke(address), throttle=throttle, retry_after=30.0,
               fail=lambda: google.fail_next("history", 503), idle_cost=1, resync_limit=gmail.RESYNC_MAX_MESSAGES)


def _graph_box(request: pytest.FixtureRequest, tmp_path: Path, enhanced: bool) -> Box:
    microsoft: MicrosoftStandIn = request.getfixturevalue("microsoft")
    address = f"rita{next(_numbers)}@contoso.example"
    microsoft.add_user(address)
    client = ClientSecrets(microsoft.client_id, microsoft.client_secret)
    connected = microsoft.connect(MicrosoftConnector(client, microsoft.endpoints()), address, enhanced=enhanced)
    provider = GraphProvider(connected.credentials, secrets=client, endpoints=microsoft.endpoints(),
                             enhanced=enhanced, timeout=5)
    provider.address()  # warm, as the registry's cached provider is: MSAL has read the authority's metadata

    def make_stale(cursor: str) -> str:
        microsoft.expire_delta()  # 410 SyncStateNotFound from now on
        return cursor

    def revoke() -> None:
        microsoft.revoke(address)
        microsoft.expire_access_tokens(address)

    def throttle() -> Callable[[], None]:
        microsoft.fail_next("delta", 429, {"Retry-After": "30"})  # used up by the call it fails
        return lambda: None

    return Box(provider, lambda raw, when: microsoft.deliver(address, raw, received=when),
               cost=lambda: microsoft.graph_calls, make_stale=make_stale, revoke=revoke,
               throttle=throttle, retry_after=30.0, fail=lambda: microsoft.fail_next("delta", 503),
               idle_cost=1, resync_limit=graph.RESYNC_MAX_PAGES * graph.DELTA_PAGE_SIZE,
               basic_in_reply_to=enhanced or microsoft.read_basic_headers == "given")


def _imap_box(request: pytest.FixtureRequest, tmp_path: Path, enhanced: bool) -> Box:
    dovecot: Dovecot = request.getfixturevalue("dovecot")
    certs: tls.TestCertificates = request.getfixturevalue("certs")
    user = f"recruiter{next(_numbers)}@acme.test"
    dovecot.set_password(user, "app-" + secrets.token_urlsafe(12))
    settings = SmtpImapSettings(address=user, smtp_host="127.0.0.1", imap_host="127.0.0.1", imap_port=dovecot.port,
                                username=user, password=dovecot.users[user])
    provider = SmtpImapProvider(settings.to_credentials(), ca_file=certs.ca_file, enhanced=enhanced, timeout=5)

    def make_stale(cursor: str) -> str:
        dovecot.change_uidvalidity(user)  # as after the server rebuilt its index
        return cursor

    def throttle() -> Callable[[], None]:
        held = [dovecot.login(user) for _ in range(IMAP_CONNECTION_LIMIT)]  # the person's mail apps, all open

        def release() -> None:
            for imap in held:
                imap.logout()
        return release

    def deliver(raw: bytes, when: datetime | None) -> None:
        dovecot.deliver(user, raw, received=when)

    return Box(provider, deliver, cost=lambda: len(dovecot.commands(user)), make_stale=make_stale,
               revoke=lambda: dovecot.set_password(user, "changed-on-the-web"), throttle=throttle,
               retry_after=smtp_imap.RATE_LIMIT_RETRY_AFTER, fail=None, idle_cost=2,
               resync_limit=smtp_imap.RESYNC_MAX_MESSAGES,
               deliver_many=lambda batch: dovecot.deliver_many(user, batch) and None)


def _sandbox_box(request: pytest.FixtureRequest, tmp_path: Path, enhanced: bool) -> Box:
    store = CountingStore(tmp_path / "sandbox")
    address = "rita@acme.example"
    provider = SandboxProvider(store, address, enhanced=enhanced)

    def deliver(raw: bytes, when: datetime | None) -> None:
        store.append(address, INBOX, _parsed(raw))

    def make_stale(cursor: str) -> str:
        return str(int(cursor) + 1000)  # a cursor from before the sandbox folder was wiped: above its counter

    def throttle() -> Callable[[], None]:
        store.inject(address, "sync_rate_limited:30")
        return lambda: None

    return Box(provider, deliver, cost=lambda: store.reads, make_stale=make_stale,
               revoke=lambda: store.inject(address, "sync_reconnect"), throttle=throttle, retry_after=30.0,
               fail=lambda: store.inject(address, "sync_server_error"), idle_cost=1,
               resync_limit=sandbox.RESYNC_MAX_MESSAGES)


def _parsed(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=policy.default)


# -- starting from now ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_new_mailbox_starts_from_now_and_never_pulls_its_past(kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    now = datetime.now(timezone.utc)
    box.fill([now - timedelta(days=3, minutes=n) for n in range(40)] + [now - timedelta(minutes=1)])
    before = box.cost()

    start = box.provider.fetch_changes(None)

    assert start.messages == [] and start.cursor and not start.full_resync
    assert box.cost() - before <= box.idle_cost  # one look at where the mailbox is, no listing
    later = box.provider.fetch_changes(start.cursor)
    assert later.messages == [] and not later.full_resync


# -- what arrives afterwards -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_message_arriving_later_comes_once_and_only_its_headers_under_basic_permissions(
        kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    box.fill([datetime.now(timezone.utc) - timedelta(hours=2)])
    cursor = box.provider.fetch_changes(None).cursor
    reply = message("Re: Staff engineer role", body="SECRET-BODY-TEXT yes", in_reply_to="<step1@acme.example>")
    box.deliver(reply, None)

    changes = box.provider.fetch_changes(cursor)

    [got] = changes.messages
    assert not changes.full_resync and changes.cursor != cursor
    assert got.full is None
    assert got.headers["Message-ID"] == message_id(reply)
    assert got.headers["Subject"] == "Re: Staff engineer role" and CANDIDATE in str(got.headers["From"])
    assert "recruiter@acme.example" in str(got.headers["To"]) and got.headers["Date"] is not None
    if box.basic_in_reply_to:
        assert got.headers["In-Reply-To"] == "<step1@acme.example>"
    assert "SECRET-BODY-TEXT" not in got.headers.as_string()
    assert got.received_at.tzinfo is not None
    again = box.provider.fetch_changes(changes.cursor)
    assert again.messages == [] and again.cursor


@pytest.mark.parametrize("kind", PROVIDERS)
def test_under_enhanced_permissions_the_whole_message_comes_too(kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind, enhanced=True)
    cursor = box.provider.fetch_changes(None).cursor
    box.deliver(message("Automatic reply: Staff engineer role", body="I am out of office until Monday.",
                        in_reply_to="<step1@acme.example>", Auto_Submitted="auto-replied"), None)

    [got] = box.provider.fetch_changes(cursor).messages

    assert got.full is not None and "out of office until Monday" in got.full.get_content()  # type: ignore[attr-defined]
    assert got.headers["In-Reply-To"] == "<step1@acme.example>"
    assert got.headers["Auto-Submitted"] == "auto-replied"


# -- the cost of an idle poll ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", PROVIDERS)
def test_an_idle_poll_costs_the_same_for_a_mailbox_of_10_and_of_1000_messages(
        kind: str, make_box: Callable[..., Box]) -> None:
    costs = []
    for size in (10, 1000):
        box = make_box(kind)
        now = datetime.now(timezone.utc)
        box.fill([now - timedelta(days=1, minutes=n) for n in range(size)])
        cursor = box.provider.fetch_changes(None).cursor
        cursor = box.provider.fetch_changes(cursor).cursor  # warm: tokens fetched, clients built
        before = box.cost()
        idle = box.provider.fetch_changes(cursor)
        assert idle.messages == [] and idle.cursor  # Graph hands out a new delta link every round
        costs.append(box.cost() - before)
    assert costs == [box.idle_cost, box.idle_cost]


def test_an_idle_imap_poll_is_examine_and_logout_and_never_fetches(
        make_box: Callable[..., Box], dovecot: Dovecot) -> None:
    box = make_box("imap")
    box.fill([datetime.now(timezone.utc) - timedelta(days=1)] * 5)
    cursor = box.provider.fetch_changes(None).cursor
    user = box.provider.address()
    dovecot.forget_commands(user)

    box.provider.fetch_changes(cursor)
    assert dovecot.commands(user) == ["EXAMINE", "LOGOUT"]

    box.deliver(message("Re: hello"), None)
    dovecot.forget_commands(user)
    changes = box.provider.fetch_changes(cursor)
    assert dovecot.commands(user) == ["EXAMINE", "UID FETCH", "LOGOUT"]  # headers of the new one only
    assert len(changes.messages) == 1


def test_an_imap_poll_after_the_newest_message_was_deleted_does_not_fetch_again(
        make_box: Callable[..., Box], dovecot: Dovecot) -> None:
    box = make_box("imap")
    cursor = box.provider.fetch_changes(None).cursor
    box.deliver(message("kept"), None)
    seen = box.provider.fetch_changes(cursor)
    user = box.provider.address()
    dovecot.delete(user, dovecot.deliver(user, message("spam, deleted at once")))

    after_delete = box.provider.fetch_changes(seen.cursor)  # UIDNEXT moved: one FETCH finds nothing new
    dovecot.forget_commands(user)
    idle = box.provider.fetch_changes(after_delete.cursor)

    assert after_delete.messages == [] and idle.messages == []
    assert dovecot.commands(user) == ["EXAMINE", "LOGOUT"]


def test_a_graph_mailbox_reads_only_what_arrived_after_the_delta_link(
        make_box: Callable[..., Box], microsoft: MicrosoftStandIn) -> None:
    box = make_box("graph")
    box.fill([datetime.now(timezone.utc) - timedelta(days=2, minutes=n) for n in range(120)])
    before = microsoft.requests["delta"]
    cursor = box.provider.fetch_changes(None).cursor
    assert microsoft.requests["delta"] == before + 1  # 120 old messages, yet one page: none of them
    assert cursor and "deltatoken" in cursor and "receivedDateTime" not in cursor  # options ride in the token
    new = [message(f"Re: {n}") for n in range(3)]
    for raw in new:
        box.deliver(raw, None)
    assert ids(box.provider.fetch_changes(cursor).messages) == [message_id(raw) for raw in new]


# -- stale cursors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_stale_cursor_resyncs_only_the_recent_past_and_at_most_a_fixed_number_of_messages(
        kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    now = datetime.now(timezone.utc)
    old = box.fill([now - timedelta(days=40, minutes=n) for n in range(20, 0, -1)])
    recent = box.fill([now - timedelta(days=2) + timedelta(minutes=n) for n in range(215)])
    cursor = box.provider.fetch_changes(None).cursor
    newest = message("Re: after the cursor")
    box.deliver(newest, None)
    cursor = box.make_stale(cursor)

    changes = box.provider.fetch_changes(cursor)

    assert changes.full_resync
    got = ids(changes.messages)
    assert not set(got) & set(old)  # nothing from before the resync window
    assert got == [*recent, message_id(newest)][-box.resync_limit:]  # the newest, oldest first, bounded
    after = box.provider.fetch_changes(changes.cursor)
    assert after.messages == [] and not after.full_resync


@pytest.mark.parametrize("kind", ["gmail", "graph", "imap", "sandbox"])
def test_a_cursor_that_is_not_ours_is_treated_as_stale(kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    box.deliver(message("Re: recent"), None)
    garbage = {"gmail": "not-a-history-id", "graph": "https://elsewhere.example/delta?$deltatoken=x",
               "imap": "garbage", "sandbox": "garbage"}[kind]
    changes = box.provider.fetch_changes(garbage)
    assert changes.full_resync and [m.headers["Subject"] for m in changes.messages] == ["Re: recent"]


# -- failures during sync --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_revoked_sign_in_during_sync_needs_a_reconnect(kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    cursor = box.provider.fetch_changes(None).cursor
    box.deliver(message("Re: hello"), None)
    box.revoke()
    with pytest.raises(ReconnectNeeded):
        box.provider.fetch_changes(cursor)


@pytest.mark.parametrize("kind", PROVIDERS)
def test_throttling_during_sync_is_rate_limited_with_the_wait_and_loses_nothing(
        kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    cursor = box.provider.fetch_changes(None).cursor
    box.deliver(message("Re: hello"), None)
    stop = box.throttle()
    try:
        with pytest.raises(RateLimited) as limited:
            box.provider.fetch_changes(cursor)
    finally:
        stop()
    assert limited.value.retry_after == box.retry_after
    assert [m.headers["Subject"] for m in box.provider.fetch_changes(cursor).messages] == ["Re: hello"]


@pytest.mark.parametrize("kind", ["gmail", "graph", "sandbox"])
def test_a_server_error_during_sync_is_temporary(kind: str, make_box: Callable[..., Box]) -> None:
    box = make_box(kind)
    cursor = box.provider.fetch_changes(None).cursor
    assert box.fail is not None
    box.fail()
    with pytest.raises(TemporaryFailure):
        box.provider.fetch_changes(cursor)


# -- the sandbox's post office ---------------------------------------------------------------------

@pytest.mark.parametrize("enhanced", [False, True])
def test_the_sandbox_returns_what_the_post_office_delivered_after_the_cursor(tmp_path: Path, enhanced: bool) -> None:
    store = SandboxStore(tmp_path)
    provider = SandboxProvider(store, "rita@acme.example", enhanced=enhanced)
    post = PostOffice(store)
    sent = provider.send(OutgoingEmail(from_address="rita@acme.example", to_address=CANDIDATE, subject="Hello",
                                       body="Hi Ana", message_id=new_message_id("rita@acme.example")))
    [original] = post.sent("rita@acme.example")
    when = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
    post.reply("rita@acme.example", original, "Before we started", when)  # in the past for this mailbox
    cursor = provider.fetch_changes(None).cursor

    post.reply("rita@acme.example", original, "Sounds good", when)
    post.bounce("rita@acme.example", original, when)
    post.auto_reply("rita@acme.example", original, "Away until Monday", when)
    changes = provider.fetch_changes(cursor)

    reply, bounce, auto = changes.messages
    assert {m.thread_id for m in changes.messages} == {sent.thread_id}
    assert reply.headers["In-Reply-To"] == original["Message-ID"]
    assert bounce.headers["X-Failed-Recipients"] == CANDIDATE and auto.headers["Auto-Submitted"] == "auto-replied"
    if enhanced:
        assert bounce.full is not None and "5.1.1" in bounce.full.as_string()
        assert reply.full is not None and "Sounds good" in reply.full.get_content()  # type: ignore[attr-defined]
    else:
        assert all(m.full is None for m in changes.messages)
        assert "Sounds good" not in reply.headers.as_string()
    assert provider.fetch_changes(changes.cursor).messages == []
