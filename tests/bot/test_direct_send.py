"""Emails sent now, outside the campaign queue: the preview of a sequence to the recruiter's own
address, and one email to one candidate. Real database, sandbox mailbox; what went out is read back
through the sandbox PostOffice."""
from __future__ import annotations

from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    AddressKind,
    AuditEntry,
    CampaignStatus,
    Mailbox,
    MailboxSendCount,
    MailboxStatus,
    Notification,
    SequenceStep,
    User,
)
from bot.provider_registry import ProviderRegistry
from bot.runtime import Runtime
from bot.services import direct_send
from bot.services.campaigns import start_campaign
from bot.services.candidates import add_candidate
from bot.services.directory import Profile, ensure_user
from bot.services.sequences import StepDraft, create_sequence
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.conftest import T0

MAILBOX = "recruiting@acme.example"  # not Rita's own address, so From and To differ
STEPS = [
    StepDraft("Backend role at {{ company }}",
              "Hi {{ first_name }},\nWe are hiring a {{ role }} at {{ company }}.\nRita"),
    StepDraft("Following up", "Hi {{ first_name }}, any thoughts on {{ company }}?", delay_days=2),
    StepDraft("Last note", "Hi {{ name }}, I will leave it here.", delay_days=3),
]


def _setup(runtime: Runtime, clock: FakeClock, *, steps: list[StepDraft] = STEPS, daily_cap: int | None = None
           ) -> tuple[int, int, int]:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        if daily_cap is not None:
            mailbox.daily_cap = daily_cap
        sequence = create_sequence(session, owner=rita, name="Backend engineers", steps=steps, clock=clock)
        return rita.id, mailbox.id, sequence.id


def send_preview(sessions: sessionmaker[Session], *, providers: ProviderRegistry, clock: Clock,
                 **arguments: Any) -> direct_send.DirectSent:
    """Queued by the service, sent by the dispatcher, read back: what handlers/sending.py does."""
    queued = direct_send.queue_preview(sessions, clock=clock, **arguments)
    Dispatcher(session_factory=sessions, providers=providers, clock=clock, concurrency=1).send_now(queued.ids)
    return direct_send.result(sessions, queued, clock=clock)


def send_one(sessions: sessionmaker[Session], *, providers: ProviderRegistry, clock: Clock,
             **arguments: Any) -> direct_send.DirectSent:
    queued = direct_send.queue_one(sessions, clock=clock, **arguments)
    Dispatcher(session_factory=sessions, providers=providers, clock=clock, concurrency=1).send_now(queued.ids)
    return direct_send.result(sessions, queued, clock=clock)


def _preview(runtime: Runtime, ids: tuple[int, int, int], **samples: str) -> direct_send.DirectSent:
    user_id, mailbox_id, sequence_id = ids
    return send_preview(runtime.sessions, user_id=user_id, sequence_id=sequence_id, mailbox_id=mailbox_id,
                        samples=samples, providers=runtime.providers, clock=runtime.clock)


def _sent(runtime: Runtime) -> list[Message]:
    return PostOffice(runtime.providers.sandbox).sent(MAILBOX)  # type: ignore[attr-defined]


def _text(message: Message) -> str:
    return message.get_content().replace("\r\n", "\n")  # the wire's line ends, read back


def _counted(runtime: Runtime, mailbox_id: int) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.coalesce(func.sum(MailboxSendCount.sends), 0))
                              .where(MailboxSendCount.mailbox_id == mailbox_id)) or 0


def _mailbox(runtime: Runtime, mailbox_id: int) -> Mailbox:
    with transaction(runtime.sessions) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        return mailbox


