"""Open tracking end to end: the token (a keyed permutation of the row id: unguessable, the same on a
retry, rotation-proof, owing nothing to the Message-ID), the email (byte for byte unchanged unless the
organisation allows tracking, the campaign asks and a key exists; else multipart/alternative with the
same text part and an HTML copy ending with the 1×1 image), the image over real HTTP (one answer for
every token, no authentication, opens recorded only for sent campaign emails, machine opens told
apart, at most 20 a send, never a 500), deletion with the campaign and the organisation, and retention."""
from __future__ import annotations

import ipaddress
import logging
import random
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from slack_bolt import App
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import OperationalError

from bot.clock import FakeClock
from bot.db import transaction
from bot.jobs import start_scheduler
from bot.models import Campaign, EmailOpen, Organisation, OutboundMessage, OutboundStatus
from bot.config import read_settings
from bot.pixel_web import GIF, PixelRoutes, client_ip
from bot.runtime import Runtime, build_runtime
from bot.services import open_tracking
from bot.services.campaigns import start_campaign
from bot.services.open_tracking import MAX_PER_SEND, RETENTION, Pixels
from bot.services.planner import Planner
from bot.services.unsubscribe import Links
from bot.web import wsgi_app
from providers.sandbox import PostOffice
from scheduling.compose import compose, load_sendables
from scheduling.dispatcher import Dispatcher
from scheduling.timer import EXPIRED_UPLOADS_JOB_ID
from tests import factories
from tests.bot.pages import BotPages
from tests.conftest import make_settings

PUBLIC = "https://outreach.example.com"
KEY, OLD_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


# ---- the token ------------------------------------------------------------------------------------
def test_a_token_names_its_row_reveals_nothing_and_is_the_same_on_a_retry() -> None:
    pixels = Pixels(PUBLIC, [KEY])
    token = pixels.token(42)
    assert len(token) == 22 and pixels.row_of(token) == 42 and Pixels(PUBLIC, [KEY]).token(42) == token
    assert pixels.url(42) == f"{PUBLIC}/o/{token}.gif"
    assert "42" not in token and pixels.token(43)[:4] != token[:4]  # neighbours share nothing visible
    assert Pixels(PUBLIC, [OLD_KEY]).row_of(token) is None  # another deployment's key
    assert Links(PUBLIC, [KEY]).token(42).split(".")[1] != token  # its own key, not the opt-out link's


def test_forged_and_malformed_tokens_name_no_row() -> None:
    pixels = Pixels(PUBLIC, [KEY])
    token = pixels.token(42)
    flipped = [token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:] for i in range(21)]
    assert [pixels.row_of(t) for t in flipped] == [None] * 21  # any change decrypts to garbage
    rng = random.Random(5)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    guesses = ["".join(rng.choice(alphabet) for _ in range(21)) + rng.choice("AQgw") for _ in range(5000)]
    assert all(pixels.row_of(g) is None for g in guesses)
    for bad in ["", "x", token + "A", token[:-1], token[:-1] + "B", "=" * 22, "../../etc/passwd", token + ".gif",
                "é" * 22, "A" * 22, "\n" * 22]:
        assert pixels.row_of(bad) is None, bad


def test_images_sent_before_a_key_rotation_keep_working() -> None:
    old = Pixels(PUBLIC, [OLD_KEY]).token(7)
    rotated = Pixels(PUBLIC, [KEY, OLD_KEY])
    assert rotated.row_of(old) == 7 and rotated.token(7) != old and rotated.row_of(rotated.token(7)) == 7


# ---- the email ------------------------------------------------------------------------------------
def _started(runtime: Runtime, clock: FakeClock, *, allowed: bool, switch: bool, link: bool = False) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        organisation = session.get(Organisation, rita.organisation_id)
        assert organisation is not None
        organisation.open_tracking, organisation.opt_out_link = True, link  # a campaign may ask only when allowed
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock)
        campaign.track_opens = switch
        organisation.open_tracking = allowed
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return campaign.id


