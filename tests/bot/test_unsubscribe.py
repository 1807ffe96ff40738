"""The opt-out link: its token (unguessable, the same on a retry, verified under rotated keys), the
email with the setting on (a line, List-Unsubscribe and RFC 8058's List-Unsubscribe-Post) and off
(byte for byte as before), and the bot's page over real HTTP: a GET changes nothing, the one-click
POST lists the address and tells the recruiter, and a bad token gets one 404 for all."""
from __future__ import annotations

import random
from dataclasses import replace
from email import message_from_bytes, policy
from datetime import timedelta

import pytest
import requests
from cryptography.fernet import Fernet
from slack_bolt import App
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    AuditEntry,
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    Notification,
    Organisation,
    OutboundMessage,
    OutboundStatus,
)
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.planner import Planner
from bot.services.unsubscribe import Links
from bot.unsubscribe_web import UnsubscribeRoutes
from bot.web import wsgi_app
from providers.sandbox import PostOffice
from scheduling.compose import compose, load_sendables
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.bot.pages import BotPages

PUBLIC = "https://outreach.example.com"
KEY, OLD_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


# ---- the token ------------------------------------------------------------------------------------
def test_a_token_names_its_row_and_nothing_else() -> None:
    links = Links(PUBLIC, [KEY])
    token = links.token(42)
    assert links.row_of(token) == 42 and links.token(42) == token  # the same on a retry
    assert links.url(42) == f"{PUBLIC}/unsubscribe/{token}" and len(token) <= 30
    row, mac = token.split(".")
    assert links.row_of(f"43.{mac}") is None  # another row with this row's mac
    assert links.row_of(f"42.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}") is None
    assert Links(PUBLIC, [OLD_KEY]).row_of(token) is None  # another deployment's key


def test_links_signed_before_a_key_rotation_keep_working() -> None:
    old = Links(PUBLIC, [OLD_KEY]).token(7)
    rotated = Links(PUBLIC, [KEY, OLD_KEY])
    assert rotated.row_of(old) == 7 and rotated.token(7) != old


@pytest.mark.parametrize("token", ["", "abc", "1", "1.", "0.AAAAAAAAAAAAAAAAAAAAAA", "-1.AAAAAAAAAAAAAAAAAAAAAA",
                                   "1.AAAAAAAAAAAAAAAAAAAAAA", "1.AAAAAAAAAAAAAAAAAAAAAAA", "1.AAAAAAAAAAAAAAAAAAAAA=",
                                   "9" * 40 + ".AAAAAAAAAAAAAAAAAAAAAA", "1.é" * 5, "../../etc/passwd", "1.A\nB"])
def test_malformed_tokens_name_no_row(token: str) -> None:
    assert Links(PUBLIC, [KEY]).row_of(token) is None


# ---- the email ------------------------------------------------------------------------------------
def _started(runtime: Runtime, clock: FakeClock, *, link: bool) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        session.get(Organisation, rita.organisation_id).opt_out_link = link
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))


def _composed(runtime: Runtime, links: Links | None) -> bytes:
    with transaction(runtime.sessions) as session:
        [item] = load_sendables(session, list(session.scalars(select(OutboundMessage.id).where(
            OutboundMessage.step_position == 1))))
        steps = Planner(session, rng=random.Random(1), now=runtime.clock.now()).steps(item.sequence_id)
        return compose(item, steps, runtime.clock.now(), links).to_bytes()


def test_with_the_setting_off_the_email_is_byte_for_byte_what_it_was(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, link=False)
    links = Links(PUBLIC, [KEY])
    assert _composed(runtime, links) == _composed(runtime, None)
    with transaction(runtime.sessions) as session:  # and as OutgoingEmail built without the field
        [item] = load_sendables(session, [session.scalar(select(OutboundMessage.id).where(OutboundMessage.step_position == 1))])
        steps = Planner(session, rng=random.Random(1), now=clock.now()).steps(item.sequence_id)
        email = compose(item, steps, clock.now(), links)
        assert email.unsubscribe_url is None and b"List-Unsubscribe" not in email.to_bytes()
        assert replace(email, unsubscribe_url=None).to_bytes() == email.to_bytes()


def test_with_the_setting_on_each_email_carries_the_line_and_rfc_8058_headers(
        runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, link=True)
    links = Links(PUBLIC, [KEY])
    assert _composed(runtime, links) == _composed(runtime, links)  # a retry builds the same bytes
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), links=links)
    for _ in range(2):  # step 1, then the follow-up two days later
        clock.advance(timedelta(days=2, hours=1))
        dispatcher.run_until_idle()
    dispatcher.close()
    sent = PostOffice(runtime.providers.sandbox).all_sent()  # type: ignore[attr-defined]
    assert len(sent) == 2
    with transaction(runtime.sessions) as session:
        ids = list(session.scalars(select(OutboundMessage.id).order_by(OutboundMessage.step_position)))
    for message, row_id in zip(sent, ids):
        url = links.url(row_id)
        assert str(message["List-Unsubscribe"]) == f"<{url}>"
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        assert message.get_content().replace("\r\n", "\n").rstrip().endswith(f"this link stops my emails:\n{url}")


