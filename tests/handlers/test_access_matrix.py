"""Who sees what, tried the way it breaks: every slash sub-command, action_id, view callback_id and
options loader registered on the Bolt app, sent by a second recruiter of Rita's workspace (Omar) and
by a user of another workspace (Xena) against Rita's objects. Each gets a refusal or "not found", no
domain row changes, and nothing of Rita's (campaign, candidates, addresses, sequence, mailbox) reaches
any payload the local Slack received while the request ran.

The rows are the app's listeners: `test_every_listener_has_a_row` enumerates what the app registered,
so a listener added later without a row here fails the suite. `test_rita_gets_through` sends the
same requests as Rita: a row that changes nothing and shows nothing for her either proves nothing, so
each row says what Rita's own request does (`CHANGES`, `SHOWS`) or that it names no object (`NONE`).

Requests are forged (Person.forge_action / forge_submission): Slack would not show Omar Rita's
buttons, but a replayed or tampered request carries whatever ids it likes, and the bot must check.
Writes excluded from "nothing is written": users and organisations (first contact creates the
person's own row) and the audit log (refused clicks are recorded on purpose).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy import Engine, MetaData, text

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person
from bot.local.slack.person import Result
from bot.models import AddressKind, CampaignShare, InboundEvent, PauseReason, ShareLevel
from bot.runtime import Runtime
from bot.services import candidate_rows, candidate_uploads, delegations, transitions
from bot.services.campaigns import create_campaign, edit_candidate_in_campaign, enroll, pause_campaign, start_campaign
from bot.services.candidates import add_candidate
from bot.services.directory import Profile, ensure_user
from bot.services.sequences import StepDraft, create_sequence
from handlers.commands import COMMAND
from handlers.notices import deliver_notices
from handlers.ids import Action, Callback
from providers.base import InboundKind
from tests import factories
from tests.handlers.conftest import OMAR, RITA

XENA, HANA, IVO, OTHER_TEAM = "U0XENA", "U0HANA", "U0IVO", "T0OTHER"
# What only Rita (and whom she shares with) may learn. The mailbox address and her name are left out:
# her teammates know both from Slack.
SECRETS = ("Backend Q4 Secret", "Paused P7 Secret", "Draft D3 Secret", "Zed Secretname", "zed@corp.example", "zed.private@home.example",
           "Yan Secretrow", "Secret Sequence", "Secret subject", "Secret body")
NOT_DOMAIN = {"users", "organisations", "audit_log", "alembic_version"}

NONE, CHANGES, SHOWS = "none", "changes", "shows"  # what the row does when Rita sends it


@dataclass(frozen=True)
class World:
    campaign: int
    paused: int
    enrollment: int
    event: int
    upload: int
    sequence: int
    mailbox: int
    request: int  # Hana asked Rita for her mailbox
    granted: int  # Rita let Ivo send from it
    hana: int


def build_world(runtime: Runtime, clock: FakeClock) -> World:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        hana = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(HANA, name="Hana Hiring"))
        ivo = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(IVO, name="Ivo Other"))
        mailbox = factories.sandbox_mailbox(session, rita, clock, address="rita.mail@acme.example")
        sequence = create_sequence(session, owner=rita, name="Secret Sequence", clock=clock, steps=[
            StepDraft("Secret subject at {{ company }}", "Secret body {{ first_name }}"),
            StepDraft("Following up", "Hi {{ first_name }}", delay_days=2)])
        zed = add_candidate(session, added_by=rita, name="Zed Secretname", fields={"company": "Acme"}, clock=clock,
                            addresses=[("zed@corp.example", AddressKind.WORK)])
        campaign = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name="Backend Q4 Secret",
                                   clock=clock)
        [enrollment] = enroll(session, campaign=campaign, candidates=[zed], clock=clock)
        edit_candidate_in_campaign(session, user=rita, enrollment=enrollment, send_to=None,
                                   new_address="zed.private@home.example", new_kind=AddressKind.PERSONAL,
                                   use_first=False, fields={}, clock=clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        paused = create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name="Paused P7 Secret",
                                 clock=clock)
        enroll(session, campaign=paused, candidates=[zed], clock=clock)
        start_campaign(session, campaign=paused, clock=clock, rng=runtime.rng)
        pause_campaign(session, campaign=paused, clock=clock)
        paused.pause_reason = PauseReason.NEEDS_RECONNECT  # as a lost sign-in leaves it: "Resume all" resumes it
        create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name="Draft D3 Secret", clock=clock)
        transitions.move(session, enrollment, leaving=transitions.SENDS, to=transitions.EnrollmentStatus.OUT_OF_OFFICE)
        event = InboundEvent(mailbox_id=mailbox.id, kind=InboundKind.AUTO_REPLY, enrollment_id=enrollment.id,
                             provider_message_id="m1", from_address="zed@corp.example", subject="Secret subject",
                             received_at=clock.now(), created_at=clock.now())
        session.add(event)
        session.add(CampaignShare(campaign_id=campaign.id, user_id=hana.id, level=ShareLevel.VIEW,
                                  shared_by_id=rita.id, created_at=clock.now()))
        upload = candidate_uploads.stage_upload(
            session, campaign=campaign, user=rita, source="pasted rows", clock=clock,
            parsed=candidate_rows.read_pasted("name\temail\nYan Secretrow\tyan@corp.example\n"))
        request = delegations.request(session, recruiter=hana, manager=rita, campaign=None, clock=clock)
        granted = delegations.request(session, recruiter=ivo, manager=rita, campaign=None, clock=clock)
        delegations.answer(session, user=rita, delegation_id=granted.id, approve=True, clock=clock,
                           mailbox_id=mailbox.id)
        session.flush()
        return World(campaign=campaign.id, paused=paused.id, enrollment=enrollment.id, event=event.id,
                     upload=upload.id, sequence=sequence.id, mailbox=mailbox.id, request=request.id,
                     granted=granted.id, hana=hana.id)


# ---- the rows -------------------------------------------------------------------------------------
Send = Callable[[Person, World], Result]


@dataclass(frozen=True)
class Row:
    key: tuple[str, str]  # ("command", sub-command) | ("action", action_id) | ("view", callback_id) | ("event", type)
    send: Send
    rita: str  # NONE | CHANGES | SHOWS: what the same request does for Rita
    strangers: bool = True  # a user of another workspace tries it too (events come from one workspace only)
    own_writes: tuple[str, ...] = ()  # tables the person's own request may write (their own upload)
    setup: Callable[[Person], Any] | None = None  # what the person does first (open the modal a button is in)


def _slash(args: Callable[[World], str]) -> Send:
    return lambda person, world: person.slash(COMMAND, args(world))


def _click(action: str, value: Callable[[World], str] = lambda w: "") -> Send:
    return lambda person, world: person.forge_action(action, value=value(world))


def _menu(option: Callable[[World], str], action: str = Action.CANDIDATE_MENU.value) -> Send:
    return lambda person, world: person.forge_action(action, selected_option_value=option(world))


def _in_modal(action: str, metadata: Callable[[World], str] | None = None, value: str = "") -> Send:
    """A click in the person's open modal (see Row.setup), its private_metadata naming Rita's objects."""
    def send(person: Person, world: World) -> Result:
        view = person.ws.open_views(person.user_id)[-1]
        if metadata is not None:
            view["private_metadata"] = metadata(world)
        return person.forge_action(action, value=value, view=view)
    return send


def _opened(args: str) -> Callable[[Person], Any]:
    return lambda person: person.slash(COMMAND, args)


def _submit(callback: Callback, values: Callable[[World], dict[str, Any]],
            metadata: Callable[[World], str] = lambda w: "") -> Send:
    return lambda person, world: person.forge_submission(callback.value, private_metadata=metadata(world),
                                                         values=values(world))


def _text(action: str, value: str) -> dict[str, Any]:
    return {action: {"type": "plain_text_input", "value": value}}


def _pick(action: str, value: str) -> dict[str, Any]:
    return {action: {"type": "static_select", "selected_option": {"value": value}}}


def _checks(action: str, *values: str) -> dict[str, Any]:
    return {action: {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}}


F, SF, SEQ = Action.CAMPAIGN_FIELD.value, Action.SEND_FIELD.value, Action.SEQUENCE_FIELD.value


def _sequence_form(world: World) -> dict[str, Any]:
    return {"name": _text(SEQ, "Renamed"), "subject_1": _text(SEQ, "Hello"), "body_1": _text(SEQ, "Hi"),
            "subject_2": _text(SEQ, "Again"), "body_2": _text(SEQ, "Hi again"),
            "delay_2": {SEQ: {"type": "number_input", "value": "2"}}}


def _campaign_form(world: World) -> dict[str, Any]:
    return {"name": _text(F, "Stolen"), "sequence": _pick(F, str(world.sequence)), "mailbox": _pick(F, str(world.mailbox)),
            "preference": {F: {"type": "radio_buttons", "selected_option": {"value": "started"}}},
            "timezone": _text(F, "UTC"), "send_days": _checks(F, "0", "1", "2", "3", "4"),
            "email_preference": {F: {"type": "radio_buttons", "selected_option": {"value": "work"}}}}


ROWS: list[Row] = [
    # slash sub-commands
    Row(("command", "help"), _slash(lambda w: "help"), NONE),
    Row(("command", "connect"), _slash(lambda w: "connect"), NONE),
    Row(("command", "mailboxes"), _slash(lambda w: "mailboxes"), NONE),
    Row(("command", "disconnect"), _slash(lambda w: "disconnect"), NONE),
    Row(("command", "admin"), _slash(lambda w: "admin permissions enhanced"), NONE),
    Row(("command", "admin campaigns"), _slash(lambda w: "admin campaigns"), NONE),
    Row(("command", "admin holidays"), _slash(lambda w: "admin holidays add 2026-12-24"), NONE),  # Rita is no admin
    Row(("command", "admin protection"), _slash(lambda w: "admin protection"), NONE),  # Rita is no admin
    Row(("command", "admin tracking"), _slash(lambda w: "admin tracking"), NONE),  # Rita is no admin
    Row(("command", "sequence new"), _slash(lambda w: "sequence new"), NONE),
    Row(("command", "sequence edit"), _slash(lambda w: "sequence edit Secret Sequence"), SHOWS),
    Row(("command", "sequences"), _slash(lambda w: "sequences"), SHOWS),
    Row(("command", "campaign new"), _slash(lambda w: "campaign new"), NONE),
    Row(("command", "campaign"), _slash(lambda w: "campaign frobnicate"), NONE),
    Row(("command", "campaign edit"), _slash(lambda w: "campaign edit Backend Q4 Secret"), SHOWS),
    Row(("command", "campaign edit"), _slash(lambda w: f"campaign edit {w.campaign}"), SHOWS),
    Row(("command", "resume"), _slash(lambda w: "resume"), SHOWS),
    Row(("command", "status"), _slash(lambda w: "status Backend Q4 Secret"), SHOWS),
    Row(("command", "status"), _slash(lambda w: f"status {w.campaign}"), SHOWS),
    Row(("command", "status"), _slash(lambda w: "status"), SHOWS),
    Row(("command", "when"), _slash(lambda w: "when Backend Q4 Secret"), SHOWS),
    Row(("command", "export"), _slash(lambda w: "export Backend Q4 Secret"), SHOWS),
    Row(("command", "export"), _slash(lambda w: f"export {w.campaign}"), SHOWS),
    Row(("command", "stats"), _slash(lambda w: "stats Backend Q4 Secret"), NONE),  # shows Rita only the name typed
    Row(("command", "stats"), _slash(lambda w: f"stats {w.campaign} last month"), SHOWS),
    Row(("command", "stats"), _slash(lambda w: "stats"), NONE),  # the asker's own campaigns: no names
    Row(("command", "stats"), _slash(lambda w: f"stats <@{RITA}|rita> 30d"), NONE),  # Omar is no admin
    Row(("command", "stats"), _slash(lambda w: "stats team"), NONE),  # admins only: Rita is no admin
    Row(("command", "preview"), _slash(lambda w: f"preview {w.sequence}"), SHOWS),
    Row(("command", "send"), _slash(lambda w: f"send {w.sequence}"), SHOWS),
    Row(("command", "delegate"), _slash(lambda w: f"delegate <@{HANA}|hana> Draft D3 Secret"), CHANGES),
    Row(("command", "delegations"), _slash(lambda w: "delegations"), NONE),
    Row(("command", "share"), _slash(lambda w: f"share Backend Q4 Secret <@{OMAR}|omar> edit"), CHANGES),
    Row(("command", "unshare"), _slash(lambda w: f"unshare Backend Q4 Secret <@{HANA}|hana>"), CHANGES),
    Row(("command", "campaigns"), _slash(lambda w: "campaigns"), SHOWS),
    Row(("command", "campaigns"), _slash(lambda w: "campaigns paused"), SHOWS),
    Row(("command", "campaign archive"), _slash(lambda w: f"campaign archive {w.campaign}"), SHOWS),  # refused, naming it
    Row(("command", "campaign delete"), _slash(lambda w: "campaign delete Draft D3 Secret"), CHANGES),
    Row(("command", "campaign remove"), _slash(lambda w: "campaign remove Backend Q4 Secret Zed Secretname"), CHANGES),
    # the do-not-contact list is the organisation's: anyone of it may add (to their own organisation's
    # list: own_writes), only an admin removes (test_do_not_contact.py: a stranger's entry never reaches Rita's)
    Row(("command", "dnc"), _slash(lambda w: "dnc"), NONE),
    Row(("command", "dnc add"), _slash(lambda w: "dnc add nobody@elsewhere.example moved on"), CHANGES,
        own_writes=("do_not_contact",)),
    Row(("command", "dnc remove"), _slash(lambda w: "dnc remove nobody@elsewhere.example"), NONE),  # Rita is no admin
    Row(("command", "dnc list"), _slash(lambda w: "dnc list"), NONE),
    Row(("command", "dnc import"), _slash(lambda w: "dnc import"), NONE),
    # buttons and menus, carrying Rita's ids
    Row(("action", Action.OPEN_CONNECT.value), _click(Action.OPEN_CONNECT.value), NONE),
    Row(("action", Action.RECONNECT.value), _click(Action.RECONNECT.value, lambda w: str(w.mailbox)), NONE),
    Row(("action", f"{Action.SIGN_IN.value}.gmail"), _click(f"{Action.SIGN_IN.value}.gmail"), NONE),
    Row(("action", Action.OPEN_OTHER.value), _in_modal(Action.OPEN_OTHER.value), NONE, setup=_opened("connect")),
    Row(("action", Action.DISCONNECT.value), _click(Action.DISCONNECT.value, lambda w: str(w.mailbox)), CHANGES),
    Row(("action", Action.RESUME_ALL.value), _click(Action.RESUME_ALL.value, lambda w: str(w.mailbox)), CHANGES),
    Row(("action", Action.MAILBOX_SETTINGS.value), _click(Action.MAILBOX_SETTINGS.value, lambda w: str(w.mailbox)),
        NONE),  # Rita's opens the limits modal: her address is no secret from teammates
    Row(("action", Action.SEQUENCE_ADD_STEP.value), _in_modal(
        Action.SEQUENCE_ADD_STEP.value, lambda w: json.dumps({"sequence_id": w.sequence, "steps": 2})), NONE,
        setup=_opened("sequence new")),
    Row(("action", Action.SEQUENCE_REMOVE_STEP.value), _in_modal(
        Action.SEQUENCE_REMOVE_STEP.value, lambda w: json.dumps({"sequence_id": w.sequence, "steps": 2}), "2"), NONE,
        setup=_opened("sequence new")),
    Row(("action", Action.SEQUENCE_OPEN_EDIT.value), _click(Action.SEQUENCE_OPEN_EDIT.value, lambda w: str(w.sequence)),
        SHOWS),
    Row(("action", Action.SEQUENCE_DELETE.value), _click(Action.SEQUENCE_DELETE.value, lambda w: str(w.sequence)),
        SHOWS),  # refused for Rita too (running campaigns use it), naming them
    Row(("action", Action.CAMPAIGN_ADD_CANDIDATES.value),
        _click(Action.CAMPAIGN_ADD_CANDIDATES.value, lambda w: str(w.campaign)), SHOWS),
    Row(("action", Action.CAMPAIGN_EDIT.value), _click(Action.CAMPAIGN_EDIT.value, lambda w: str(w.campaign)), SHOWS),
    Row(("action", Action.CAMPAIGN_START.value), _click(Action.CAMPAIGN_START.value, lambda w: str(w.campaign)), SHOWS),
    Row(("action", Action.CAMPAIGN_PAUSE.value), _click(Action.CAMPAIGN_PAUSE.value, lambda w: str(w.campaign)), CHANGES),
    Row(("action", Action.CAMPAIGN_RESUME.value), _click(Action.CAMPAIGN_RESUME.value, lambda w: str(w.paused)),
        CHANGES),
    Row(("action", f"{Action.CAMPAIGN_PAGE.value}.next"),
        _click(f"{Action.CAMPAIGN_PAGE.value}.next", lambda w: f"{w.campaign}:1"), SHOWS),
    Row(("action", Action.UPLOAD_CONFIRM.value),
        _click(Action.UPLOAD_CONFIRM.value, lambda w: f"{w.upload}:{w.campaign}"), CHANGES),
    Row(("action", Action.UPLOAD_CHOOSE.value), _menu(lambda w: f"{w.upload}:{w.campaign}", Action.UPLOAD_CHOOSE.value),
        CHANGES),
    Row(("action", f"{Action.CAMPAIGN_LIST_PAGE.value}.next"),
        _click(f"{Action.CAMPAIGN_LIST_PAGE.value}.next", lambda w: "0"), SHOWS),
    Row(("action", Action.UPLOAD_DISCARD.value), _click(Action.UPLOAD_DISCARD.value, lambda w: str(w.upload)), CHANGES),
    Row(("action", Action.CANDIDATE_MENU.value), _menu(lambda w: f"pause:{w.enrollment}"), CHANGES),
    Row(("action", Action.CANDIDATE_MENU.value), _menu(lambda w: f"edit:{w.enrollment}"), SHOWS),
    Row(("action", Action.CANDIDATE_MENU.value), _menu(lambda w: f"remove:{w.enrollment}"), SHOWS),  # the confirm
    Row(("action", Action.CANDIDATE_MENU.value), _menu(lambda w: f"override:{w.enrollment}"), SHOWS),  # nothing to override
    Row(("action", Action.ENGAGEMENT_OVERRIDE.value),
        _menu(lambda w: f"row:{w.upload}:2", Action.ENGAGEMENT_OVERRIDE.value), SHOWS),  # Yan: no teammate has him
    Row(("action", Action.CAMPAIGN_LIST_FILTER.value), _menu(lambda w: "all", Action.CAMPAIGN_LIST_FILTER.value), SHOWS),
    Row(("action", Action.CAMPAIGN_ARCHIVE.value), _click(Action.CAMPAIGN_ARCHIVE.value, lambda w: str(w.campaign)),
        SHOWS),  # refused for Rita too (still running), naming it
    Row(("action", Action.CAMPAIGN_DELETE.value), _click(Action.CAMPAIGN_DELETE.value, lambda w: str(w.campaign)),
        SHOWS),  # refused for Rita too (started), naming it
    Row(("action", Action.SHARE_REVOKE.value), _click(Action.SHARE_REVOKE.value, lambda w: f"{w.campaign}:{w.hana}"),
        CHANGES),
    Row(("action", Action.REPLY_HANDLED.value), _click(Action.REPLY_HANDLED.value, lambda w: str(w.event)), CHANGES),
    Row(("action", Action.REPLY_WAS_AUTO.value), _click(Action.REPLY_WAS_AUTO.value, lambda w: str(w.event)), NONE),
    Row(("action", Action.AUTO_WAS_REPLY.value), _click(Action.AUTO_WAS_REPLY.value, lambda w: str(w.event)), CHANGES),
    Row(("action", Action.REPLY_DO_NOT_CONTACT.value),
        _click(Action.REPLY_DO_NOT_CONTACT.value, lambda w: str(w.event)), CHANGES),  # lists zed@corp.example
    Row(("action", Action.DELEGATION_APPROVE.value),
        _click(Action.DELEGATION_APPROVE.value, lambda w: f"{w.request}:{w.mailbox}"), CHANGES),
    Row(("action", Action.DELEGATION_APPROVE_NOTIFY.value),
        _click(Action.DELEGATION_APPROVE_NOTIFY.value, lambda w: f"{w.request}:{w.mailbox}"), CHANGES),
    Row(("action", Action.DELEGATION_DENY.value), _click(Action.DELEGATION_DENY.value, lambda w: str(w.request)),
        CHANGES),
    Row(("action", Action.DELEGATION_REVOKE.value), _click(Action.DELEGATION_REVOKE.value, lambda w: str(w.granted)),
        CHANGES),
    Row(("action", Action.DELEGATION_REPLIES.value),
        _click(Action.DELEGATION_REPLIES.value, lambda w: f"{w.granted}:on"), CHANGES),
    # modal submissions naming Rita's objects
    Row(("view", Callback.CONNECT_MAILBOX.value), _submit(Callback.CONNECT_MAILBOX, lambda w: {
        "provider": _pick(Action.PROVIDER.value, "sandbox"),
        "address": _text(Action.ADDRESS.value, "rita.mail@acme.example")}), NONE),
    Row(("view", Callback.CONNECT_OTHER.value), _submit(Callback.CONNECT_OTHER,
                                                        lambda w: {"address": _text(Action.FIELD.value, "x")}), NONE),
    Row(("view", Callback.MAILBOX_LIMITS.value), _submit(Callback.MAILBOX_LIMITS, lambda w: {
        "daily_cap": {Action.FIELD.value: {"type": "number_input", "value": "5"}},
        "min_spacing_seconds": {Action.FIELD.value: {"type": "number_input", "value": "5"}}}, lambda w: str(w.mailbox)),
        CHANGES),
    Row(("view", Callback.SEQUENCE_EDIT.value), _submit(Callback.SEQUENCE_EDIT, _sequence_form,
                                                        lambda w: json.dumps({"sequence_id": w.sequence, "steps": 2})),
        CHANGES),
    Row(("view", Callback.PREVIEW.value), _submit(Callback.PREVIEW, lambda w: {
        "mailbox": _pick(SF, str(w.mailbox)), "sample.first_name": _text(SF, "Sam"),
        "sample.company": _text(SF, "Acme")}, lambda w: str(w.sequence)), NONE),
    Row(("view", Callback.SEND_ONE.value), _submit(Callback.SEND_ONE, lambda w: {
        "template": _pick(SF, f"{w.sequence}:1"), "to": {SF: {"type": "email_text_input", "value": "x@y.example"}},
        "name": _text(SF, "Xavier Y"), "fields": _text(SF, "company=Acme")}, lambda w: json.dumps({"stage": "choose"})),
        SHOWS),
    Row(("view", Callback.CAMPAIGN_NEW.value), _submit(Callback.CAMPAIGN_NEW, _campaign_form), CHANGES),
    Row(("view", Callback.CAMPAIGN_EDIT.value), _submit(Callback.CAMPAIGN_EDIT, _campaign_form, lambda w: str(w.campaign)),
        CHANGES),
    Row(("view", Callback.CANDIDATES_ADD.value), _submit(Callback.CANDIDATES_ADD, lambda w: {
        "paste": _text(F, "name\temail\nNew Person\tnew@corp.example")}, lambda w: str(w.campaign)), CHANGES),
    Row(("view", Callback.CANDIDATE_EDIT.value), _submit(Callback.CANDIDATE_EDIT, lambda w: {
        "new_kind": _pick(F, "work"), "fields": _text(F, "company: Stolen")}, lambda w: str(w.enrollment)), CHANGES),
    Row(("view", Callback.CANDIDATE_REMOVE.value), _submit(Callback.CANDIDATE_REMOVE, lambda w: {},
                                                           lambda w: str(w.enrollment)), CHANGES),
    Row(("view", Callback.RESUME.value), _submit(Callback.RESUME, lambda w: {"campaigns": _checks(F, str(w.paused))}),
        CHANGES),
    Row(("view", Callback.DNC_IMPORT.value), _submit(Callback.DNC_IMPORT, lambda w: {
        "paste": _text(Action.DNC_FIELD.value, "nobody@elsewhere.example\nelsewhere.example")}), CHANGES,
        own_writes=("do_not_contact",)),
    Row(("view", Callback.ENGAGEMENT_OVERRIDE.value), _submit(Callback.ENGAGEMENT_OVERRIDE, lambda w: {
        "reason": _text(Action.PROTECTION_FIELD.value, "mine now")}, lambda w: f"enrollment:{w.enrollment}"), SHOWS),
    Row(("view", Callback.ENGAGEMENT_OVERRIDE.value), _submit(Callback.ENGAGEMENT_OVERRIDE, lambda w: {
        "reason": _text(Action.PROTECTION_FIELD.value, "mine now")}, lambda w: f"row:{w.upload}:2"), SHOWS),
    Row(("view", Callback.PROTECTION.value), _submit(Callback.PROTECTION, lambda w: {
        "rule": {Action.PROTECTION_FIELD.value: {"type": "radio_buttons", "selected_option": {"value": "block"}}},
        "days": {Action.PROTECTION_FIELD.value: {"type": "number_input", "value": "5"}}}), NONE),  # Rita is no admin
    Row(("view", Callback.OPEN_TRACKING.value), _submit(Callback.OPEN_TRACKING, lambda w: {
        "allow": {Action.OPEN_TRACKING_FIELD.value: {"type": "checkboxes", "selected_options": [{"value": "allow"}]}}}),
        NONE),  # Rita is no admin
    # events come from the person's own workspace only
    Row(("event", "app_home_opened"), lambda person, world: person.open_home(), SHOWS, strangers=False),
    Row(("event", "file_shared"), lambda person, world: person.upload(
        "list.csv", b"name,email\nAl Person,al@x.example\n").result, SHOWS, strangers=False,
        own_writes=("candidate_uploads",)),
]


# ---- what a request left behind ------------------------------------------------------------------
def domain_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {name: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{name}"')).all()), key=repr)
                for name in sorted(metadata.tables) if name not in NOT_DOMAIN}


def received(ws: LocalSlack, mark: int, calls: int, result: Result) -> str:
    """Everything Slack was sent while the request ran: Web API calls, response_url posts, the ack."""
    shown = [a for a in ws.transcript_since(mark) if a.kind not in ("click", "submit", "command")]
    return json.dumps([[c.method, c.params] for c in ws.calls[calls:]] + [[a.kind, a.text, a.data] for a in shown]
                      + [result.body], default=str)


@dataclass(frozen=True)
class Attempt:
    changed: list[str]  # the domain tables whose rows differ afterwards
    received: str  # everything Slack was sent meanwhile, as JSON
    typed: str  # what the person sent: a name they typed themselves may be repeated back to them
    status: int

    def leaked(self) -> list[str]:
        return [s for s in SECRETS if s in self.received and s not in self.typed]


def attempt(ws: LocalSlack, engine: Engine, person: Person, row: Row, world: World) -> Attempt:
    if row.setup:
        row.setup(person)
    before, mark, calls = domain_rows(engine), ws.mark(), len(ws.calls)
    result = row.send(person, world)
    after = domain_rows(engine)
    return Attempt([t for t in after if after[t] != before.get(t)], received(ws, mark, calls, result),
                   json.dumps(result.payload), result.status)


@pytest.fixture
def xena(workspace: LocalSlack, app: App) -> Person:
    workspace.add_user(XENA, name="xena", real_name="Xena Elsewhere", email="xena@other.example")
    return Person(workspace, XENA, BoltTarget(app), team_id=OTHER_TEAM)


def _people(ws: LocalSlack) -> None:
    ws.add_user(HANA, name="hana", real_name="Hana Hiring")
    ws.add_user(IVO, name="ivo", real_name="Ivo Other")


def _ids(row: Row) -> str:
    return f"{row.key[0]}:{row.key[1]}:{ROWS.index(row)}"


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_no_one_else_reaches_ritas_campaign(row: Row, workspace: LocalSlack, engine: Engine, runtime: Runtime,
                                            clock: FakeClock, app: App, omar: Person, xena: Person) -> None:
    _people(workspace)
    world = build_world(runtime, clock)
    deliver_notices(runtime, app.client)  # Rita's notices go out now, not as a side effect of the attempt
    for person in ([omar, xena] if row.strangers else [omar]):
        tried = attempt(workspace, engine, person, row, world)
        assert tried.status < 500, f"{person.name}: HTTP {tried.status}"
        changed = [t for t in tried.changed if t not in row.own_writes]
        assert not changed, f"{person.name}'s request changed {changed}"
        assert not tried.leaked(), f"{person.name} was shown {tried.leaked()}"


@pytest.mark.parametrize("row", [r for r in ROWS if r.rita != NONE], ids=_ids)
def test_rita_gets_through(row: Row, workspace: LocalSlack, engine: Engine, runtime: Runtime, clock: FakeClock,
                           app: App, rita: Person) -> None:
    """The same request from Rita does what the row says: the matrix rows reach the checks they test."""
    _people(workspace)
    world = build_world(runtime, clock)
    deliver_notices(runtime, app.client)  # Rita's notices go out now, not as a side effect of the attempt
    tried = attempt(workspace, engine, rita, row, world)
    assert tried.status < 500
    if row.rita == CHANGES:
        assert tried.changed, "Rita's own request changed nothing: the row does not reach what it tests"
    else:
        assert tried.leaked(), "Rita's own request showed nothing of hers"


def _probe(key: tuple[str, str]) -> BoltRequest:
    kind, name = key
    if kind == "command":
        return BoltRequest(body=f"command={COMMAND}&text={name}", headers={"content-type": [
            "application/x-www-form-urlencoded"]})
    if kind == "event":
        body: dict[str, Any] = {"type": "event_callback", "event": {"type": name}}
    elif kind == "action":
        body = {"type": "block_actions", "actions": [{"action_id": name, "block_id": "b"}]}
    elif kind == "view":
        body = {"type": "view_submission", "view": {"callback_id": name, "type": "modal"}}
    else:
        body = {"type": "block_suggestion", "action_id": name}
    return BoltRequest(body=json.dumps(body), headers={"content-type": ["application/json"]})


def test_every_listener_has_a_row(app: App, runtime: Runtime) -> None:
    """Each listener the app registered is matched by some row's request, and each sub-command has a row."""
    probes = [_probe(row.key) for row in ROWS]
    unmatched = [repr(listener.ack_function) for listener in app._listeners  # Bolt's registered listeners
                 if not any(all(m.matches(probe, BoltResponse(status=200)) for m in listener.matchers)
                            for probe in probes)]
    assert not unmatched, f"listeners without a row in the access matrix: {unmatched}"
    from handlers import register_all  # the router's sub-commands, as /outreach help lists them

    router = register_all(App(token="xoxb-probe", signing_secret="s", token_verification_enabled=False), runtime)
    commands = {name for name, _ in router.listing}
    covered = {row.key[1] for row in ROWS if row.key[0] == "command"}
    assert commands == covered, f"sub-commands without a row: {sorted(commands - covered)}"