def _composed(runtime: Runtime, pixels: Pixels | None, links: Links | None = None, step: int = 1) -> bytes:
    with transaction(runtime.sessions) as session:
        [item] = load_sendables(session, list(session.scalars(select(OutboundMessage.id).where(
            OutboundMessage.step_position == step))))
        steps = Planner(session, rng=random.Random(1), now=runtime.clock.now()).steps(item.sequence_id)
        return compose(item, steps, runtime.clock.now(), links, pixels).to_bytes()


def _first_row(runtime: Runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalars(select(OutboundMessage.id).where(OutboundMessage.step_position == 1)).one()


@pytest.mark.parametrize("allowed, switch", [(False, True), (True, False), (False, False)])
def test_unless_the_organisation_allows_and_the_campaign_asks_the_email_is_unchanged(
        runtime: Runtime, clock: FakeClock, allowed: bool, switch: bool) -> None:
    _started(runtime, clock, allowed=allowed, switch=switch, link=True)
    links = Links(PUBLIC, [KEY])
    plain = _composed(runtime, None, links)
    assert _composed(runtime, Pixels(PUBLIC, [KEY]), links) == plain and plain.startswith(b"Content-Type: text/plain")


def test_without_an_encryption_key_there_is_no_image(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, allowed=True, switch=True)
    assert b"multipart" not in _composed(runtime, open_tracking.pixels_for(PUBLIC, []))


def test_a_tracked_email_keeps_its_text_part_and_adds_html_ending_with_the_image(
        runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, allowed=True, switch=True, link=True)
    pixels, links = Pixels(PUBLIC, [KEY]), Links(PUBLIC, [KEY])
    tracked, untracked = _composed(runtime, pixels, links), _composed(runtime, None, links)
    assert _composed(runtime, Pixels(PUBLIC, [KEY]), links) == tracked  # a retry builds the same bytes
    message, before = (message_from_bytes(b, policy=policy.default) for b in (tracked, untracked))
    assert message.get_content_type() == "multipart/alternative"
    assert [h for h in message.keys() if h != "Content-Type"] == [h for h in before.keys() if h not in (
        "Content-Type", "Content-Transfer-Encoding")]  # the same headers, in the same order
    text = message.get_body(("plain",))
    assert text.get_content() == before.get_content()  # the text part exactly as without tracking
    assert text.get_payload(decode=False) == before.get_payload(decode=False)
    page = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    url = pixels.url(_first_row(runtime))
    assert page.rstrip().endswith(f'<img src="{url}" width="1" height="1" alt="">\n</body></html>')
    assert "Hi Ana,<br>" in page and f'<a href="{links.url(_first_row(runtime))}">' in page  # the opt-out link


def test_the_image_owes_nothing_to_the_message_id(runtime: Runtime, clock: FakeClock) -> None:
    _started(runtime, clock, allowed=True, switch=True)
    pixels = Pixels(PUBLIC, [KEY])
    before = message_from_bytes(_composed(runtime, pixels), policy=policy.default).get_body(("html",)).get_content()
    with transaction(runtime.sessions, write=True) as session:
        message_id = session.scalar(select(OutboundMessage.message_id).where(OutboundMessage.step_position == 1))
        session.execute(update(OutboundMessage).where(OutboundMessage.step_position == 1)
                        .values(message_id="<another@acme.example>"))
    after = message_from_bytes(_composed(runtime, pixels), policy=policy.default).get_body(("html",)).get_content()
    assert after == before and message_id.strip("<>").split("@")[0] not in before


def test_the_switch_is_read_at_send_time_and_a_tracked_email_goes_out_and_can_be_replied_to(
        runtime: Runtime, clock: FakeClock) -> None:
    campaign_id = _started(runtime, clock, allowed=True, switch=False)
    pixels = Pixels(PUBLIC, [KEY])
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2), pixels=pixels)
    clock.advance(timedelta(hours=1))
    dispatcher.run_until_idle()  # step 1, untracked
    with transaction(runtime.sessions, write=True) as session:
        session.get(Campaign, campaign_id).track_opens = True  # an edit: applies from the next email
    clock.advance(timedelta(days=2, hours=1))
    dispatcher.run_until_idle()
    dispatcher.close()
    office = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    first, second = office.all_sent()
    assert first.get_content_type() == "text/plain" and second.get_content_type() == "multipart/alternative"
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(OutboundMessage.id).where(OutboundMessage.step_position == 2))
    assert pixels.url(row) in second.get_body(("html",)).get_content()
    reply = office.reply("rita@acme.example", second, "Sounds good", clock.now())  # the sandbox reads it too
    said = reply.message.get_content()
    assert said.startswith("Sounds good\n") and "\n> Hi Ana, any thoughts?" in said and "Content-Type" not in said