def test_an_http_public_url_gets_the_line_but_not_the_headers(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, link=True)  # RFC 8058: the one-click URI must be https
    data = _composed(runtime, Links("http://localhost:3000", [KEY]))
    assert b"List-Unsubscribe" not in data
    assert "\nhttp://localhost:3000/unsubscribe/" in message_from_bytes(data, policy=policy.default).get_content()


# ---- the page, over real HTTP ---------------------------------------------------------------------


@pytest.fixture
def served(runtime: Runtime, clock: FakeClock, pages: BotPages) -> tuple[Links, int]:
    """Rita's campaign sent step 1 with the link; the bot's HTTP surface (bot.web) serves the page."""
    _started(runtime, clock, link=True)
    links = Links(PUBLIC, [KEY])
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, links=links)
    clock.advance(timedelta(hours=1))
    dispatcher.run_until_idle()
    dispatcher.close()
    slack = App(signing_secret="unused", token="xoxb-unused", token_verification_enabled=False)
    pages.app = wsgi_app(slack, unsubscribe=UnsubscribeRoutes(runtime, links))
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(OutboundMessage).where(OutboundMessage.status == OutboundStatus.SENT))
        assert row is not None
        return links, row.id


def _entries(runtime: Runtime) -> list[tuple[str, DoNotContactSource]]:
    with transaction(runtime.sessions) as session:
        return [(e.value, e.source) for e in session.scalars(select(DoNotContact))]


def _path(url: str) -> str:
    return url[len(PUBLIC):]


def test_a_get_shows_a_button_and_changes_nothing(runtime: Runtime, pages: BotPages, served: tuple[Links, int]) -> None:
    links, row_id = served
    page = requests.get(pages.url + _path(links.url(row_id)), allow_redirects=False)
    assert page.status_code == 200 and "<form method=post>" in page.text and "One-Click" in page.text
    assert page.headers["Cache-Control"] == "no-store" and "ana0@work.example" not in page.text
    assert not _entries(runtime)


def test_the_one_click_post_lists_the_address_ends_the_candidate_and_tells_the_recruiter_once(
        runtime: Runtime, pages: BotPages, served: tuple[Links, int]) -> None:
    links, row_id = served
    for _ in range(2):  # a mail client's one-click, then the person presses the page's button too
        answer = requests.post(pages.url + _path(links.url(row_id)), data="List-Unsubscribe=One-Click",
                               headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False)
        assert answer.status_code == 200 and "no more emails" in answer.text
    assert _entries(runtime) == [("ana0@work.example", DoNotContactSource.UNSUBSCRIBE)]
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.DO_NOT_CONTACT
        [notice] = session.scalars(select(Notification).where(Notification.kind == "unsubscribed")).all()
        assert "*Ana Candidate0* (ana0@work.example) used the opt-out link" in notice.text
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "dnc.added")) == "dnc.added"
        assert session.scalar(select(OutboundMessage.status).where(OutboundMessage.step_position == 2)) \
            == OutboundStatus.CANCELLED


def test_the_pages_form_posts_as_multipart_too(runtime: Runtime, pages: BotPages, served: tuple[Links, int]) -> None:
    links, row_id = served
    answer = requests.post(pages.url + _path(links.url(row_id)), files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200 and _entries(runtime)


def test_bad_tokens_get_one_answer_and_never_a_500(runtime: Runtime, pages: BotPages, served: tuple[Links, int]) -> None:
    links, row_id = served
    mac = links.token(row_id).split(".")[1]
    bad = [f"{row_id + 1}.{mac}", f"{row_id}.{mac[::-1]}", "x", "", f"{row_id}", "%00", "1.%C3%A9%C3%A9",
           "9" * 300, links.token(row_id + 999)]  # the last: a genuine mac for a row that does not exist
    answers = set()
    for token in bad:
        for method in ("GET", "POST"):
            answer = requests.request(method, f"{pages.url}/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status_code == 404, (token, method, answer.status_code)
            answers.add(answer.text)
    assert len(answers) == 1 and not _entries(runtime)


def test_a_post_that_is_not_one_click_is_refused(runtime: Runtime, pages: BotPages, served: tuple[Links, int]) -> None:
    links, row_id = served
    url = pages.url + _path(links.url(row_id))
    assert requests.post(url, data="hello=world").status_code == 400
    assert requests.post(url, data=b"x" * 10_000).status_code == 400
    assert requests.put(url, data="List-Unsubscribe=One-Click").status_code == 405
    assert not _entries(runtime)