def test_template_variables_are_listed_once_in_order_of_first_use_without_the_name_ones() -> None:
    steps = [SequenceStep(position=2, subject="{{ company|upper }}", body="{{ name }} {{ team }}"),
             SequenceStep(position=1, subject="{{ company }} · {{ first_name }}",
                          body="{% for s in skills %}{{ s }}{% endfor %} {{ role }} {% for i in range(2) %}.{% endfor %}")]
    assert direct_send.template_variables(steps) == ["company", "skills", "role", "team"]
    assert direct_send.sample_values(["company", "role"], {"company": "Initech", "role": ""}) == {
        "company": "Initech", "role": "[role]"}


def test_a_preview_mails_every_step_to_the_recruiter_threaded_under_step_1_with_sample_values(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    result = _preview(runtime, ids, company="Initech")

    first, second, third = _sent(runtime)
    assert [recipient_of(m) for m in (first, second, third)] == ["rita@acme.example"] * 3
    assert "Rita Recruiter" in str(first["From"]) and MAILBOX in str(first["From"])
    assert [str(m["Subject"]) for m in (first, second, third)] == [
        "[Preview] Backend role at Initech", "Re: [Preview] Backend role at Initech",
        "Re: [Preview] Backend role at Initech"]
    assert _text(first) == "Hi Alex,\nWe are hiring a [role] at Initech.\nRita"
    assert _text(third).startswith("Hi Alex Sample, I will leave it here.")
    assert first["In-Reply-To"] is None
    assert str(second["In-Reply-To"]) == str(first["Message-ID"])
    assert str(third["In-Reply-To"]) == str(second["Message-ID"])
    assert str(third["References"]).split() == [str(first["Message-ID"]), str(second["Message-ID"])]
    assert len({str(m["X-Sandbox-Thread-Id"]) for m in (first, second, third)}) == 1  # one provider thread
    assert result.message_ids == tuple(str(m["Message-ID"]) for m in (first, second, third))
    assert (result.to_address, result.from_address, result.sequence_name) == (
        "rita@acme.example", MAILBOX, "Backend engineers")


def test_a_preview_counts_toward_the_cap_and_is_audited_without_its_text(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    result = _preview(runtime, ids, company="Initech")
    mailbox = _mailbox(runtime, ids[1])
    assert _counted(runtime, ids[1]) == 3
    assert mailbox.last_send_at == T0
    assert mailbox.not_before == T0 + timedelta(seconds=mailbox.min_spacing_seconds)
    with transaction(runtime.sessions) as session:
        entry = session.scalar(select(AuditEntry))
        assert entry is not None
        assert (entry.action, entry.subject_type, entry.subject_id, entry.actor) == (
            "preview_sent", "mailbox", ids[1], "U0RITA")
        assert entry.detail["message_ids"] == list(result.message_ids)
        assert entry.detail["to"] == "rita@acme.example"
        assert "hiring" not in str(entry.detail) and "Initech" not in str(entry.detail)


def test_follow_ups_keep_their_own_subjects_when_not_threaded(runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    send_preview(runtime.sessions, user_id=user_id, sequence_id=sequence_id, mailbox_id=mailbox_id,
                             samples={}, providers=runtime.providers, clock=clock, same_thread=False)
    sent = _sent(runtime)
    assert [str(m["Subject"]) for m in sent] == [
        "[Preview] Backend role at [company]", "[Preview] Following up", "[Preview] Last note"]
    assert all(m["In-Reply-To"] is None for m in sent)


def test_a_preview_over_the_daily_cap_is_refused_saying_when_room_frees_up(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock, daily_cap=4)
    with transaction(runtime.sessions, write=True) as session:  # 3 campaign sends at 08:00 UTC today
        session.add(MailboxSendCount(mailbox_id=ids[1], hour=T0.replace(hour=8, minute=0), sends=3))
    with pytest.raises(UserError) as refused:
        _preview(runtime, ids)
    assert refused.value.field == "mailbox"
    assert refused.value.message == (
        f"{MAILBOX} has sent 3 of its 4 emails allowed in 24 hours, so these 3 emails would go over its daily cap. "
        "There is room again from Tue 04:00 (America/New_York).")  # 08:00 UTC + 25 h, in Rita's time zone
    assert _sent(runtime) == [] and _counted(runtime, ids[1]) == 3


def test_a_sequence_longer_than_the_cap_is_refused_outright(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock, daily_cap=2)
    with pytest.raises(UserError, match="may send 2 emails in 24 hours, fewer than the 3 this needs"):
        _preview(runtime, ids)
    assert _sent(runtime) == []


def test_a_lost_sign_in_marks_the_mailbox_for_reconnecting_and_says_so(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        rita, mailbox = session.get(User, ids[0]), session.get(Mailbox, ids[1])
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)  # type: ignore[arg-type]
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    runtime.providers.sandbox.inject(MAILBOX, "reconnect")  # type: ignore[attr-defined]
    with pytest.raises(UserError) as refused:
        _preview(runtime, ids)
    assert refused.value.message.startswith(f"The connection to {MAILBOX} was lost, so nothing was sent. Reconnect it")
    assert "invalid_grant" not in refused.value.message
    assert _mailbox(runtime, ids[1]).status == MailboxStatus.NEEDS_RECONNECT
    assert _counted(runtime, ids[1]) == 0  # nothing went out, so nothing counts against the cap
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Notification.kind)) == "needs_reconnect"
        assert session.get(type(campaign), campaign.id).status == CampaignStatus.PAUSED  # type: ignore[union-attr]
        assert session.scalar(select(AuditEntry)) is None
    with pytest.raises(UserError, match="needs to be reconnected") as again:  # and it is refused before sending
        _preview(runtime, ids)
    assert again.value.field == "mailbox"


def test_a_rate_limit_says_when_to_try_again_and_holds_the_mailbox(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    runtime.providers.sandbox.inject(MAILBOX, "rate_limited:300")  # type: ignore[attr-defined]
    with pytest.raises(UserError) as refused:
        _preview(runtime, ids)
    assert refused.value.message == ("The sandbox mail server asked us to slow down; try again in 5 minutes. "
                                     "Nothing was sent.")
    assert _mailbox(runtime, ids[1]).not_before == T0 + timedelta(seconds=300)
    assert _counted(runtime, ids[1]) == 0
    clock.advance(timedelta(minutes=2))
    with pytest.raises(UserError, match="asked us to slow down; try again in 3 minutes"):
        _preview(runtime, ids)
    clock.advance(timedelta(minutes=3))
    assert len(_preview(runtime, ids).message_ids) == 3


def test_a_permanent_refusal_names_the_problem(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    runtime.providers.sandbox.inject(MAILBOX, "permanent")  # type: ignore[attr-defined]
    with pytest.raises(UserError, match=r"refused the email to rita@acme.example: sandbox: 400 invalid recipient\. "
                                        r"Nothing was sent\."):
        _preview(runtime, ids)


def test_an_unclear_answer_says_to_look_in_the_sent_folder_and_keeps_counting_it(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    runtime.providers.sandbox.inject(MAILBOX, "timeout_after_accept")  # type: ignore[attr-defined]
    with pytest.raises(UserError, match=f"may or may not have gone out. Look in the Sent folder of {MAILBOX}"):
        _preview(runtime, ids)
    assert _counted(runtime, ids[1]) == 1  # step 1 may have gone out (it did); steps 2 and 3 were never tried


def test_without_an_email_in_slack_there_is_nowhere_to_send_a_preview(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        user = session.get(User, ids[0])
        assert user is not None
        user.email = None
        with pytest.raises(UserError, match="Your Slack profile has no email address"):
            direct_send.preview_form(session, user=user, sequence="Backend engineers", now=T0)
    with pytest.raises(UserError, match="no email address"):
        _preview(runtime, ids)
    assert _sent(runtime) == []


def test_the_preview_form_offers_a_sample_for_each_field_and_the_mailboxes(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    with transaction(runtime.sessions) as session:
        user = session.get(User, ids[0])
        form = direct_send.preview_form(session, user=user, sequence="backend ENGINEERS", now=T0)  # type: ignore[arg-type]
        assert (form.sequence_id, form.steps, form.to_address) == (ids[2], 3, "rita@acme.example")
        assert form.samples == {"company": "[company]", "role": "[role]"}
        assert [(s.address, s.left_today) for s in form.senders] == [(MAILBOX, 1800)]
        with pytest.raises(UserError, match="no sequence called 'Frontend'"):
            direct_send.preview_form(session, user=user, sequence="Frontend", now=T0)  # type: ignore[arg-type]


def test_one_email_goes_out_exactly_as_edited(runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        user = session.get(User, user_id)
        assert user is not None
        add_candidate(session, added_by=user, name="Ana Lopez", fields={"company": "Acme", "role": "SRE"}, clock=clock,
                      addresses=[("ana@work.example", AddressKind.WORK)])
        draft = direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,
                                      to_address="Ana@Work.example", name="", fields={"role": "backend engineer"})
    assert (draft.to_address, draft.name, draft.subject) == ("ana@work.example", "Ana Lopez", "Backend role at Acme")
    assert draft.body == "Hi Ana,\nWe are hiring a backend engineer at Acme.\nRita"  # typed fields win

    edited = direct_send.Draft(**{**draft.__dict__, "body": "Hi Ana,\nA quick one: are you open to a chat?\nRita"})
    result = send_one(runtime.sessions, user_id=user_id, draft=edited, mailbox_id=mailbox_id,
                                  providers=runtime.providers, clock=clock)
    (message,) = _sent(runtime)
    assert (recipient_of(message), str(message["Subject"])) == ("ana@work.example", "Backend role at Acme")
    assert _text(message) == "Hi Ana,\nA quick one: are you open to a chat?\nRita"
    assert message["In-Reply-To"] is None
    assert _counted(runtime, mailbox_id) == 1
    with transaction(runtime.sessions) as session:
        entry = session.scalar(select(AuditEntry))
        assert entry is not None and entry.action == "email_sent"
        assert entry.detail["message_ids"] == list(result.message_ids) and entry.detail["to"] == "ana@work.example"
        assert entry.detail["step"] == 1 and "chat" not in str(entry.detail)


def test_a_missing_template_field_is_named_on_the_fields_input(runtime: Runtime, clock: FakeClock) -> None:
    user_id, _, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions) as session:
        user = session.get(User, user_id)
        with pytest.raises(UserError) as missing:
            direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,  # type: ignore[arg-type]
                                  to_address="new@person.example", name="Noor Haddad", fields={"role": "SRE"})
        assert missing.value.field == "fields"
        assert missing.value.message == ("Step 1 uses {{ company }}, and there is no value for it: "
                                         "add a line like company=… here.")
        with pytest.raises(UserError) as nameless:
            direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,  # type: ignore[arg-type]
                                  to_address="new@person.example", name=" ", fields={})
        assert (nameless.value.field, nameless.value.message) == (
            "name", "No saved candidate has this address: enter their name.")
        with pytest.raises(UserError) as bad_address:
            direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,  # type: ignore[arg-type]
                                  to_address="not an address", name="Noor", fields={})
        assert bad_address.value.field == "to"


def test_fields_are_read_one_per_line_and_a_bad_line_is_named() -> None:
    assert direct_send.parse_fields("company=Acme\n\nrole: Staff engineer \n") == {
        "company": "Acme", "role": "Staff engineer"}
    with pytest.raises(UserError, match="Line 2 is not a field") as bad:
        direct_send.parse_fields("company=Acme\nAcme Corp")
    assert bad.value.field == "fields"


@pytest.mark.parametrize(("subject", "body", "field"), [
    ("Hello {{ company }}", "Hi", "subject"),
    ("Hello", "Hi {{ first_name }},", "body"),
    ("Hello", "{% if x %}yes{% endif %}", "body"),
    ("   ", "Hi", "subject"),
    ("Hello", "  \n ", "body"),
])
def test_edited_text_that_still_holds_template_syntax_or_nothing_is_refused_on_its_field(
        subject: str, body: str, field: str) -> None:
    with pytest.raises(UserError) as refused:
        direct_send.check_edited(subject, body)
    assert refused.value.field == field


def test_campaign_sends_after_a_direct_send_share_the_cap_and_keep_their_spacing(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock, daily_cap=4)
    with transaction(runtime.sessions, write=True) as session:
        rita, mailbox = session.get(User, ids[0]), session.get(Mailbox, ids[1])
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=3)  # type: ignore[arg-type]
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    _preview(runtime, ids)  # 3 of the 4 a day
    assert _mailbox(runtime, ids[1]).not_before == T0 + timedelta(seconds=60)
    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1)
    for _ in range(5):  # every first step is due by then; a run a minute apart, as the spacing allows
        clock.advance(timedelta(minutes=30) if _ == 0 else timedelta(seconds=61))
        dispatcher.run_until_idle()
    campaign_sends = [m for m in _sent(runtime) if not str(m["Subject"]).startswith(("[Preview]", "Re: [Preview]"))]
    assert len(campaign_sends) == 1  # the cap held the other two
    assert _counted(runtime, ids[1]) == 4


