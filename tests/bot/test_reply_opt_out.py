"""bot.services.reply_opt_out on a reply to a one-off email (`/outreach send`): its DM offers "Do not
contact" (first, with "reads as a request to stop", when it asks to stop); only the one-off's sender
may press it; with the organisation's setting the address is listed at once."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.errors import NotFound
from bot.models import DirectMessage, DoNotContact, DoNotContactSource, InboundEvent, Notification, Organisation
from bot.runtime import Runtime
from bot.services import do_not_contact
from bot.services.directory import Profile, ensure_user
from bot.services.replies import Inbound, record_inbound
from bot.services.reply_opt_out import list_replier, reason_for, replier_event
from providers.base import InboundKind
from tests import factories


def _one_off_reply(runtime: Runtime, clock: FakeClock, *, subject: str, opt_out: bool, automatic: bool = False) -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        session.get(Organisation, rita.organisation_id).opt_out_replies_to_dnc = automatic
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        session.add(DirectMessage(mailbox_id=mailbox.id, sender_id=rita.id, to_address="ana@work.example",
                                  message_id="<one-off@acme.example>", subject="SRE role at Acme", sent_at=clock.now()))
        session.flush()
        inbound = Inbound(provider_message_id="m-1", thread_id=None, from_address="ana@work.example", subject=subject,
                          received_at=clock.now(), references=("one-off@acme.example",), kind=InboundKind.REPLY,
                          opt_out=opt_out)
        outcome = record_inbound(session, mailbox=mailbox, inbound=inbound, clock=clock, rng=random.Random(1),
                                 reply_watch=timedelta(days=30))
        assert outcome.effect == "replied" and outcome.event_id is not None
        return outcome.event_id


def _notice(runtime: Runtime) -> Notification:
    with transaction(runtime.sessions) as session:
        notice = session.scalar(select(Notification).where(Notification.kind == "reply"))
        assert notice is not None
        session.expunge(notice)
        return notice


def test_a_plain_reply_to_a_one_off_offers_do_not_contact_to_its_sender_only(runtime: Runtime, clock: FakeClock) -> None:
    event_id = _one_off_reply(runtime, clock, subject="Re: SRE role at Acme", opt_out=False)
    notice = _notice(runtime)
    assert notice.action == "reply_direct" and "request to stop" not in notice.text
    with transaction(runtime.sessions, write=True) as session:
        omar = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile("U0OMAR", name="Omar"))
        with pytest.raises(NotFound):
            replier_event(session, user=omar, event_id=event_id)
        rita = factories.recruiter(session, clock)
        said = list_replier(session, user=rita, event=replier_event(session, user=rita, event_id=event_id), clock=clock)
        assert said.startswith(":no_entry_sign: ana@work.example is on the do-not-contact list")
        entry = session.scalar(select(DoNotContact))
        assert (entry.value, entry.source, entry.added_by_id) == ("ana@work.example", DoNotContactSource.REPLY_BUTTON,
                                                                  rita.id)
        assert session.get(InboundEvent, event_id).handled_at == clock.now()


def test_an_opt_out_reply_to_a_one_off_says_so(runtime: Runtime, clock: FakeClock) -> None:
    _one_off_reply(runtime, clock, subject="Unsubscribe", opt_out=True)
    notice = _notice(runtime)
    assert notice.action == "reply_direct_opt_out" and "This reads as a request to stop" in notice.text


def test_with_the_setting_an_opt_out_reply_to_a_one_off_is_listed_at_once(runtime: Runtime, clock: FakeClock) -> None:
    _one_off_reply(runtime, clock, subject="Unsubscribe", opt_out=True, automatic=True)
    notice = _notice(runtime)
    assert notice.action == "reply_listed" and "is now on the do-not-contact list" in notice.text
    with transaction(runtime.sessions) as session:
        entry = session.scalar(select(DoNotContact))
        assert (entry.source, entry.reason, entry.added_by_id) == (DoNotContactSource.OPT_OUT_REPLY,
                                                                   "replied: Unsubscribe", None)


def test_the_reason_keeps_a_short_subject() -> None:
    assert reason_for("  Re:   please\nremove me ") == "replied: Re: please remove me"
    assert reason_for("x" * 300) == "replied: " + "x" * 80 + "…"
    assert reason_for(None) == "replied"


def test_an_opt_out_reply_from_an_address_listed_already_says_so(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        do_not_contact.add(session, organisation_id=rita.organisation_id, text="work.example", reason="client",
                           source=DoNotContactSource.COMMAND, added_by=rita, clock=clock)
    _one_off_reply(runtime, clock, subject="Unsubscribe", opt_out=True)
    notice = _notice(runtime)
    assert notice.action == "reply_listed" and "is on the do-not-contact list already" in notice.text
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(DoNotContact)).all()) == 1
