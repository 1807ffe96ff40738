"""A reply that asks to stop, through the real sync job and Slack: recognised from the subject under
basic permissions and from the body's new part under enhanced ones; the DM offers "Do not contact"
first, or (with the organisation's setting) says the address was listed. The button on every reply DM
lists the replying address and ends their open enrollments, for whoever may change the campaign."""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import LocalSlack, Person
from bot.models import Candidate, DoNotContact, DoNotContactSource, Enrollment, Organisation, PermissionLevel, Sequence
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign, enroll, start_campaign
from handlers.ids import Action
from handlers.notices import deliver_notices
from providers.sandbox import PostOffice
from tests import factories
from tests.clock_jobs import dispatch_for, sync_mailboxes
from tests.handlers.conftest import RITA, client_for

MAILBOX = "rita@acme.example"


def _sent_first_step(runtime: Runtime, clock: FakeClock, *, enhanced: bool = False, automatic: bool = False,
                     second_campaign: bool = False) -> PostOffice:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        if enhanced:
            mailbox.permission_level = PermissionLevel.ENHANCED
        session.get(Organisation, rita.organisation_id).opt_out_replies_to_dnc = automatic
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        if second_campaign:  # the same candidate, not started yet, in another campaign
            other = create_campaign(session, owner=rita, sequence=session.get(Sequence, campaign.sequence_id),
                                    mailbox=mailbox, name="Backend Q1", clock=clock)
            enroll(session, campaign=other, candidates=list(session.scalars(select(Candidate))), clock=clock)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, timedelta(hours=1))
    post = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    assert len(post.sent(MAILBOX)) == 1
    return post


def _answer(runtime: Runtime, post: PostOffice, subject: str, text: str) -> None:
    """Ana answers step 1 with her own subject (In-Reply-To keeps it in the thread)."""
    original = post.sent(MAILBOX)[0]
    message = EmailMessage()
    message["From"] = "Ana <ana0@work.example>"
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Message-ID"] = "<answer-1@work.example>"
    message["In-Reply-To"] = str(original["Message-ID"])
    message.set_content(text)
    runtime.providers.sandbox.append(MAILBOX, "INBOX", message)  # type: ignore[attr-defined]


def _dm(rita: Person, workspace: LocalSlack, runtime: Runtime):
    deliver_notices(runtime, client_for(workspace))
    return rita.dm_messages()[-1]


def _buttons(message) -> list[str]:
    return [e["text"]["text"] for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


def _entries(runtime: Runtime) -> list[tuple[str, DoNotContactSource, str, int | None]]:
    with transaction(runtime.sessions) as session:
        return [(e.value, e.source, e.reason, e.added_by_id) for e in session.scalars(select(DoNotContact))]


def test_an_unsubscribe_subject_reads_as_a_request_to_stop_and_the_button_lists_the_address(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock, second_campaign=True)
    _answer(runtime, post, "Re: unsubscribe", "")
    sync_mailboxes(runtime, clock)
    dm = _dm(rita, workspace, runtime)
    assert "This reads as a request to stop" in dm.text and "ana0@work.example" in dm.text
    assert _buttons(dm)[0] == "Do not contact"
    rita.click(Action.REPLY_DO_NOT_CONTACT.value, in_message=dm)
    [(value, source, reason, added_by)] = _entries(runtime)
    assert (value, source, reason) == ("ana0@work.example", DoNotContactSource.REPLY_BUTTON, "replied: Re: unsubscribe")
    assert added_by is not None
    updated = rita.dm_messages()[-1]
    assert "ana0@work.example is on the do-not-contact list" in updated.text and "1 open enrollment was ended" in updated.text
    assert not _buttons(updated)  # answered once
    with transaction(runtime.sessions) as session:  # the other campaign's enrollment ended too
        assert sorted(s.value for s in session.scalars(select(Enrollment.status))) == ["do_not_contact", "replied"]


def test_under_basic_permissions_the_body_is_not_read(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock)
    _answer(runtime, post, "Re: Backend role at Acme", "Please remove me from your list.")
    sync_mailboxes(runtime, clock)
    dm = _dm(rita, workspace, runtime)
    assert "request to stop" not in dm.text
    assert _buttons(dm) == ["Mark handled", "This was an auto-reply: continue", "Do not contact"]


def test_under_enhanced_permissions_the_new_part_of_the_body_is_read(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock, enhanced=True)
    _answer(runtime, post, "AW: Backend role at Acme", "Hallo Rita,\nbitte nehmen Sie mich aus Ihrem Verteiler.\n")
    sync_mailboxes(runtime, clock)
    dm = _dm(rita, workspace, runtime)
    assert "This reads as a request to stop" in dm.text and _buttons(dm)[0] == "Do not contact"
    assert not _entries(runtime)  # the recruiter decides


def test_a_reply_quoting_our_email_is_judged_by_its_own_words(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock, enhanced=True)
    original = post.sent(MAILBOX)[0]
    post.reply(MAILBOX, original, "Sounds good, let's talk.\n\nOn Monday, Rita wrote:\n> Not interested? "
               "Reply unsubscribe.", clock.now())
    sync_mailboxes(runtime, clock)
    assert "request to stop" not in _dm(rita, workspace, runtime).text


def test_with_the_organisations_setting_the_address_is_listed_at_once_and_the_recruiter_told(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock, automatic=True, second_campaign=True)
    _answer(runtime, post, "Bitte entfernen", "")
    sync_mailboxes(runtime, clock)
    [(value, source, reason, added_by)] = _entries(runtime)
    assert (value, source, reason, added_by) == ("ana0@work.example", DoNotContactSource.OPT_OUT_REPLY,
                                                 "replied: Bitte entfernen", None)
    dm = _dm(rita, workspace, runtime)
    assert "is now on the do-not-contact list (your organisation's setting)" in dm.text
    assert _buttons(dm) == ["Mark handled"]
    with transaction(runtime.sessions) as session:
        assert sorted(s.value for s in session.scalars(select(Enrollment.status))) == ["do_not_contact", "replied"]


def test_a_later_remove_me_after_a_plain_reply_still_reaches_the_recruiter(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock)
    post.reply(MAILBOX, post.sent(MAILBOX)[0], "Not now, maybe next year.", clock.now())
    sync_mailboxes(runtime, clock)
    assert "request to stop" not in _dm(rita, workspace, runtime).text
    clock.advance(timedelta(days=2))
    _answer(runtime, post, "Remove me", "")
    sync_mailboxes(runtime, clock)
    dm = _dm(rita, workspace, runtime)
    assert "wrote again" in dm.text and "This reads as a request to stop" in dm.text
    assert _buttons(dm)[0] == "Do not contact"


def test_a_teammate_cannot_list_someone_from_ritas_reply(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    post = _sent_first_step(runtime, clock)
    _answer(runtime, post, "unsubscribe", "")
    sync_mailboxes(runtime, clock)
    dm = _dm(rita, workspace, runtime)
    event_id = next(e["value"] for b in dm.blocks if b["type"] == "actions" for e in b["elements"])
    omar.forge_action(Action.REPLY_DO_NOT_CONTACT.value, value=event_id)
    assert not _entries(runtime)
    assert "not yours" in omar.ephemerals()[-1].text or "no longer tracked" in omar.ephemerals()[-1].text