def test_a_mailbox_the_user_may_not_send_from_is_refused(runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        omar = factories.recruiter(session, clock, slack_id="U0OMAR")
        omar.email = "omar@acme.example"
        other_id = factories.sandbox_mailbox(session, omar, clock, address="omar@acme.example").id
    with pytest.raises(UserError, match="You may not send from that mailbox") as refused:
        send_preview(runtime.sessions, user_id=user_id, sequence_id=sequence_id, mailbox_id=other_id,
                                 samples={}, providers=runtime.providers, clock=clock)
    assert refused.value.field == "mailbox"
    assert PostOffice(runtime.providers.sandbox).all_sent() == []  # type: ignore[attr-defined]


# -- what enters: addresses and one-line texts (issue 13) ------------------------------------------

BAD_ADDRESSES = ["ana@x.example,boss@corp.example", "ana@@x..example", '"a@b"@x.example',
                 "ana@x.example\r\nBcc: evil@x.example"]
WHY = ["holds more than one address: enter one address only", "is not an email address (the part after the @-sign "
       "contains invalid characters: '@')", "has quotes before the @", "contains a line break (U+000D)"]


@pytest.mark.parametrize(("address", "why"), list(zip(BAD_ADDRESSES, WHY)))
def test_an_address_that_is_not_one_plain_address_is_refused_on_the_to_field(
        runtime: Runtime, clock: FakeClock, address: str, why: str) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions) as session:
        user = session.get(User, user_id)
        with pytest.raises(UserError) as refused:
            direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,  # type: ignore[arg-type]
                                  to_address=address, name="Ana", fields={"company": "Acme", "role": "SRE"})
        assert refused.value.field == "to" and why in refused.value.message
    # A draft is sent as it was shown; one that did not come from draft_one is checked again.
    draft = direct_send.Draft(sequence_id, "Backend engineers", 1, address, "Ana", "Hello", "Hi Ana")
    with pytest.raises(UserError) as again:
        send_one(runtime.sessions, user_id=user_id, draft=draft, mailbox_id=mailbox_id,
                             providers=runtime.providers, clock=clock)
    assert again.value.field == "to"
    assert _sent(runtime) == [] and _counted(runtime, mailbox_id) == 0


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_slack_profile_email_that_is_not_one_plain_address_is_never_the_preview_address(
        runtime: Runtime, clock: FakeClock, address: str) -> None:
    ids = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        user = session.get(User, ids[0])
        assert user is not None
        user.email = address  # as Slack's users.info gave it
        with pytest.raises(UserError, match="The email address in your Slack profile cannot receive the preview"):
            direct_send.preview_form(session, user=user, sequence="Backend engineers", now=T0)
        with pytest.raises(UserError, match="Fix it in your Slack profile"):
            direct_send.check_preview(session, user=user, sequence_id=ids[2], mailbox_id=ids[1], samples={}, now=T0)
    with pytest.raises(UserError, match="cannot receive the preview"):
        _preview(runtime, ids)
    assert _sent(runtime) == [] and _counted(runtime, ids[1]) == 0


