"""Emails sent now, through Slack: `/outreach preview <sequence>` mails the whole sequence to the
recruiter, `/outreach send` emails one candidate after they check and edit it. Driven through the
local workspace; what went out is read back from the sandbox mailbox."""
from __future__ import annotations

from datetime import timedelta
from email.message import Message

import pytest
from slack_bolt import App
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_view
from bot.models import AddressKind, DirectMessage, InboundEvent, Mailbox, MailboxSendCount, MailboxStatus, User
from bot.runtime import Runtime
from bot.services.candidates import add_candidate
from bot.services.sequences import StepDraft, create_sequence
from handlers.commands import COMMAND
from handlers.notices import deliver_notices
from providers.sandbox import PostOffice, recipient_of
from tests import factories
from tests.clock_jobs import sync_mailboxes
from tests.conftest import T0
from tests.handlers.conftest import RITA, client_for

MAILBOX = "recruiting@acme.example"
STEPS = [
    StepDraft("Backend role at {{ company }}",
              "Hi {{ first_name }},\nWe are hiring a {{ role }} at {{ company }}.\nRita"),
    StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=2),
    StepDraft("Last note", "Hi {{ first_name }}, I will leave it here.", delay_days=3),
]


def _setup(runtime: Runtime, clock: FakeClock, *, slack_id: str = RITA, mailbox: bool = True,
           sequence: bool = True) -> tuple[int | None, int | None]:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=slack_id)
        box = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX) if mailbox else None
        made = create_sequence(session, owner=rita, name="Backend engineers", steps=STEPS, clock=clock) \
            if sequence else None
        add_candidate(session, added_by=rita, name="Ana Lopez", fields={"company": "Acme", "role": "SRE"},
                      addresses=[("ana@work.example", AddressKind.WORK)], clock=clock)
        return (box.id if box else None), (made.id if made else None)


def _sent(runtime: Runtime) -> list[Message]:
    return PostOffice(runtime.providers.sandbox).sent(MAILBOX)  # type: ignore[attr-defined]


def _top(workspace: LocalSlack) -> dict:  # type: ignore[type-arg]
    return workspace.open_views(RITA)[-1]


