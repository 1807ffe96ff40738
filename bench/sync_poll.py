"""Idle inbox polls: what one costs, for mailboxes of 10, 1,000 and 10,000 messages.

For each provider it fills a fresh mailbox with past mail (arrived over the last days), starts a
sync from now, warms it with one poll, then times idle polls (nothing new) and prints one JSON line:
  start_requests     provider requests of the first fetch_changes(None) (it must not read the past)
  requests_per_poll  provider requests of one idle poll: Gmail and Graph counted by their stand-ins
                     (tests/standins), IMAP as the commands Dovecot's rawlog shows after login plus the
                     LOGIN itself, the sandbox as files read (its counter, listings, messages)
  fetches_per_poll   IMAP only: FETCH commands per idle poll (should be 0)
  poll_ms            median wall time of one idle poll
  baseline_ms        median of the floor measured in the same run against the same server: one bare
                     HTTPS GET to the stand-in (Gmail, Graph), one IMAP connection that only logs in and
                     out (IMAP), one read of a small file (sandbox)
  ratio              poll_ms / baseline_ms
Gmail and Graph run against the in-process stand-ins on loopback, IMAP against a private Dovecot
(`dovecot-imapd` must be installed), the sandbox in a scratch folder.

Usage: python bench/sync_poll.py [--sizes 10,1000,10000] [--polls 30] [--providers gmail,graph,imap,sandbox]
"""
from __future__ import annotations

import argparse
import imaplib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.standins.counting_store import CountingStore  # noqa: E402
from providers.base import MailProvider  # noqa: E402
from providers.connect import ClientSecrets  # noqa: E402
from providers.gmail import GmailConnector, GmailProvider  # noqa: E402
from providers.graph import GraphProvider, MicrosoftConnector  # noqa: E402
from providers.sandbox import INBOX, SandboxProvider  # noqa: E402
from providers.smtp_imap import SmtpImapProvider, SmtpImapSettings  # noqa: E402
from tests.standins.google import GoogleStandIn  # noqa: E402
from tests.standins.mailservers import Dovecot  # noqa: E402
from tests.standins.microsoft import MicrosoftStandIn  # noqa: E402
from tests.standins.tls import TestCertificates, make_certificates  # noqa: E402

GOOGLE = ClientSecrets(client_id="bench.apps.googleusercontent.com", client_secret="bench-secret")
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


def past_mail(count: int) -> list[tuple[bytes, datetime]]:
    """`count` messages that arrived over the last days, oldest first."""
    now = datetime.now(timezone.utc)
    found = []
    for n in range(count):
        when = now - timedelta(days=3) + timedelta(seconds=n * 20)
        msg = EmailMessage()
        msg["From"] = f"Person {n} <p{n}@example.com>"
        msg["To"] = "recruiter@acme.example"
        msg["Subject"] = f"Message {n}"
        msg["Date"] = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
        msg["Message-ID"] = f"<{secrets.token_hex(8)}@example.com>"
        msg.set_content(f"Body {n}\n" * 20)
        found.append((bytes(msg), when))
    return found