def test_control_characters_in_a_name_field_sample_or_subject_are_refused_on_their_input(
        runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions) as session:
        user = session.get(User, user_id)
        with pytest.raises(UserError, match=r"contains a line break \(U\+000D\)") as name:
            direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,  # type: ignore[arg-type]
                                  to_address="noor@new.example", name="Noor\rBcc: x", fields={})
        assert name.value.field == "name"
        with pytest.raises(UserError, match=r"contains a line separator \(U\+2028\)") as sample:
            direct_send.check_preview(session, user=user, sequence_id=sequence_id,  # type: ignore[arg-type]
                                      mailbox_id=mailbox_id, samples={"company": "Ac\u2028me"}, now=T0)
        assert sample.value.field == "sample.company"
    with pytest.raises(UserError, match=r"Line 2: the value of role contains a NUL character") as fields:
        direct_send.parse_fields("company=Acme\nrole=S\x00RE")
    assert fields.value.field == "fields"
    for subject, body, field in [("Hi\x1bthere", "Hi", "subject"), ("Hello", "Hi\x00", "body")]:
        with pytest.raises(UserError) as edited:
            direct_send.check_edited(subject, body)
        assert edited.value.field == field
    direct_send.check_edited("Hello", "Hi Ana,\r\nthree\nlines\n")  # a body has lines, of course