# ---- the image, over real HTTP --------------------------------------------------------------------


def _serve(pages: BotPages, runtime: Runtime, pixels: Pixels | None) -> None:
    slack = App(signing_secret="unused", token="xoxb-unused", token_verification_enabled=False)
    pages.app = wsgi_app(slack, pixel=PixelRoutes(runtime, pixels))


def _send_step_1(runtime: Runtime, clock: FakeClock, pixels: Pixels) -> int:
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, pixels=pixels)
    clock.advance(timedelta(hours=1))
    dispatcher.run_until_idle()
    dispatcher.close()
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(OutboundMessage).where(OutboundMessage.status == OutboundStatus.SENT))
        assert row is not None and row.sent_at == clock.now()
        return row.id


@pytest.fixture
def served(runtime: Runtime, clock: FakeClock, pages: BotPages) -> tuple[Pixels, int]:
    """Rita's campaign sent step 1 with the image; the bot's HTTP surface (bot.web) serves the image."""
    _started(runtime, clock, allowed=True, switch=True)
    pixels = Pixels(PUBLIC, [KEY])
    row_id = _send_step_1(runtime, clock, pixels)
    _serve(pages, runtime, pixels)
    return pixels, row_id


def _opens(runtime: Runtime) -> list[tuple[int, str | None, bool, str | None]]:
    with transaction(runtime.sessions) as session:
        return [(o.outbound_message_id, o.ip, o.machine, o.machine_reason)
                for o in session.scalars(select(EmailOpen).order_by(EmailOpen.id))]


def _fetch(pages: BotPages, url: str, agent: str = BROWSER, method: str = "GET", **headers: str) -> requests.Response:
    return requests.request(method, pages.url + url[len(PUBLIC):] if url.startswith(PUBLIC) else pages.url + url,
                            headers={"User-Agent": agent, **headers}, allow_redirects=False)


def _answer(response: requests.Response) -> tuple[int, bytes, dict[str, str]]:
    return response.status_code, response.content, {k: v for k, v in response.headers.items() if k != "Date"}


def test_every_token_gets_the_same_image_and_headers_without_authentication(
        runtime: Runtime, clock: FakeClock, pages: BotPages, served: tuple[Pixels, int]) -> None:
    pixels, row_id = served
    clock.advance(timedelta(minutes=5))
    valid = pixels.url(row_id)
    pending = pixels.url(row_id + 1)  # step 2: a real row, not sent yet
    forged = Pixels(PUBLIC, [OLD_KEY]).url(row_id)
    others = [valid, pending, forged, pixels.url(row_id + 999), "/o/garbage.gif", "/o/", "/o/%00.gif",
              "/o/" + "A" * 5000 + ".gif", valid[:-4], valid + "?x=1", "/o/..%2F..%2Fetc%2Fpasswd.gif"]
    answers = {url: _answer(_fetch(pages, url)) for url in others}
    status, body, headers = answers[valid]
    assert status == 200 and body == GIF and len(GIF) == 43 and body[:6] == b"GIF89a"
    assert headers["Content-Type"] == "image/gif" and headers["Content-Length"] == "43"
    assert headers["Cache-Control"] == "no-store, no-cache, private" and headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in headers["X-Robots-Tag"] and "Set-Cookie" not in headers
    assert {url: answer for url, answer in answers.items() if answer != answers[valid]} == {}
    assert _opens(runtime) == [(row_id, "127.0.0.1", False, None)] * 2  # only the sent email's (a query is ignored)
    head = _fetch(pages, valid, method="HEAD")
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == "43"
    for method in ("POST", "PUT", "DELETE"):
        assert _fetch(pages, valid, method=method).status_code == 405
    assert len(_opens(runtime)) == 2  # neither the HEAD (nothing loaded) nor the refused methods count