def median_ms(action: Callable[[], object], times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


def measure(provider_name: str, size: int, polls: int, provider: MailProvider, count: Callable[[], float],
            baseline: Callable[[], object], baseline_name: str, extra: Callable[[], dict[str, object]] | None = None
            ) -> None:
    before = count()
    cursor = provider.fetch_changes(None).cursor
    start_requests = count() - before
    cursor = provider.fetch_changes(cursor).cursor  # warm: clients built, tokens fresh
    before = count()
    for _ in range(polls):
        changes = provider.fetch_changes(cursor)
        assert changes.messages == [], "an idle poll returned mail"
        cursor = changes.cursor
    per_poll = (count() - before) / polls
    extras = extra() if extra else {}

    def poll() -> None:
        nonlocal cursor
        cursor = provider.fetch_changes(cursor).cursor

    poll_ms = median_ms(poll, polls)
    floor_ms = median_ms(baseline, polls)
    print(json.dumps({"bench": "sync_poll", "provider": provider_name, "messages": size,
                      "start_requests": start_requests, "requests_per_poll": round(per_poll, 2), **extras,
                      "poll_ms": round(poll_ms, 3), "baseline": baseline_name, "baseline_ms": round(floor_ms, 4),
                      "ratio": round(poll_ms / floor_ms, 2)}), flush=True)


# -- Gmail ------------------------------------------------------------------------------------------
def bench_gmail(certs: TestCertificates, sizes: list[int], polls: int) -> None:
    with GoogleStandIn(certs, client_id=GOOGLE.client_id, client_secret=GOOGLE.client_secret) as google:
        bare = requests.Session()
        for size in sizes:
            address = f"box{size}@agency.example"
            connected = google.connect(GmailConnector(GOOGLE, google.endpoints), address)
            for raw, when in past_mail(size):
                google.deliver(address, raw, received=when)
            provider = GmailProvider(connected.credentials, secrets=GOOGLE, endpoints=google.endpoints,
                                     enhanced=False)
            measure("gmail", size, polls, provider, lambda: google.api_calls + google.requests["token"],
                    lambda: bare.get(google.base_url + "/", verify=certs.ca_file), "one HTTPS GET to the stand-in")


# -- Microsoft Graph --------------------------------------------------------------------------------
def bench_graph(certs: TestCertificates, sizes: list[int], polls: int) -> None:
    with MicrosoftStandIn(certs, page_size=50) as microsoft:
        client = ClientSecrets(microsoft.client_id, microsoft.client_secret)
        bare = requests.Session()
        for size in sizes:
            address = f"box{size}@contoso.example"
            microsoft.add_user(address)
            connected = microsoft.connect(MicrosoftConnector(client, microsoft.endpoints()), address)
            for raw, when in past_mail(size):
                microsoft.deliver(address, raw, received=when)
            provider = GraphProvider(connected.credentials, secrets=client, endpoints=microsoft.endpoints(),
                                     enhanced=False)
            provider.address()  # as the registry's cached provider: MSAL has read the authority already
            measure("graph", size, polls, provider, lambda: microsoft.graph_calls,
                    lambda: bare.get(microsoft.base_url + "/", verify=certs.ca_file), "one HTTPS GET to the stand-in")


# -- IMAP (Dovecot) ---------------------------------------------------------------------------------
def bench_imap(certs: TestCertificates, sizes: list[int], polls: int) -> None:
    with Dovecot(certs, command_log=True) as dovecot:
        for size in sizes:
            user = f"box{size}@acme.test"
            dovecot.set_password(user, "app-" + secrets.token_urlsafe(12))
            dovecot.deliver_many(user, past_mail(size))
            settings = SmtpImapSettings(address=user, smtp_host="127.0.0.1", imap_host="127.0.0.1",
                                        imap_port=dovecot.port, username=user, password=dovecot.users[user])
            provider = SmtpImapProvider(settings.to_credentials(), ca_file=certs.ca_file)
            dovecot.forget_commands(user)

            def commands(user: str = user) -> float:
                found = dovecot.commands(user)
                return len(found) + found.count("LOGOUT")  # each session's LOGIN is not in the rawlog

            def fetches(user: str = user) -> dict[str, object]:
                dovecot.forget_commands(user)
                cursor = provider.fetch_changes(None).cursor
                provider.fetch_changes(cursor)
                dovecot.forget_commands(user)
                for _ in range(polls):
                    provider.fetch_changes(cursor)
                found = dovecot.commands(user)
                return {"fetches_per_poll": sum(c.endswith("FETCH") for c in found) / polls,
                        "commands": ["LOGIN", *found[:found.index("LOGOUT") + 1]]}

            def login_logout(user: str = user) -> None:
                imap = imaplib.IMAP4_SSL("127.0.0.1", dovecot.port, ssl_context=certs.client_context())
                imap.login(user, dovecot.users[user])
                imap.logout()

            measure("imap", size, polls, provider, commands, login_logout, "one IMAP login and logout",
                    extra=fetches)


# -- sandbox ----------------------------------------------------------------------------------------
def bench_sandbox(sizes: list[int], polls: int) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="bench-sync-") as root:
        store = CountingStore(Path(root))
        parser = BytesParser(policy=policy.default)
        for size in sizes:
            address = f"box{size}@acme.example"
            for raw, _ in past_mail(size):
                store.append(address, INBOX, parser.parsebytes(raw))
            lock_file = Path(root) / address / ".lock"

            def read_small_file(path: Path = lock_file) -> None:
                descriptor = os.open(path, os.O_RDONLY)
                os.read(descriptor, 64)
                os.close(descriptor)

            measure("sandbox", size, polls, SandboxProvider(store, address), lambda: store.reads,
                    read_small_file, "one read of a small file")
        store.close()


def main() -> None:
    # MSAL recommends response_mode=form_post on every auth-code flow; the bot's callback takes a query.
    warnings.filterwarnings("ignore", "response_mode='form_post' is recommended", UserWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--providers", default="gmail,graph,imap,sandbox")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen = args.providers.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-sync-tls-") as tmp:
        certs = make_certificates(Path(tmp))
        if "gmail" in chosen:
            bench_gmail(certs, sizes, args.polls)
        if "graph" in chosen:
            bench_graph(certs, sizes, args.polls)
        if "imap" in chosen:
            bench_imap(certs, sizes, args.polls)
        if "sandbox" in chosen:
            bench_sandbox(sizes, args.polls)


if __name__ == "__main__":
    main()