def _inputs(view: dict) -> dict[str, str | None]:  # type: ignore[type-arg]
    """Each input of a modal and the text it shows (prefilled)."""
    return {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"}


def _last_dm(rita: Person) -> str:
    return rita.dm_messages()[-1].text


# -- preview ----------------------------------------------------------------------------------------

def test_preview_asks_for_a_mailbox_and_sample_values_then_mails_every_step_to_you(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _setup(runtime, clock)
    rita.slash(COMMAND, "preview Backend engineers")
    shown = render_view(_top(workspace))
    assert "Send preview" in shown and "rita@acme.example" in shown and "Alex Sample" in shown
    assert f"{MAILBOX} · 1800 of 1800 left today" in shown
    assert _inputs(_top(workspace)) == {"mailbox": None, "sample.company": "[company]", "sample.role": "[role]"}

    assert rita.submit({"sample.company": "Initech"}).ok
    assert workspace.open_views(RITA) == []
    assert _last_dm(rita) == (f":envelope: Sent the 3 steps of 'Backend engineers' to rita@acme.example, from mailbox "
                              f"{MAILBOX}. Look for them in your inbox, and in the Sent folder of {MAILBOX}.")
    sent = _sent(runtime)
    assert [str(m["Subject"]) for m in sent] == ["[Preview] Backend role at Initech"] + \
        ["Re: [Preview] Backend role at Initech"] * 2
    assert "We are hiring a [role] at Initech." in sent[0].get_content()
    assert str(sent[2]["In-Reply-To"]) == str(sent[1]["Message-ID"])


def test_preview_of_an_unknown_sequence_names_it(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                 clock: FakeClock) -> None:
    _setup(runtime, clock)
    rita.slash(COMMAND, "preview Frontend")
    assert "no sequence called 'Frontend'" in workspace.ephemerals(RITA)[-1].text
    assert workspace.open_views(RITA) == []
    rita.slash(COMMAND, "preview")
    assert "Name the sequence to preview" in workspace.ephemerals(RITA)[-1].text


def test_preview_without_a_mailbox_says_to_connect_one(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                       clock: FakeClock) -> None:
    _setup(runtime, clock, mailbox=False)
    rita.slash(COMMAND, "preview Backend engineers")
    assert workspace.ephemerals(RITA)[-1].text == (
        ":warning: You have no connected mailbox to send from. Connect one with `/outreach connect`.")
    assert workspace.open_views(RITA) == []


def test_preview_without_an_email_in_the_slack_profile_says_so(workspace: LocalSlack, app: App, runtime: Runtime,
                                                               clock: FakeClock) -> None:
    workspace.add_user("U0NOMAIL", name="nomail", real_name="No Mail", tz="UTC")
    _setup(runtime, clock, slack_id="U0NOMAIL")  # the profile read from Slack has no email
    person = Person(workspace, "U0NOMAIL", BoltTarget(app))
    person.slash(COMMAND, "preview Backend engineers")
    assert "Your Slack profile has no email address" in workspace.ephemerals("U0NOMAIL")[-1].text
    assert workspace.open_views("U0NOMAIL") == [] and _sent(runtime) == []


def test_preview_over_the_daily_cap_is_refused_on_the_mailbox_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    mailbox_id, _ = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        mailbox.daily_cap = 4
        session.add(MailboxSendCount(mailbox_id=mailbox_id, hour=T0.replace(minute=0), sends=2))
    rita.slash(COMMAND, "preview Backend engineers")
    refused = rita.submit()
    assert set(refused.errors or {}) == {"mailbox"}
    assert "would go over its daily cap. There is room again from" in refused.errors["mailbox"]  # type: ignore[index]
    assert render_view(_top(workspace)).startswith("=== Send preview")  # still open, to choose another
    assert _sent(runtime) == []


def test_preview_on_a_lost_sign_in_tells_you_to_reconnect(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                          clock: FakeClock) -> None:
    mailbox_id, _ = _setup(runtime, clock)
    rita.slash(COMMAND, "preview Backend engineers")
    runtime.providers.sandbox.inject(MAILBOX, "reconnect")  # type: ignore[attr-defined]
    assert rita.submit().ok
    texts = [m.text for m in rita.dm_messages()]
    assert any(t.startswith(f":warning: The connection to {MAILBOX} was lost, so nothing was sent.") for t in texts)
    assert any("paused until you reconnect it" in t for t in texts)  # the Reconnect notice
    with transaction(runtime.sessions) as session:
        assert session.get(Mailbox, mailbox_id).status == MailboxStatus.NEEDS_RECONNECT  # type: ignore[union-attr]


def test_preview_rate_limited_says_when_to_try_again(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                     clock: FakeClock) -> None:
    _setup(runtime, clock)
    rita.slash(COMMAND, "preview Backend engineers")
    runtime.providers.sandbox.inject(MAILBOX, "rate_limited:120")  # type: ignore[attr-defined]
    assert rita.submit().ok
    assert _last_dm(rita) == (":warning: The sandbox mail server asked us to slow down; try again in 2 minutes. "
                              "Nothing was sent.")
    rita.slash(COMMAND, "preview Backend engineers")
    assert rita.submit().errors == {"mailbox": "The sandbox mail server asked us to slow down; try again in 2 minutes."}


# -- one email to one candidate --------------------------------------------------------------------

def _open_send(rita: Person, text: str = "send") -> None:
    rita.slash(COMMAND, text)


def test_one_email_is_written_for_the_candidate_edited_then_sent_as_shown(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _, sequence_id = _setup(runtime, clock)
    _open_send(rita)
    assert render_view(_top(workspace)).startswith("=== Email a candidate")
    assert rita.submit({"template": f"{sequence_id}:1", "to": "Ana@Work.example"}).ok  # the saved name and fields

    check = _top(workspace)
    assert check["title"]["text"] == "Check and send"
    assert len(workspace.open_views(RITA)) == 2  # pushed: Back returns to the choices
    fields = _inputs(check)
    assert fields["subject"] == "Backend role at Acme"
    assert fields["body"] == "Hi Ana,\nWe are hiring a SRE at Acme.\nRita"
    assert "*To:* Ana Lopez (ana@work.example)" in render_view(check)

    body = "Hi Ana,\nWe are hiring an SRE at Acme; would you like to talk this week?\nRita"
    assert rita.submit({"body": body, "subject": "SRE role at Acme"}).ok
    assert workspace.open_views(RITA) == []
    assert _last_dm(rita) == (f":envelope: Sent “SRE role at Acme” to Ana Lopez (ana@work.example) from {MAILBOX}. "
                              "Replies come to that mailbox.")
    (message,) = _sent(runtime)
    assert (recipient_of(message), str(message["Subject"])) == ("ana@work.example", "SRE role at Acme")
    assert message.get_content().replace("\r\n", "\n") == body


def test_send_with_a_sequence_named_starts_from_its_first_step(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _, sequence_id = _setup(runtime, clock)
    _open_send(rita, "send backend engineers")
    template = next(b for b in _top(workspace)["blocks"] if b.get("block_id") == "template")
    assert template["element"]["initial_option"]["value"] == f"{sequence_id}:1"
    assert [g["label"]["text"] for g in template["element"]["option_groups"]] == ["Backend engineers"]
    assert [o["text"]["text"] for o in template["element"]["option_groups"][0]["options"]] == [
        "Step 1: Backend role at {{ company }}", "Step 2: Following up", "Step 3: Last note"]


def test_send_without_sequences_says_to_make_one(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                                 clock: FakeClock) -> None:
    _setup(runtime, clock, sequence=False)
    _open_send(rita)
    assert "you have none yet. Make one with `/outreach sequence new`" in workspace.ephemerals(RITA)[-1].text
    assert workspace.open_views(RITA) == []


def test_a_missing_template_field_or_name_is_shown_on_its_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _, sequence_id = _setup(runtime, clock)
    _open_send(rita)
    nameless = rita.submit({"template": f"{sequence_id}:1", "to": "noor@new.example"})
    assert nameless.errors == {"name": "No saved candidate has this address: enter their name."}
    missing = rita.submit({"template": f"{sequence_id}:1", "to": "noor@new.example", "name": "Noor Haddad",
                           "fields": "role=Staff engineer"})
    assert missing.errors == {"fields": "Step 1 uses {{ company }}, and there is no value for it: "
                                        "add a line like company=… here."}
    bad_line = rita.submit({"template": f"{sequence_id}:1", "to": "noor@new.example", "name": "Noor Haddad",
                            "fields": "Initech"})
    assert bad_line.errors == {"fields": "Line 1 is not a field: write one per line, like company=Acme."}
    assert rita.submit({"template": f"{sequence_id}:1", "to": "noor@new.example", "name": "Noor Haddad",
                        "fields": "company=Initech\nrole=Staff engineer"}).ok
    assert _inputs(_top(workspace))["body"] == "Hi Noor,\nWe are hiring a Staff engineer at Initech.\nRita"
    assert _sent(runtime) == []


def test_template_syntax_typed_into_the_email_is_refused_on_its_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _, sequence_id = _setup(runtime, clock)
    _open_send(rita)
    assert rita.submit({"template": f"{sequence_id}:2", "to": "ana@work.example"}).ok
    refused = rita.submit({"body": "Hi {{ first_name }}, any thoughts?"})
    assert set(refused.errors or {}) == {"body"}
    assert "“{{ first_name }}” is template syntax" in refused.errors["body"]  # type: ignore[index]
    refused = rita.submit({"subject": "Re: {{ company }}"})
    assert set(refused.errors or {}) == {"subject"}
    assert _sent(runtime) == []


def test_the_final_send_is_refused_on_the_mailbox_field_when_the_cap_is_reached(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    mailbox_id, sequence_id = _setup(runtime, clock)
    _open_send(rita)
    assert rita.submit({"template": f"{sequence_id}:1", "to": "ana@work.example"}).ok
    with transaction(runtime.sessions, write=True) as session:  # campaign sends took the last room meanwhile
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        session.add(MailboxSendCount(mailbox_id=mailbox_id, hour=T0.replace(minute=0), sends=mailbox.daily_cap))
    refused = rita.submit()
    assert set(refused.errors or {}) == {"mailbox"} and "daily cap" in refused.errors["mailbox"]  # type: ignore[index]
    assert _sent(runtime) == []


def test_a_mailbox_refusal_after_the_modal_closes_comes_as_a_dm(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _, sequence_id = _setup(runtime, clock)
    _open_send(rita)
    assert rita.submit({"template": f"{sequence_id}:1", "to": "ana@work.example"}).ok
    runtime.providers.sandbox.inject(MAILBOX, "permanent")  # type: ignore[attr-defined]
    assert rita.submit().ok
    assert _last_dm(rita) == (":warning: The sandbox mail server refused the email to ana@work.example: "
                              "sandbox: 400 invalid recipient. The email was not sent.")
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(User.email).where(User.slack_user_id == RITA)) == "rita@acme.example"


def test_a_reply_to_a_one_off_email_reaches_its_sender_and_a_reply_to_a_preview_is_not_tracked(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _, sequence_id = _setup(runtime, clock)
    sync_mailboxes(runtime, clock)  # a new mailbox is read once, so its cursor starts before anything is sent
    rita.slash(COMMAND, "preview Backend engineers")
    assert rita.submit().ok
    _open_send(rita)
    assert rita.submit({"template": f"{sequence_id}:1", "to": "ana@work.example"}).ok
    assert rita.submit({"subject": "SRE role at Acme"}).ok
    preview, one_off = _sent(runtime)[0], _sent(runtime)[-1]
    with transaction(runtime.sessions) as session:
        (kept,) = session.scalars(select(DirectMessage)).all()  # the one-off only: nobody answers a preview
        assert (kept.to_address, kept.subject, kept.message_id) == ("ana@work.example", "SRE role at Acme",
                                                                    str(one_off["Message-ID"]))
        assert kept.provider_message_id and kept.sent_message_id is None  # the sandbox keeps our Message-ID

    clock.advance(timedelta(days=3))
    post = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    post.reply(MAILBOX, preview, "Looks good to me.", clock.now())  # rita, answering her own preview
    post.reply(MAILBOX, one_off, "Happy to talk on Thursday.", clock.now())
    sync_mailboxes(runtime, clock)
    assert deliver_notices(runtime, client_for(workspace)) == 1
    assert _last_dm(rita).startswith(
        ":speech_balloon: *Ana Lopez (ana@work.example)* replied to your email “SRE role at Acme”: "
        "“Re: SRE role at Acme”, ")
    with transaction(runtime.sessions) as session:
        (event,) = session.scalars(select(InboundEvent)).all()
        assert (event.direct_message_id, event.enrollment_id, event.from_address) == (kept.id, None, "ana@work.example")


# -- addresses that would misdirect an email (issue 13) ----------------------------------------------

@pytest.mark.parametrize("email", ["ana@x.example,boss@corp.example", "ana@@x..example", '"a@b"@x.example',
                                   "ana@x.example\r\nBcc: evil@x.example"])
def test_a_slack_profile_email_that_is_not_one_plain_address_is_never_the_preview_address(
        workspace: LocalSlack, app: App, runtime: Runtime, clock: FakeClock, email: str) -> None:
    workspace.add_user("U0ODD", name="odd", real_name="Odd Email", tz="UTC", email=email)
    _setup(runtime, clock, slack_id="U0ODD")
    person = Person(workspace, "U0ODD", BoltTarget(app))
    person.slash(COMMAND, "preview Backend engineers")
    said = workspace.ephemerals("U0ODD")[-1].text
    assert "The email address in your Slack profile cannot receive the preview" in said
    assert "Fix it in your Slack profile" in said
    assert workspace.open_views("U0ODD") == [] and _sent(runtime) == []


@pytest.mark.parametrize(("typed", "why"), [
    ("ana@x..example", "an email address cannot have two periods in a row"),
    ("ana@x.example,boss.corp.example", "the part after the @-sign contains invalid characters: ','"),
])
def test_an_address_slacks_input_lets_through_is_refused_on_the_to_field(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, typed: str, why: str) -> None:
    _, sequence_id = _setup(runtime, clock)
    _open_send(rita)
    refused = rita.submit({"template": f"{sequence_id}:1", "to": typed, "name": "Ana"})
    assert refused.errors == {"to": f'"{typed}" is not an email address ({why}): expected name@example.com'}
    refused = rita.submit({"template": f"{sequence_id}:1", "to": "noor@new.example", "name": "Noor\x00 Haddad",
                           "fields": "company=Initech\nrole=SRE"})
    assert refused.errors == {"name": "The name contains a NUL character (U+0000): remove it, it must be one line "
                                      "of plain text."}
    assert len(workspace.open_views(RITA)) == 1 and _sent(runtime) == []