def test_machine_opens_are_told_apart(runtime: Runtime, clock: FakeClock, pages: BotPages,
                                      served: tuple[Pixels, int]) -> None:
    pixels, row_id = served
    url = pixels.url(row_id)
    _fetch(pages, url, GMAIL)  # the send's own second: the proxy is named before the timing
    _fetch(pages, url)  # a browser, within a minute of the send: a scanner's prefetch, not a person
    clock.advance(timedelta(minutes=3))
    _fetch(pages, url, "Mozilla/5.0")  # Apple Mail Privacy Protection's bare agent
    _fetch(pages, url, "Mozilla/5.0 (compatible; Barracuda Sentinel)")
    _fetch(pages, url, BROWSER, **{"X-Forwarded-For": "17.58.100.1"})  # not believed: no trusted proxy
    assert _opens(runtime) == [(row_id, "127.0.0.1", True, "gmail_proxy"), (row_id, "127.0.0.1", True, "too_soon"),
                               (row_id, "127.0.0.1", True, "apple_privacy"), (row_id, "127.0.0.1", True, "scanner"),
                               (row_id, "127.0.0.1", False, None)]


def test_behind_a_trusted_proxy_the_forwarded_address_is_kept(
        tmp_path: Path, engine: Engine, clock: FakeClock, pages: BotPages) -> None:
    runtime = build_runtime(make_settings(tmp_path, OUTREACH_TRUSTED_PROXIES="127.0.0.0/8, 10.0.0.0/8"), clock=clock,
                            rng=random.Random(7), engine=engine)
    _started(runtime, clock, allowed=True, switch=True)
    pixels = Pixels(PUBLIC, [KEY])
    row_id = _send_step_1(runtime, clock, pixels)
    _serve(pages, runtime, pixels)
    clock.advance(timedelta(minutes=5))
    url = pixels.url(row_id)
    _fetch(pages, url, **{"X-Forwarded-For": "6.6.6.6, 17.58.100.1, 10.1.2.3"})  # the last hop not a proxy of ours
    _fetch(pages, url, **{"X-Forwarded-For": "203.0.113.9"})
    _fetch(pages, url, **{"X-Forwarded-For": "not-an-address"})
    assert _opens(runtime) == [(row_id, "17.58.100.1", True, "apple_privacy"), (row_id, "203.0.113.9", False, None),
                               (row_id, None, False, None)]


def test_opens_are_recorded_for_sent_campaign_emails_only_while_allowed_and_at_most_20(
        runtime: Runtime, clock: FakeClock, pages: BotPages, served: tuple[Pixels, int]) -> None:
    pixels, row_id = served
    clock.advance(timedelta(minutes=5))
    for _ in range(MAX_PER_SEND + 5):
        assert _fetch(pages, pixels.url(row_id)).content == GIF
    assert len(_opens(runtime)) == MAX_PER_SEND
    with transaction(runtime.sessions, write=True) as session:
        session.execute(delete(EmailOpen))
        session.execute(update(Organisation).values(open_tracking=False))  # an admin stopped tracking
    assert _fetch(pages, pixels.url(row_id)).content == GIF and _opens(runtime) == []
    _serve(pages, runtime, None)  # no encryption key: nothing to read a token with
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Organisation).values(open_tracking=True))
    assert _fetch(pages, pixels.url(row_id)).content == GIF and _opens(runtime) == []


