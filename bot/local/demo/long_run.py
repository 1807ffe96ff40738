"""The demo's scenes of a campaign run for months (issues 17 and 18): a candidate removed, the send
days edited with the sends re-planned, and a "please remove me" reply that puts the address on the
do-not-contact list so a later upload skips it. A mixin of bot.local.demo.story.Demo, which holds
the workspace, the people, the post office and the clock these scenes use."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db import transaction
from bot.local.demo.cast import RITA
from bot.local.demo.transcript import buttons, last_ephemeral_text
from bot.models import Campaign, Candidate, Enrollment, OutboundMessage
from handlers.ids import Action
from providers.sandbox import recipient_of

class LongRunScenes:
    """Scenes of bot.local.demo.story.Demo, which gives them self.rita, self.ws, self.post_office,
    self.expect, pass_time, show_slack and the campaign-message helpers."""

    def removed_candidate(self) -> None:
        self.scene("Rita adds Noor to Platform Q1; her first email goes out")
        self.rita.click("campaign.add_candidates", in_message=self._campaign_message("Platform Q1"))
        self.rita.submit({"paste": "name,work email,company\nNoor Haddad,noor@work.example,Acme\n"})
        self.rita.click("campaign.upload_confirm", in_message=self.rita.dm_messages()[-1])
        self.pass_time(timedelta(minutes=45))
        sent = self.new_mail()
        self.show_slack()
        self.expect.check("Noor's step 1 went out", [recipient_of(m) for m in sent] == ["noor@work.example"])

        self.scene("Noor has taken another job: Rita removes her from the campaign, from the candidate menu")
        message = self._campaign_message("Platform Q1")
        block, option = next((b, o["value"]) for b in message.blocks if b.get("accessory", {}).get("type") == "overflow"
                             and "Noor Haddad" in b["text"]["text"] for o in b["accessory"]["options"]
                             if o["value"].startswith("remove:"))
        self.rita.click("campaign.candidate_menu", in_message=message, block_id=block["block_id"],
                        selected_option_value=option)
        self.show_slack()
        self.rita.submit()
        self.show_slack()
        history = self._history("Noor Haddad")
        self.out.write("    Noor's emails, as the database keeps them: "
                       + "; ".join(f"step {step} {status}" for step, status in history) + "\n")
        self.expect.check("Noor shows Removed on the campaign message", "Noor Haddad* · Removed" in self._campaign_text())
        self.expect.check("her planned step 2 is cancelled and her sent step 1 is kept",
                          history == [(1, "sent"), (2, "cancelled")])
        # Nothing more goes to Noor: the next scene's follow-ups go to Kai only.
    def edit_send_days(self) -> None:
        self.scene("Rita keeps Platform Q1 to Tuesday–Friday: Edit on its message, the planned sends move")
        self.rita.slash("/outreach", "when Platform Q1")
        before = last_ephemeral_text(self.ws, RITA)
        self.rita.click(Action.CAMPAIGN_EDIT.value, in_message=self._campaign_message("Platform Q1"))
        self.show_slack()
        filled = self.ws.open_views(RITA)[-1]
        days = next(b["element"] for b in filled["blocks"] if b.get("block_id") == "send_days")
        self.expect.check("the Edit modal opens filled with the campaign's settings (every day ticked)",
                          [o["value"] for o in days.get("initial_options") or []] == list("0123456"))
        result = self.rita.submit({"send_days": ["1", "2", "3", "4"]})
        self.rita.slash("/outreach", "when Platform Q1")
        after = last_ephemeral_text(self.ws, RITA)
        self.show_slack()
        self.expect.check("the modal saved, and the next sends were on Monday 7 December before the edit",
                          result.ok and not result.errors and before.count("Mon 07 Dec") == 2)
        self.expect.check("after it both step-2 emails go on Tuesday 8 December, each near its own time of day",
                          after.count("Tue 08 Dec 03:") + after.count("Tue 08 Dec 04:") == 2
                          and "Mon 07 Dec" not in after)

    def please_remove_me(self) -> None:
        post, mailbox = self.post_office, "rita@acme.example"
        to_kai = [m for m in post.sent(mailbox) if recipient_of(m) == "kai@work.example"][-1]
        self.pass_time(timedelta(hours=2))
        self.scene("Kai, back from holiday, answers: \"Please remove me\"")
        post.reply(mailbox, to_kai, "I'm not looking. Please take me off your list.", self.clock.now(),
                   subject="Please remove me")
        self.pass_time(timedelta(minutes=5))
        self.show_slack()
        dm = next(m for m in reversed(self.rita.dm_messages()) if "Kai Sato" in m.text and "replied" in m.text)
        self.expect.check("the reply DM reads it as a request to stop and offers Do not contact first",
                          "request to stop" in str(dm.blocks) and buttons(dm)[:1] == ["Do not contact"])

        self.scene("Rita presses Do not contact: Kai's address goes on the organisation's list")
        self.rita.click(Action.REPLY_DO_NOT_CONTACT.value, in_message=dm)
        self.rita.slash("/outreach", "dnc list")
        listed = last_ephemeral_text(self.ws, RITA)
        self.show_slack()
        self.expect.check("/outreach dnc list shows kai@work.example, added by Rita from his reply",
                          "kai@work.example" in listed and "Rita" in listed)

        self.pass_time(timedelta(days=2))
        self.scene("Two days later Rita starts Platform Q2 and pastes a list that has Kai in it again")
        self.rita.slash("/outreach", "campaign new")
        self.rita.submit({"name": "Platform Q2", "sequence": self._option("sequence", "Platform engineers")})
        self.rita.click("campaign.add_candidates", in_message=self._campaign_message("Platform Q2"))
        self.rita.submit({"paste": "name,work email,company\nKai Sato,kai@work.example,Acme\n"
                                   "Lena Vogt,lena@work.example,Acme\n"})
        summary = self.rita.dm_messages()[-1]
        self.rita.click("campaign.upload_confirm", in_message=summary)
        self.show_slack()
        with transaction(self.runtime.sessions) as session:
            enrolled = set(session.scalars(select(Candidate.name).join(Enrollment).join(Campaign)
                                           .where(Campaign.name == "Platform Q2")))
        self.expect.check("the upload skips Kai, naming the do-not-contact list, and adds Lena",
                          "do-not-contact list" in str(summary.blocks) + summary.text and enrolled == {"Lena Vogt"})

    def _history(self, candidate: str) -> list[tuple[int, str]]:
        """Each of the candidate's emails in Platform Q1, by step: what was sent and what was cancelled."""
        with transaction(self.runtime.sessions) as session:
            return [(step, status.value) for step, status in session.execute(
                select(OutboundMessage.step_position, OutboundMessage.status).join(Enrollment).join(Candidate)
                .where(Candidate.name == candidate).order_by(OutboundMessage.step_position)).all()]