def test_a_saved_field_with_a_line_break_cannot_make_a_subject_of_two_lines(runtime: Runtime, clock: FakeClock) -> None:
    user_id, _, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        user = session.get(User, user_id)
        assert user is not None
        add_candidate(session, added_by=user, name="Ana Lopez", clock=clock, addresses=[("ana@work.example",
                      AddressKind.WORK)], fields={"company": "Acme\nBcc: evil@x.example", "role": "SRE"})
        with pytest.raises(UserError, match="type that field here on one line") as refused:
            direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,
                                  to_address="ana@work.example", name="", fields={})
        assert refused.value.field == "fields"
        draft = direct_send.draft_one(session, user=user, sequence_id=sequence_id, position=1,
                                      to_address="ana@work.example", name="", fields={"company": "Acme"})
        assert draft.subject == "Backend role at Acme"


def test_a_header_that_cannot_be_written_is_refused_before_anything_is_counted(
        runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        user = session.get(User, user_id)
        assert user is not None
        user.name = "Rita\nBcc: evil@x.example"  # the From name, stored before names were checked
    draft = direct_send.Draft(sequence_id, "Backend engineers", 1, "ana@work.example", "Ana", "Hello", "Hi Ana")
    with pytest.raises(UserError, match="This email cannot be sent: the From header would contain a line break"):
        send_one(runtime.sessions, user_id=user_id, draft=draft, mailbox_id=mailbox_id,
                             providers=runtime.providers, clock=clock)
    assert _sent(runtime) == [] and _counted(runtime, mailbox_id) == 0


def test_a_slack_profile_name_loses_its_line_breaks_before_it_becomes_a_from_name(
        runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        user = ensure_user(session, slack_team_id="T0LOCAL", clock=clock,
                           profile=Profile("U0ODD", name="Rita\r\nBcc: evil@x.example\x00"))
        assert user.name == "Rita Bcc: evil@x.example"  # one line: it cannot start a header of its own