def test_a_database_error_still_serves_the_image_and_logs_no_token(
        runtime: Runtime, clock: FakeClock, pages: BotPages, served: tuple[Pixels, int],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    pixels, row_id = served

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise OperationalError("INSERT INTO email_opens", {}, Exception("database is locked"))

    monkeypatch.setattr(open_tracking, "record", broken)
    with caplog.at_level(logging.WARNING, logger="bot.pixel_web"):
        answer = _fetch(pages, pixels.url(row_id))
    assert answer.status_code == 200 and answer.content == GIF
    assert "not recorded" in caplog.text and pixels.token(row_id) not in caplog.text


# ---- deletion and retention -----------------------------------------------------------------------
def _with_opens(runtime: Runtime, clock: FakeClock) -> tuple[int, int]:
    campaign_id = _started(runtime, clock, allowed=True, switch=True)
    row_id = _send_step_1(runtime, clock, Pixels(PUBLIC, [KEY]))
    with transaction(runtime.sessions, write=True) as session:
        for minutes in (5, 60):
            assert open_tracking.record(session, row_id=row_id, ip="198.51.100.7", user_agent=BROWSER,
                                        now=clock.now() + timedelta(minutes=minutes))
        return campaign_id, session.get(Campaign, campaign_id).organisation_id  # type: ignore[union-attr]


def test_opens_are_deleted_with_the_campaign(runtime: Runtime, clock: FakeClock) -> None:
    campaign_id, _ = _with_opens(runtime, clock)
    assert len(_opens(runtime)) == 2
    with transaction(runtime.sessions, write=True) as session:
        session.execute(delete(Campaign).where(Campaign.id == campaign_id))
    assert _opens(runtime) == []


def test_opens_are_deleted_with_the_organisation(runtime: Runtime, clock: FakeClock) -> None:
    _, organisation_id = _with_opens(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        session.execute(delete(Organisation).where(Organisation.id == organisation_id))
    assert _opens(runtime) == []


def test_upkeep_deletes_opens_past_their_retention_on_the_runtimes_clock(runtime: Runtime, clock: FakeClock) -> None:
    _with_opens(runtime, clock)  # opened 5 and 60 minutes after the send
    timer = start_scheduler(runtime, interval_seconds=3600)
    try:
        clock.advance(RETENTION + timedelta(minutes=30))
        timer.run_now(EXPIRED_UPLOADS_JOB_ID)
        assert len(_opens(runtime)) == 1  # the first is past a year; the second not yet
        clock.advance(timedelta(hours=1))
        timer.run_now(EXPIRED_UPLOADS_JOB_ID)
        assert _opens(runtime) == []
    finally:
        timer.shutdown()


# ---- the address kept -----------------------------------------------------------------------------
def test_trusted_proxies_are_a_setting_checked_like_any_other() -> None:
    settings, problems = read_settings(_env_file=None, OUTREACH_TRUSTED_PROXIES="10.0.0.0/8, 2001:db8::1")
    assert settings.trusted_proxies == ["10.0.0.0/8", "2001:db8::1/128"] and not problems
    _, problems = read_settings(_env_file=None, OUTREACH_TRUSTED_PROXIES="10.0.0.0/8, proxy.internal")
    assert problems["OUTREACH_TRUSTED_PROXIES"].startswith("OUTREACH_TRUSTED_PROXIES is not valid: expected "
                                                           "comma-separated IP addresses or networks")


@pytest.mark.parametrize("remote, forwarded, trusted, kept", [
    ("203.0.113.9", "17.1.1.1", [], "203.0.113.9"),  # no trusted proxy: the header is anybody's to write
    ("10.0.0.2", "17.1.1.1", ["10.0.0.0/8"], "17.1.1.1"),
    ("10.0.0.2", "6.6.6.6, 17.1.1.1, 10.0.0.3", ["10.0.0.0/8"], "17.1.1.1"),  # the client names what it likes first
    ("203.0.113.9", "17.1.1.1", ["10.0.0.0/8"], "203.0.113.9"),  # not through our proxy: the header is ignored
    ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
    ("10.0.0.2", "10.0.0.7", ["10.0.0.0/8"], "10.0.0.7"),  # a client inside our own network
    ("10.0.0.2", "garbage", ["10.0.0.0/8"], None),
    ("::1", "2001:db8::5", ["::1/128"], "2001:db8::5"),
    ("", "", [], None),
])
def test_the_address_kept(remote: str, forwarded: str, trusted: list[str], kept: str | None) -> None:
    networks = [ipaddress.ip_network(n) for n in trusted]
    assert client_ip({"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}, networks) == kept
