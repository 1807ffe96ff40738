"""Connecting a Gmail mailbox through the bot's OAuth pages, over real HTTP: the bot's WSGI routes on
loopback, a requests.Session as the person's browser (it keeps cookies), and the real Google client
libraries talking to the Google stand-in. Also every way a state can be misused."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Mailbox, MailboxStatus, Notification, PermissionLevel, Provider, User
from bot.oauth_web import OAuthRoutes, build_connectors, start_url
from bot.runtime import Runtime, build_runtime
from bot.services import oauth_states
from tests.bot.pages import BotPages
from tests.conftest import make_settings
from tests.factories import recruiter
from tests.standins.google import GoogleStandIn
from tests.standins.tls import TestCertificates

CLIENT_ID, CLIENT_SECRET = "bot-client.apps.example", "gcs-very-secret-value"




@pytest.fixture(scope="module")
def google(certs: TestCertificates, pages: BotPages) -> Iterator[GoogleStandIn]:
    with GoogleStandIn(certs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       redirect_uris=(f"{pages.url}/oauth/google/callback",)) as standin:
        yield standin


@pytest.fixture
def connected_home() -> list[int]:
    return []


@pytest.fixture
def runtime(tmp_path: Path, engine: Engine, clock: FakeClock, google: GoogleStandIn, pages: BotPages,
            connected_home: list[int]) -> Runtime:
    endpoints = google.endpoints
    settings = make_settings(tmp_path, PUBLIC_URL=pages.url, GOOGLE_CLIENT_ID=CLIENT_ID,
                             GOOGLE_CLIENT_SECRET=CLIENT_SECRET, GOOGLE_AUTH_URI=endpoints.google_auth_uri,
                             GOOGLE_TOKEN_URI=endpoints.google_token_uri, GMAIL_API_URL=endpoints.gmail_api,
                             OUTREACH_CA_FILE=endpoints.ca_file)
    runtime = build_runtime(settings, clock=clock, engine=engine)
    pages.app = OAuthRoutes(runtime, build_connectors(runtime), on_connected=connected_home.append)
    return runtime


def _link_for(runtime: Runtime, slack_id: str = "U0RITA") -> str:
    with transaction(runtime.sessions, write=True) as session:
        user = recruiter(session, runtime.clock, slack_id=slack_id)
        return start_url(runtime, Provider.GMAIL,
                         oauth_states.new_state(session, user=user, provider=Provider.GMAIL, enhanced=False,
                                                clock=runtime.clock))


def _to_callback(browser: requests.Session, link: str, certs: TestCertificates) -> str:
    """Open the link, let Google sign the person in, and return where Google sends the browser back."""
    to_google = browser.get(link, allow_redirects=False)
    assert to_google.status_code == 302, to_google.text
    back = browser.get(to_google.headers["Location"], allow_redirects=False, verify=certs.ca_file)
    assert back.status_code == 302, back.text
    return back.headers["Location"]


def test_connect_gmail_end_to_end_stores_only_ciphertext_and_tells_the_person(
        runtime: Runtime, google: GoogleStandIn, certs: TestCertificates, connected_home: list[int],
        caplog: pytest.LogCaptureFixture) -> None:
    google.sign_in_as("Rita@Agency.example")
    browser = requests.Session()
    with caplog.at_level(logging.DEBUG):
        page = browser.get(_to_callback(browser, _link_for(runtime), certs))
    assert page.status_code == 200 and "rita@agency.example is connected" in page.text
    assert "go back to Slack" in page.text
    with transaction(runtime.sessions) as session:
        mailbox = session.scalar(select(Mailbox))
        assert (mailbox.provider, mailbox.address, mailbox.status, mailbox.permission_level) == (
            Provider.GMAIL, "rita@agency.example", MailboxStatus.CONNECTED, PermissionLevel.BASIC)
        user = session.scalar(select(User))
        assert mailbox.owner_id == user.id and connected_home == [user.id]
        stored = mailbox.credentials
        notice = session.scalar(select(Notification).where(Notification.kind == "connected"))
        assert "rita@agency.example is connected (basic permissions)" in notice.text
    secrets = [CLIENT_SECRET, *google.access_tokens("rita@agency.example"), *google.refresh_tokens("rita@agency.example")]
    assert all(s.encode() not in stored for s in secrets)  # ciphertext, not a token in sight
    assert runtime.cipher is not None and google.refresh_tokens("rita@agency.example")[0].encode() in \
        runtime.cipher.decrypt(stored)
    seen = caplog.text + page.text
    assert all(s not in seen for s in secrets)


def test_a_forged_state_is_refused(runtime: Runtime, pages: BotPages) -> None:
    page = requests.get(f"{pages.url}/oauth/google/callback", params={"state": "forged", "code": "x"})
    assert page.status_code == 400 and "This sign-in link is not valid" in page.text


def test_a_reused_callback_is_refused_and_connects_nothing_twice(
        runtime: Runtime, google: GoogleStandIn, certs: TestCertificates) -> None:
    google.sign_in_as("rita@agency.example")
    browser = requests.Session()
    callback = _to_callback(browser, _link_for(runtime), certs)
    assert browser.get(callback).status_code == 200
    again = browser.get(callback)
    assert again.status_code == 400 and "already completed" in again.text


def test_an_expired_state_is_refused(runtime: Runtime, google: GoogleStandIn, certs: TestCertificates,
                                     clock: FakeClock) -> None:
    google.sign_in_as("rita@agency.example")
    browser = requests.Session()
    callback = _to_callback(browser, _link_for(runtime), certs)
    clock.advance(timedelta(minutes=11))
    page = browser.get(callback)
    assert page.status_code == 400 and "longer than 10 minutes" in page.text
    expired_link = browser.get(_link_for(runtime, "U0OMAR"), allow_redirects=False)
    assert expired_link.status_code == 302  # a fresh link works; an old one opened late does not
    stale = _link_for(runtime, "U0ZOE")
    clock.advance(timedelta(minutes=11))
    assert "expired" in requests.get(stale, allow_redirects=False).text
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox)) is None


def test_another_browser_cannot_finish_someone_elses_sign_in(
        runtime: Runtime, google: GoogleStandIn, certs: TestCertificates) -> None:
    """Rita's link opened in her browser; the callback replayed from another browser (another Slack
    user's, or an attacker's) is refused, and a link opens only once."""
    google.sign_in_as("mallory@evil.example")
    rita_browser = requests.Session()
    link = _link_for(runtime)
    callback = _to_callback(rita_browser, link, certs)
    other = requests.Session()
    other.get(_link_for(runtime, "U0OMAR"), allow_redirects=False)  # a cookie of its own sign-in
    page = other.get(callback)
    assert page.status_code == 400 and "started in another browser or by another person" in page.text
    assert "already opened" in requests.get(link, allow_redirects=False).text
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Mailbox)) is None


def test_an_address_linked_to_another_person_is_refused_with_a_clear_message(
        runtime: Runtime, google: GoogleStandIn, certs: TestCertificates) -> None:
    google.sign_in_as("shared@agency.example")
    first = requests.Session()
    assert first.get(_to_callback(first, _link_for(runtime, "U0OMAR"), certs)).status_code == 200
    google.sign_in_as("shared@agency.example")
    second = requests.Session()
    page = second.get(_to_callback(second, _link_for(runtime, "U0RITA"), certs))
    assert page.status_code == 400 and "already connected by another person" in page.text
    with transaction(runtime.sessions) as session:
        owner = session.scalar(select(User.slack_user_id).join(Mailbox, Mailbox.owner_id == User.id))
        assert owner == "U0OMAR"
        refused = session.scalar(select(Notification).where(Notification.kind == "connect_refused"))
        assert refused is not None and "linked to one account only" in refused.text


def test_cancelling_on_googles_page_says_so(runtime: Runtime, google: GoogleStandIn,
                                            certs: TestCertificates) -> None:
    google.sign_in_as("rita@agency.example", deny=True)
    browser = requests.Session()
    page = browser.get(_to_callback(browser, _link_for(runtime), certs))
    assert page.status_code == 400 and "cancelled the Google sign-in" in page.text


def test_an_admin_returning_from_the_consent_link_is_thanked_not_refused(runtime: Runtime, pages: BotPages) -> None:
    page = requests.get(f"{pages.url}/oauth/google/callback", params={"admin_consent": "True", "tenant": "t1"})
    assert page.status_code == 200 and "now allows the outreach bot" in page.text
