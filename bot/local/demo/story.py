"""`outreach demo`: a scripted, offline walk through the bot's main job.

Everything is real except the outside world: a fresh SQLite file, the bot's Bolt app receiving
signed requests from the local Slack workspace, the real scheduler and dispatcher, and sandbox
mailboxes that keep what they send. A simulated clock lets days pass in seconds. The transcript
shows what each person sees in Slack and every email that goes out; the demo exits 0 only when
every scripted expectation held, else 1 naming those that did not.
"""
from __future__ import annotations

import random
import sys
import tempfile
from contextlib import ExitStack
from datetime import date, time, timedelta
from email.message import Message
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Settings
from bot.crypto import new_key
from bot.campaign_import import import_campaign_text
from bot.db import transaction, upgrade
from bot.local.demo.cast import (
    CAMPAIGN_FILE,
    HIRING,
    MANAGER_BOX,
    OMAR,
    RITA,
    SMALL_CAMPAIGN,
    START,
    TESS,
    ZONE,
    Expectations,
)
from bot.local.demo.insight import InsightScenes
from bot.local.demo.long_run import LongRunScenes
from bot.local.demo.transcript import buttons, home_text, indent, last_ephemeral_text, render_email, sent_at
from bot.local.slack import BoltTarget, LocalSlack, Person, SkipClock, render_activity
from bot.local.slack.model import Message as LocalMessage
from bot.models import Campaign, CampaignStatus, PauseReason
from bot.runtime import Runtime, build_runtime
from bot.slack_app import build_app
from handlers.ids import Action
from providers.sandbox import PostOffice, recipient_of
from bot.jobs import start_scheduler
from scheduling.dispatcher import next_wakeup
from scheduling.timer import CAMPAIGN_MESSAGES_JOB_ID, DISPATCH_JOB_ID, NOTICES_JOB_ID, SYNC_JOB_ID, Timer


