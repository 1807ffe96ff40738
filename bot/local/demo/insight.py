"""The demo's scenes of insight (issue 19): an admin allows open tracking, Rita turns it on for
Platform Q1, two candidates' mail clients load the image (Kai in his mail app, and Gmail's image
proxy for Noor), and
Rita reads the campaign's results per step, as a table and as a chart on its message. A mixin of
bot.local.demo.story.Demo, which holds the workspace, the people, the post office and the clock."""
from __future__ import annotations

import struct
from datetime import timedelta
from email.message import Message
from typing import Any

from bot.jobs import tracking_pixels
from bot.local.demo.cast import RITA
from bot.local.demo.transcript import home_text, last_ephemeral_text
from bot.local.slack import Person, render_blocks
from bot.pixel_web import PixelRoutes
from providers.sandbox import recipient_of

ADA = "U0ADA"  # a workspace admin
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"


def tracking_image_url(email: Message) -> str | None:
    """The open-tracking image's address in a sent email's HTML part, if it has one."""
    html = email.get_body(("html",))
    if html is None:
        return None
    text = html.get_content()
    start = text.rfind('<img src="')
    return text[start + len('<img src="'):text.index('"', start + len('<img src="'))] if start >= 0 else None


class InsightScenes:
    """Scenes of bot.local.demo.story.Demo, which gives them self.ws, self.rita, self.runtime,
    self.post_office, self.expect, pass_time, show_slack and the campaign-message helpers."""

    ws: Any
    rita: Person

    def admin_allows_tracking(self) -> None:
        self.scene("Ada, a workspace admin, allows open tracking for the team")
        self.ws.add_user(ADA, name="ada", real_name="Ada Admin", tz="America/New_York", is_admin=True)
        ada = Person(self.ws, ADA, self.rita.target)
        self.rita.slash("/outreach", "admin tracking")
        refused = last_ephemeral_text(self.ws, RITA)
        ada.slash("/outreach", "admin tracking")
        saved = ada.submit({"allow": ["allow"]})
        self.show_slack()
        self.expect.check("Rita (no admin) is refused; Ada's modal saves the setting",
                          "admin" in refused.lower() and saved.ok)

    def candidates_open(self) -> None:
        """After Platform Q1's first emails went out: Kai reads his in Thunderbird; Noor's Gmail fetches
        hers through Google's image proxy (a machine open, never counted as her reading it)."""
        self.scene("Kai opens Rita's email; Gmail's image proxy fetches Noor's")
        sent = {recipient_of(m): m for m in self.post_office.sent("rita@acme.example")}
        urls = {who: tracking_image_url(sent[who]) for who in ("kai@work.example", "noor@work.example")}
        self.expect.check("Platform Q1's emails carry the tracking image (Rita switched it on in the modal)",
                          all(urls.values()))
        routes = PixelRoutes(self.runtime, tracking_pixels(self.runtime))
        self.pass_time(timedelta(hours=1))
        answers = [self._load_image(routes, urls["kai@work.example"], "198.51.100.23", THUNDERBIRD),
                   self._load_image(routes, urls["noor@work.example"], "66.249.84.10", GMAIL_PROXY),
                   self._load_image(routes, "/o/" + "A" * 22 + ".gif", "203.0.113.9", THUNDERBIRD)]
        self.out.write("    GET the image: Kai (Thunderbird), Noor's (via GoogleImageProxy), and a made-up token:\n"
                       + "".join(f"      {status}, {len(body)} bytes\n" for status, body in answers))
        self.expect.check("every load gets the same 200 and the same 43-byte image, a made-up token included",
                          len({(status, body) for status, body in answers}) == 1 and answers[0][0] == "200 OK")

    def results(self) -> None:
        self.pass_time(timedelta(minutes=15))  # the chart is redrawn at most every 10 minutes
        self.scene("Rita reads Platform Q1's results per step: a table, and a chart on its message")
        self.rita.slash("/outreach", "stats Platform Q1")
        table = last_ephemeral_text(self.ws, RITA)
        self.show_slack()
        self.expect.check("/outreach stats shows per step: sent, bounced, out of office, opened (the proxy's "
                          "machine open apart), replied, reply rate and median time to reply",
                          all(word in table for word in ("Step 1", "Step 2", "Total", "Bounced", "OOO", "Opened",
                                                         "(+1 machine)", "Replied", "Rate", "Median")))
        message = self._campaign_message("Platform Q1")
        images = [b for b in message.blocks if b.get("type") == "image"]
        self.expect.check("the campaign message has a Results section and the chart in an image block",
                          "*Results*" in render_blocks(message.blocks) and len(images) == 1
                          and "slack_file" in images[0])
        png = self.ws._files[images[0]["slack_file"]["id"]].content if images else b""
        width, height = struct.unpack(">II", png[16:24]) if png[:8] == PNG_SIGNATURE else (0, 0)
        (self.workdir / "platform-q1-results.png").write_bytes(png)
        self.out.write(f"    the chart is a {width}×{height} PNG, saved as {self.workdir / 'platform-q1-results.png'}\n")
        self.expect.check("the chart uploaded with files_upload_v2 is a real 1200×600 PNG",
                          (width, height) == (1200, 600))

        self.scene("Ada, the admin, opens her Home tab: the team's chart and each recruiter's total")
        Person(self.ws, ADA, self.rita.target).open_home()
        self.show_slack()
        team = home_text(self.ws, ADA)
        self.expect.check("an admin's Home shows the team's results and Rita's line in the per-recruiter table",
                          "The team's results, last 30 days" in team and "Rita Recruiter" in team
                          and any(b.get("type") == "image" for b in self.ws.home(ADA)["blocks"]))

    def _load_image(self, routes: PixelRoutes, url: str | None, ip: str, agent: str) -> tuple[str, bytes]:
        """A mail client loading the image: a GET to the bot's web server (its WSGI app, called directly)."""
        path = "/" + (url or "").split("://", 1)[-1].split("/", 1)[-1]
        answer: dict[str, str] = {}
        body = b"".join(routes({"REQUEST_METHOD": "GET", "PATH_INFO": path, "REMOTE_ADDR": ip,
                                "HTTP_USER_AGENT": agent},
                               lambda status, headers: answer.setdefault("status", status)))
        return answer["status"], body