class Demo(LongRunScenes, InsightScenes):
    def __init__(self, workdir: Path, out: TextIO) -> None:
        self.out = out
        self.expect = Expectations(out)
        self.clock = FakeClock(START)
        self.workdir = workdir
        # Slack's times follow the story: message ts, and the rate-limit windows, which the bot's
        # client waits out on this clock (a 429's Retry-After passes in no real time).
        self.slack_time = SkipClock(base=lambda: self.clock.now().timestamp())
        self.ws = LocalSlack(wallclock=lambda: self.clock.now().timestamp(), monotonic=self.slack_time)
        self._seen_activity = 0
        self._seen_mail = 0
        self._shown_full = False

    # -- the stage --------------------------------------------------------------------------
    def setup(self, stack: ExitStack) -> None:
        ws = stack.enter_context(self.ws.start())
        ws.add_user(RITA, name="rita", real_name="Rita Recruiter", tz=str(ZONE), email="rita@acme.example")
        ws.add_user(OMAR, name="omar", real_name="Omar Manager", tz="Europe/Paris", email=MANAGER_BOX)
        ws.add_user(TESS, name="tess", real_name="Tess Teammate", tz=str(ZONE), email="tess@acme.example")
        ws.add_channel(HIRING, name="hiring", members=[RITA])
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=f"sqlite:///{self.workdir / 'demo.sqlite3'}",
            SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET=ws.signing_secret, SLACK_API_URL=ws.api_url,
            OUTREACH_SANDBOX_MAILBOXES=True, OUTREACH_SANDBOX_DIR=str(self.workdir / "sandbox-mail"),
            OUTREACH_ENCRYPTION_KEYS=new_key(),
        )
        self.runtime: Runtime = build_runtime(settings, clock=self.clock, rng=random.Random(2026))
        upgrade(self.runtime.engine)
        app = build_app(self.runtime, process_before_response=True, slack_sleep=self.slack_time.sleep)
        # The real APScheduler timer; its interval is long because the demo fires it by hand each
        # time the simulated clock has moved.
        self.timer: Timer = start_scheduler(self.runtime, slack_client=app.client, interval_seconds=3600)
        stack.callback(self.timer.shutdown)
        self.post_office = PostOffice(self.runtime.providers.sandbox)  # type: ignore[attr-defined]
        self.rita = Person(ws, RITA, BoltTarget(app))
        self.omar = Person(ws, OMAR, BoltTarget(app))
        self.tess = Person(ws, TESS, BoltTarget(app))

    # -- narration ----------------------------------------------------------------------------
    def scene(self, title: str) -> None:
        when = self.clock.now().astimezone(ZONE).strftime("%a %d %b %H:%M %Z")
        self.out.write(f"\n━━ {when} ━━ {title}\n")

    def show_slack(self) -> None:
        for activity in self.ws.transcript_since(self._seen_activity):
            self.out.write(indent(render_activity(activity, self.ws.user_name)) + "\n")
        self._seen_activity = self.ws.mark()

    def new_mail(self) -> list[Message]:
        """Print what went out since last asked: the first email in full, then one line each."""
        sent = sorted(self.post_office.all_sent(), key=sent_at)
        fresh, self._seen_mail = sent[self._seen_mail:], len(sent)
        for email in fresh:
            if not self._shown_full:
                self.out.write(indent(render_email(email)) + "\n")
                self._shown_full = True
            else:
                self.out.write(f"    ✉ {sent_at(email).astimezone(ZONE):%a %H:%M:%S}  {email['To']:<22} "
                               f"{email['Subject']}\n")
        return fresh

    def pass_time(self, delta: timedelta) -> None:
        """Move the simulated clock, stopping at every moment something can happen (a send falls
        due, a mailbox's wait ends), and let the real scheduler run its jobs at each stop."""
        target = self.clock.now() + delta
        self.clock.advance(min(delta, timedelta(minutes=1)))  # the sync reads each mailbox once a minute
        while True:
            self.tick()
            with transaction(self.runtime.sessions) as session:
                wake = next_wakeup(session, self.clock.now())
            if wake is None or wake > target:
                break
            self.clock.set(wake)
        self.clock.set(target)
        self.tick()

    def tick(self) -> None:
        self.timer.run_now(DISPATCH_JOB_ID)
        self.timer.run_now(NOTICES_JOB_ID)
        self.timer.run_now(SYNC_JOB_ID)
        self.timer.run_now(CAMPAIGN_MESSAGES_JOB_ID)

    # -- the script ---------------------------------------------------------------------------
    def run(self) -> None:
        self.scene("Rita asks the bot what it can do")
        self.rita.slash("/outreach", "help")
        self.show_slack()
        help_text = last_ephemeral_text(self.ws, RITA)
        self.expect.check("/outreach help lists connect and mailboxes",
                          "/outreach connect" in help_text and "/outreach mailboxes" in help_text)

        self.scene("Rita opens the bot's Home tab for the first time")
        self.rita.open_home()
        self.show_slack()
        self.expect.check("the Home tab says to connect a mailbox first", "No mailbox connected yet" in home_text(self.ws))

        self.scene("Rita connects a sandbox mailbox")
        self.rita.slash("/outreach", "connect")
        self.rita.submit({"provider": "sandbox", "address": "rita@acme.example"})
        self.show_slack()
        dm = [m.text for m in self.rita.dm_messages()]
        self.expect.check("Rita gets a DM that rita@acme.example is connected",
                          any("rita@acme.example is connected" in text for text in dm))
        self.expect.check("the Home tab lists the mailbox", "rita@acme.example" in home_text(self.ws))

        self.clock.set(START.replace(hour=12, minute=10))
        self.scene("At 12:10 Rita starts a three-step 'best time' campaign for six candidates from a file")
        self.out.write("    (for scripting, a campaign can come from a file; the last act builds one in Slack)\n"
                       "    $ outreach campaign import backend-q4.yaml --start\n")
        self.out.write(indent(CAMPAIGN_FILE, "    │ ") + "\n")
        result = import_campaign_text(self.runtime, CAMPAIGN_FILE, file="backend-q4.yaml", start=True)
        self.out.write(f"    {result.summary()}\n")
        self.out.write("    Best time, started between 10:00 and 19:00: step 1 at 16:00, later steps 07:00–09:00.\n"
                       "    The daily cap of 4 is set low so this short demo reaches it (real defaults stay 10%\n"
                       "    under the provider's limit, e.g. 1,800 a day for Gmail Workspace).\n")
        self.rita.open_home()
        self.show_slack()

        self.pass_time(timedelta(hours=3, minutes=49))
        self.scene("15:59: nothing has left yet")
        self.expect.check("no email leaves before the 16:00 best-time window", not self.new_mail())

        self.pass_time(timedelta(hours=8))
        self.scene("Monday evening: step 1 went out from 16:00, one a minute, until the daily cap")
        monday = self.new_mail()
        self.show_slack()
        times = [sent_at(m) for m in monday]
        self.expect.check("four step-1 emails went out, at or after 16:00 and at least 60 s apart",
                          lambda: len(monday) == 4 and times[0] >= START.replace(hour=16, minute=0)
                          and all(b - a >= timedelta(seconds=60) for a, b in zip(times, times[1:])))
        self.expect.check("Rita got one DM: the cap was reached, the campaign will finish later than planned",
                          sum("reached its limit of 4 emails" in m.text for m in self.rita.dm_messages()) == 1
                          and any("will finish later than planned" in m.text for m in self.rita.dm_messages()))

        self.pass_time(timedelta(days=1))
        self.scene("Tuesday: the two held step-1 emails go out once the rolling 24 hours allow")
        tuesday = self.new_mail()
        self.expect.check("the two held emails went out on Tuesday, none was dropped", len(tuesday) == 2)

        self.pass_time(timedelta(days=8))
        self.scene("The following week: follow-ups in the same thread, within the cap")
        later = self.new_mail()
        self.show_slack()
        everything = monday + tuesday + later
        by_candidate: dict[str, list[Message]] = {}
        for email in everything:
            by_candidate.setdefault(recipient_of(email), []).append(email)
        ids = [str(m["Message-ID"]) for m in everything]
        self.expect.check("every candidate got each of the three steps exactly once",
                          len(ids) == len(set(ids)) == 18 and all(len(v) == 3 for v in by_candidate.values()))
        self.expect.check("each follow-up answers the one before it, with a 'Re:' subject",
                          lambda: all(thread[i]["In-Reply-To"] == thread[i - 1]["Message-ID"]
                                      and str(thread[i]["Subject"]).startswith("Re: ")
                                      for thread in by_candidate.values() for i in (1, 2)))
        early = [m for m in later if time(7) <= sent_at(m).astimezone(ZONE).time() <= time(9, 1)]
        self.expect.check("follow-ups not held by the cap went out between 07:00 and 09:00", len(early) >= 4)
        self.expect.check("a follow-up the cap held moved to a later weekday's 07:00–09:00 window: none went out "
                          "late or on a weekend", len(early) == len(later) == 12
                          and all(sent_at(m).astimezone(ZONE).weekday() < 5 for m in everything))
        self.rita.open_home()
        self.show_slack()
        self.expect.check("the Home tab shows the campaign finished with 18 emails sent",
                          "finished" in home_text(self.ws) and "18 emails sent" in home_text(self.ws))
        self.lost_connection()
        self.admin_allows_tracking()
        self.campaign_in_slack()
        self.removed_candidate()
        self.candidates_open()
        self.edit_send_days()
        self.replies_and_bounces()
        self.please_remove_me()
        self.results()
        self.teammate()
        self.delegation()

    def lost_connection(self) -> None:
        self.scene("Rita starts two more campaigns; then her mailbox's sign-in is revoked")
        for name, person, email in (("Data", "Gus Park", "gus@work.example"),
                                    ("Mobile", "Hana Mori", "hana@work.example")):
            result = import_campaign_text(self.runtime, SMALL_CAMPAIGN.format(name=name, person=person, email=email),
                                          file=f"{name.lower()}.yaml", start=True)
            self.out.write(f"    $ outreach campaign import {name.lower()}.yaml --start\n    {result.summary()}\n")
        self.runtime.providers.sandbox.inject("rita@acme.example", "reconnect")  # type: ignore[attr-defined]
        self.out.write("    (the mail provider will answer the next send with invalid_grant)\n")
        self.pass_time(timedelta(minutes=30))
        self.show_slack()
        lost = [m for m in self.rita.dm_messages() if "was lost" in m.text]
        self.expect.check("one DM says the connection was lost and 2 campaigns are paused, with a Reconnect button",
                          len(lost) == 1 and "2 campaigns are paused" in lost[0].text
                          and "Reconnect" in str(lost[0].blocks))
        self.expect.check("nothing was sent while the mailbox needed reconnecting", not self.new_mail())

        self.scene("Rita presses Reconnect in that DM and signs in again")
        self.rita.click("mailbox.reconnect", in_message=lost[0])
        self.rita.submit({"provider": "sandbox", "address": "rita@acme.example"})
        self.show_slack()
        thread = [m for m in self.rita.dm_messages() if m.thread_ts == lost[0].ts]
        offer = next((m for m in thread if "Resume 2 paused campaigns" in m.text), None)
        self.expect.check("the same DM thread says it is connected and offers to resume both campaigns",
                          offer is not None and any("is connected" in m.text for m in thread))

        self.scene("Rita resumes both campaigns with one click")
        if offer is not None:
            self.rita.click("mailbox.resume_all", in_message=offer)
        self.pass_time(timedelta(minutes=45))
        self.show_slack()
        resumed = self.new_mail()
        self.expect.check("both campaigns resumed and their first emails went out",
                          sorted(recipient_of(m) for m in resumed) == ["gus@work.example", "hana@work.example"])


    def campaign_in_slack(self) -> None:
        self.pass_time(timedelta(days=1))
        self.scene("Rita builds a two-step sequence in Slack; a typo in a template is caught on its field")
        self.rita.slash("/outreach", "sequence new")
        self.rita.click("sequence.add_step", values={
            "name": "Platform engineers", "subject_1": "{{ first_name }}, platform work at {{ company }}",
            "body_1": "Hi {{ first_name }},\n\nWe're growing the platform team at {{ company }}. Interested?\n\nRita"})
        step_2 = {"subject_2": "Following up", "delay_2": "3"}
        refused = self.rita.submit({**step_2, "body_2": "Hi {{ first_name }, just checking in. Rita"})
        self.show_slack()
        self.out.write(f"    ⚠ the modal answers on the step 2 body: {(refused.errors or {}).get('body_2')}\n")
        self.expect.check("a template that does not parse is refused on its field, with the line",
                          "line 1" in str((refused.errors or {}).get("body_2")))
        self.rita.submit({**step_2, "body_2": "Hi {{ first_name }}, just checking in. Rita"})
        self.show_slack()

        self.scene("Rita creates a campaign from the modal (time zone from her Slack profile), tracking opens")
        self.rita.slash("/outreach", "campaign new")
        self.rita.submit({"name": "Platform Q1", "sequence": self._option("sequence", "Platform engineers"),
                          "alert_channel": HIRING, "track_opens": ["yes"]})
        self.show_slack()

        self.scene("Rita drops a CSV into her DM with the bot; one row has a broken address")
        self.rita.upload("platform.csv", (
            "name,work email,personal email,company\n"
            "Ines Duarte,ines@work.example,ines@home.example,Acme\n"
            "Jon Berg,jon(at)work.example,,Acme\n"
            "Kai Sato,kai@work.example,,Acme\n").encode())
        self.show_slack()
        summary = self.rita.dm_messages()[-1]
        self.expect.check("the upload names the bad row by its line and adds nothing before Rita confirms",
                          "line 3" in str(summary.blocks) and "2 candidates ready" in summary.text)
        self.rita.click("campaign.upload_confirm", in_message=summary)
        self.rita.click("campaign.start")
        self.show_slack()
        self.expect.check("after Start both candidates show Not Started, step 1 Pending",
                          self._campaign_text().count("Not Started · step 1 Pending") == 2)

        self.pass_time(timedelta(minutes=10))
        self.scene("Ten minutes later Rita pauses it: nothing has left yet")
        self.rita.click("campaign.pause")
        self.pass_time(timedelta(hours=2))
        self.show_slack()
        self.expect.check("nothing was sent while the campaign was paused", not self.new_mail())

        self.scene("Rita resumes it: sending restarts within 20 minutes, from where it left off")
        resumed_at = self.clock.now()
        self.rita.click("campaign.resume")
        self.pass_time(timedelta(minutes=45))
        sent = self.new_mail()
        self.show_slack()
        self.expect.check("both first emails went out 20 to 40 minutes after the resume",
                          sorted(recipient_of(m) for m in sent) == ["ines@work.example", "kai@work.example"]
                          and all(timedelta(minutes=20) <= sent_at(m) - resumed_at <= timedelta(minutes=41)
                                  for m in sent))
        self.expect.check("the campaign message was kept up to date: step 1 of 2 sent for both",
                          self._campaign_text().count("In progress (step 1 of 2 sent)") == 2)

    def replies_and_bounces(self) -> None:
        post, mailbox = self.post_office, "rita@acme.example"
        sent = {recipient_of(m): m for m in post.sent(mailbox)}
        self.scene("Ines's work address bounces; Kai's mailbox answers with an out-of-office")
        post.bounce(mailbox, sent["ines@work.example"], self.clock.now())
        post.auto_reply(mailbox, sent["kai@work.example"], "I'm away with no access to email.", self.clock.now(),
                        subject="Out of office until Wednesday 9 December")
        self.out.write("    (the bounce and the auto-reply land in rita@acme.example; the bot reads only their headers,\n"
                       "    and the return date from the auto-reply's subject)\n")
        self.pass_time(timedelta(minutes=45))
        moved = self.new_mail()
        self.show_slack()
        self.expect.check("the bounce moved Ines to her personal address, from step 1, 20+ minutes later",
                          [recipient_of(m) for m in moved] == ["ines@home.example"])
        alerts = [m.text for m in self.ws.messages(channel=HIRING) if "bounced" in m.text]
        self.expect.check("#hiring was told that an email to Ines bounced and step 1 goes to another address, "
                          "naming no address (the channel sees names and events only)",
                          any("An email to Ines Duarte bounced" in t for t in alerts)
                          and not any("@" in t for t in alerts))
        self.expect.check("Kai shows Out of office until Wed 9 Dec and stays in the sequence",
                          "Kai Sato* · Out of office until Wed 9 Dec" in self._campaign_text())
        self.rita.slash("/outreach", "when Platform Q1")
        self.show_slack()
        self.expect.check("/outreach when shows Kai's step 2 waiting for the first send day after his return",
                          "Thu 10 Dec" in last_ephemeral_text(self.ws, RITA))

        self.pass_time(timedelta(days=1))
        self.scene("Next day: Ines replies from her personal address")
        post.reply(mailbox, moved[0], "Hi Rita, happy to talk. Thursday?", self.clock.now())
        self.pass_time(timedelta(minutes=5))
        self.show_slack()
        dm = [m for m in self.rita.dm_messages() if "replied to" in m.text]
        self.expect.check("Rita gets a DM: Ines replied, with Mark handled and 'This was an auto-reply' buttons",
                          len(dm) == 1 and "*Ines Duarte* replied to *Platform Q1*" in dm[0].text
                          and "This was an auto-reply: continue" in str(dm[0].blocks))
        self.expect.check("#hiring gets the reply alert",
                          any("Ines Duarte replied to Platform Q1" in m.text for m in self.ws.messages(channel=HIRING)))

        self.pass_time(timedelta(days=4))
        self.scene("Wednesday: Kai is still away, so his step 2 waits; nothing more went to Ines")
        self.expect.check("nothing went out while Kai is away, and nothing to Ines after her reply", not self.new_mail())

        self.pass_time(timedelta(days=1))
        self.scene("Thursday, the first send day after Kai's return: his step 2 goes out by itself")
        later = self.new_mail()
        self.show_slack()
        self.expect.check("step 2 went to Kai on Thu 10 Dec (out of office held it, never stopped it)",
                          [recipient_of(m) for m in later] == ["kai@work.example"]
                          and sent_at(later[0]).astimezone(ZONE).date() == date(2026, 12, 10))

    def teammate(self) -> None:
        self.scene("Tess, a recruiter on Rita's team, looks for Rita's campaign")
        self.tess.slash("/outreach", "status Platform Q1")
        not_shared = last_ephemeral_text(self.ws, TESS)
        self.tess.slash("/outreach", "status No Such Campaign")
        missing = last_ephemeral_text(self.ws, TESS)
        self.tess.open_home()
        self.show_slack()
        self.expect.check("Tess learns nothing of it: the same answer as for a campaign that does not exist",
                          "No campaign called 'Platform Q1'" in not_shared
                          and not_shared.replace("Platform Q1", "No Such Campaign") == missing)
        self.expect.check("Tess's Home tab does not list it", "Platform Q1" not in home_text(self.ws, TESS))

        self.scene("Rita shares the campaign with Tess, to view")
        self.rita.slash("/outreach", f"share Platform Q1 <@{TESS}|tess> view")
        self.tess.slash("/outreach", "status Platform Q1")
        shown = self.ws.ephemerals(TESS)[-1]
        self.tess.open_home()
        self.show_slack()
        self.expect.check("Tess gets a DM that Rita shared Platform Q1 with her, to view",
                          any("Rita Recruiter shared the campaign *Platform Q1* with you" in m.text
                              for m in self.tess.dm_messages()))
        self.expect.check("Tess now sees its candidates, with no button to change it",
                          "Ines Duarte" in last_ephemeral_text(self.ws, TESS) and not buttons(shown)
                          and "shared with you to view" in last_ephemeral_text(self.ws, TESS))
        self.expect.check("Tess's Home tab lists it as Rita's, shared with her",
                          "Platform Q1" in home_text(self.ws, TESS)
                          and "Rita Recruiter's, shared with you to view" in home_text(self.ws, TESS))

    def delegation(self) -> None:
        post, box, campaign_name = self.post_office, MANAGER_BOX, "Design leads, Q1"
        now = self.clock.now().astimezone(ZONE)
        morning = now.replace(hour=10, minute=0, second=0, microsecond=0)
        self.pass_time((morning if morning > now else morning + timedelta(days=1)) - now)
        self.scene("Omar, a hiring manager, connects his mailbox")
        self.omar.slash("/outreach", "connect")
        self.omar.submit({"provider": "sandbox", "address": box})
        self.show_slack()
        self.expect.check("Omar gets a DM that omar@acme.example is connected",
                          any(f"{box} is connected" in m.text for m in self.omar.dm_messages()))

        self.scene("Rita asks Omar to let her send from his mailbox")
        self.out.write(f"    (Slack sends the @omar Rita picked from the list as <@{OMAR}|omar>)\n")
        self.rita.slash("/outreach", f"delegate <@{OMAR}|omar>")
        self.show_slack()
        request = next((m for m in self.omar.dm_messages() if "asks to send recruiting email" in m.text), None)
        self.expect.check("Omar gets a DM: Rita asks to send from his mailbox, with Approve / "
                          "'Approve, and tell me about replies' / Deny",
                          lambda: "*Rita Recruiter* asks to send recruiting email from your mailbox" in request.text
                          and buttons(request) == ["Approve", "Approve, and tell me about replies", "Deny"])

        self.scene("Omar approves, and asks to hear about replies too")
        if request is not None:
            self.omar.click(Action.DELEGATION_APPROVE_NOTIFY.value, in_message=request)
        self.show_slack()
        self.expect.check("Rita gets a DM that Omar approved: she can send from omar@acme.example",
                          any(f"Omar Manager approved: you can send from {box}" in m.text
                              for m in self.rita.dm_messages()))

        self.scene("Rita writes a sequence in Omar's voice and creates a campaign from his mailbox")
        self.rita.slash("/outreach", "sequence new")
        self.rita.click(Action.SEQUENCE_ADD_STEP.value, values={
            "name": "Design leads", "subject_1": "{{ first_name }}, lead design with me at {{ company }}",
            "body_1": "Hi {{ first_name }},\n\nI run design at {{ company }} and would love to tell you about a "
                      "lead role on my team. Coffee this week?\n\nOmar"})
        self.rita.submit({"subject_2": "Following up", "delay_2": "3",
                          "body_2": "Hi {{ first_name }}, any thoughts? Omar"})
        self.rita.slash("/outreach", "campaign new")
        self.show_slack()
        delegated = f"{box} (Omar Manager's, delegated)"
        self.expect.check("the campaign modal offers omar@acme.example as 'Omar Manager's, delegated', after her own",
                          self._labels("mailbox") == ["rita@acme.example", delegated])
        self.rita.submit({"name": campaign_name, "sequence": self._option("sequence", "Design leads"),
                          "mailbox": self._option("mailbox", delegated)})
        self.rita.click(Action.CAMPAIGN_ADD_CANDIDATES.value, in_message=self._campaign_message(campaign_name))
        self.rita.submit({"paste": "name\twork email\tcompany\n"
                                   "Lea Novak\tlea@work.example\tAcme\n"
                                   "Mo Adeyemi\tmo@work.example\tAcme\n"})
        self.rita.click(Action.UPLOAD_CONFIRM.value, in_message=self.rita.dm_messages()[-1])
        self.rita.click(Action.CAMPAIGN_START.value, in_message=self._campaign_message(campaign_name))
        self.show_slack()

        self.pass_time(timedelta(minutes=45))
        self.scene("The first emails leave Omar's mailbox, in Omar's name")
        self._shown_full = False  # show the first one in full again: its From line is the point
        sent = self.new_mail()
        self.show_slack()
        self.expect.check("both first emails left omar@acme.example, From 'Omar Manager <omar@acme.example>'",
                          len(sent) == 2 and len(post.sent(box)) == 2
                          and all(str(m["From"]) == f"Omar Manager <{box}>" for m in sent))

        self.pass_time(timedelta(hours=2))
        self.scene("Lea replies; her answer lands in Omar's mailbox")
        first = {recipient_of(m): m for m in post.sent(box)}
        post.reply(box, first["lea@work.example"], "Hi Omar, happy to. Friday morning?", self.clock.now())
        self.pass_time(timedelta(minutes=5))
        self.show_slack()
        self.expect.check("Rita, who runs the campaign, gets the reply DM",
                          any(f"*Lea Novak* replied to *{campaign_name}*" in m.text for m in self.rita.dm_messages()))
        self.expect.check("Omar gets a short copy, because he asked to hear about replies",
                          any(f"*Lea Novak* replied in your mailbox {box}" in m.text for m in self.omar.dm_messages()))

        self.pass_time(timedelta(hours=1))
        self.scene("Omar takes his mailbox back: /outreach delegations, Revoke")
        self.omar.slash("/outreach", "delegations")
        listing = self.omar.ephemerals()[-1]
        self.omar.click(Action.DELEGATION_REVOKE.value, in_message=listing)
        self.pass_time(timedelta(minutes=5))
        self.show_slack()
        self.expect.check("Rita's campaign from Omar's mailbox is paused: delegation revoked",
                          lambda: self._campaign_state(campaign_name) == (CampaignStatus.PAUSED,
                                                                         PauseReason.DELEGATION_REVOKED)
                          and "Paused (the mailbox owner revoked the delegation)" in self._campaign_text())
        self.expect.check("Rita is told in a DM that Omar revoked her access and the campaign is paused",
                          any(f"Omar Manager revoked your access to {box}: *{campaign_name}* is paused" in m.text
                              for m in self.rita.dm_messages()))

        self.pass_time(timedelta(days=5))
        self.scene("Days later: Mo's step 2 never left Omar's mailbox")
        self.expect.check("nothing more left omar@acme.example after the revoke",
                          not self.new_mail() and len(post.sent(box)) == 2)

    def _campaign_message(self, name: str) -> LocalMessage:
        """Rita's message for the campaign `name` (the bot keeps it up to date in her DM)."""
        return next(m for m in reversed(self.rita.dm_messages())
                    if m.blocks and m.blocks[0].get("type") == "header" and m.blocks[0]["text"]["text"] == name)

    def _campaign_state(self, name: str) -> tuple[CampaignStatus, PauseReason | None] | None:
        with transaction(self.runtime.sessions) as session:
            campaign = session.scalar(select(Campaign).where(Campaign.name == name))
            return (campaign.status, campaign.pause_reason) if campaign else None

    def _labels(self, block: str) -> list[str]:
        view = self.ws.open_views(RITA)[-1]
        element = next(b["element"] for b in view["blocks"] if b.get("block_id") == block)
        return [o["text"]["text"] for o in element["options"]]

    def _option(self, block: str, label: str) -> str:
        view = self.ws.open_views(RITA)[-1]
        element = next(b["element"] for b in view["blocks"] if b.get("block_id") == block)
        return next(o["value"] for o in element["options"] if o["text"]["text"] == label)

    def _campaign_text(self) -> str:
        from bot.local.slack import render_blocks

        messages = [m for m in self.rita.dm_messages() if m.blocks and m.blocks[0].get("type") == "header"]
        return render_blocks(messages[-1].blocks) if messages else ""


def run_demo(workdir: str | None = None, verbose: bool = False, out: TextIO = sys.stdout) -> int:
    with ExitStack() as stack:
        path = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outreach-demo-")))
        path.mkdir(parents=True, exist_ok=True)
        demo = Demo(path, out)
        out.write("Outreach demo: a local Slack workspace, sandbox mailboxes, a simulated clock.\n")
        demo.setup(stack)
        demo.run()
        total = demo.expect.held + len(demo.expect.failed)
        if demo.expect.failed:
            out.write(f"\nDEMO FAILED: {len(demo.expect.failed)} of {total} expectations did not hold:\n")
            for name in demo.expect.failed:
                out.write(f"  - {name}\n")
            return 1
        out.write(f"\nDemo complete: all {total} expectations held.\n")
        return 0
    return 1  # pragma: no cover  (ExitStack does not swallow exceptions)


