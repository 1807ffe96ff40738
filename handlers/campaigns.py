"""Campaigns in Slack: create, add candidates (CSV or pasted rows), start, pause and resume (the whole
campaign or one candidate), per-campaign candidate changes, and a status message kept up to date."""
from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import AddressKind, Campaign, CampaignStatus, SendPreference, User
from bot.runtime import Runtime
from bot.services import access, bulk_resume, campaign_lifecycle, candidate_rows, candidate_uploads, tracking_settings
from bot.services.access import Need
from bot.services.campaign_list import campaign_page
from bot.services.campaign_status import campaign_status, current_and_bounced, send_waits
from bot.services.campaigns import (
    PAUSE_REASONS,
    open_campaigns,
    create_campaign,
    edit_candidate_in_campaign,
    pause_campaign,
    pause_candidate,
    paused_campaigns,
    candidate_zones,
    preview_plan,
    resume_blocker,
    resume_campaign,
    resume_candidate,
    start_campaign,
    upcoming_sends,
)
from bot.services.fresh_statistics import refresh_after_bulk_write
from bot.services.mailboxes import sending_mailboxes
from bot.services.sequences import sequences_of
from handlers import engagement
from handlers.campaign_message import campaign_message, results_of
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.files import download, file_info, file_or_paste
from handlers.ids import Action, Callback
from handlers.payloads import CandidateChoice, Id, MessagePage, Offset, action_value
from handlers.slack import Slack
from handlers import do_not_contact
from handlers.bulk_resume import resume_with_progress
from handlers.upload_progress import ProgressMessage, add_upload
from handlers.views.results import results_blocks
from handlers.views.uploads import reading_text
from handlers.view_state import value_of
from handlers.views.campaign_manage import remove_candidate_modal
from handlers.views.campaigns import (
    CampaignChoices,
    PausedCampaign,
    UploadSummary,
    campaign_blocks,
    campaign_list_blocks,
    campaign_list_text,
    campaign_modal,
    candidate_modal,
    candidates_modal,
    resume_modal,
    upload_blocks,
    when_blocks,
)
from bot.wording import counted

log = logging.getLogger(__name__)
F = Action.CAMPAIGN_FIELD.value


# ---- reading the modal ---------------------------------------------------------------------------
def _value(values: dict[str, Any], block: str) -> Any:
    return value_of(values, block, F)


def _campaign_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The modal's answers as create_campaign's arguments; a UserError names the field at fault."""
    days = "".join(sorted(_value(values, "send_days") or []))
    if not days:
        raise UserError("Pick at least one day to send on.", field="send_days")
    at = _value(values, "specific_time")
    preference = SendPreference(_value(values, "preference"))
    if at and preference != SendPreference.SPECIFIC:
        raise UserError("A specific time is used only with 'At a specific time': pick that, or clear the time.",
                        field="specific_time")
    return dict(name=(_value(values, "name") or "").strip(), preference=preference,
                specific_time=time.fromisoformat(at) if at else None, timezone=(_value(values, "timezone") or "").strip(),
                send_days=days, email_preference=AddressKind(_value(values, "email_preference")),
                strict_preference=bool(_value(values, "strict")), alert_channel_id=_value(values, "alert_channel"),
                same_thread=bool(_value(values, "same_thread")), track_opens=bool(_value(values, "track_opens")))


def _fields(text: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key = key.strip().lower().replace(" ", "_")
        if not colon or not key.isidentifier():
            raise UserError(f"Line {number}: write `name: value`, such as `company: Acme`.", field="fields")
        found[key] = value.strip()
    return found


def _open_campaigns(session: Session, user: User) -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in open_campaigns(session, user)]


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


# ---- create ----------------------------------------------------------------------------------
def open_new_campaign(call: CommandCall) -> None:
    """`/outreach campaign new`: the campaign modal (the asker's Slack time zone read again)."""
    with acting(call.context, write=True, refresh=True) as (session, user):  # their Slack time zone now
        sequences = [(s.id, s.name) for s in sequences_of(session, user=user)]
        mailboxes = [(m.id, m.address if m.owner_id == user.id else f"{m.address} ({m.owner.name}'s, delegated)")
                     for m in sending_mailboxes(session, user)]
        tz, tracking = user.tz, tracking_settings.allowed(session, user.organisation_id)
    if not sequences:
        raise UserError("Create a sequence first: `/outreach sequence new`.")
    if not mailboxes:
        raise UserError("Connect the mailbox to send from first: `/outreach connect`.")
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], campaign_modal(CampaignChoices(
        sequences=sequences, mailboxes=mailboxes, timezone=tz, tracking_allowed=tracking)))


def save_new_campaign(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The campaign modal's submission: the campaign is created as a draft and its message posted."""
    runtime, values, slack = runtime_of(context), view["state"]["values"], Slack(client)
    try:
        settings = _campaign_settings(values)
        channel = settings["alert_channel_id"]
        if channel and not slack.bot_is_in(channel):  # a private one it is not in: channel_not_found
            raise UserError("Invite @Outreach to that channel first (`/invite @Outreach`), or pick another.",
                            field="alert_channel")
        with acting(context, write=True) as (session, user):
            sequence = next((s for s in sequences_of(session, user=user)
                             if str(s.id) == _value(values, "sequence")), None)
            mailbox = next((m for m in sending_mailboxes(session, user)
                            if str(m.id) == _value(values, "mailbox")), None)
            if sequence is None:
                raise UserError("That sequence is gone: pick another.", field="sequence")
            if mailbox is None:
                raise UserError("You can no longer send from that mailbox: pick another.", field="mailbox")
            campaign = create_campaign(session, owner=user, sequence=sequence, mailbox=mailbox,
                                       clock=runtime.clock, **settings)
            campaign_id = campaign.id
    except UserError as error:
        ack(response_action="errors", errors={error.field or "name": error.message})
        return
    ack()
    campaign_message(runtime, slack, campaign_id)


# ---- candidates ------------------------------------------------------------------------------
def open_candidates_modal(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Add candidates on the campaign message: upload a CSV or paste rows."""
    ack()
    with acting(context) as (session, user):
        campaign = access.campaign(session, user=user, campaign_id=Id.load(action_value(body)).id,
                                   need=Need.CHANGE).campaign
        view = candidates_modal(campaign.id, campaign.name)
    Slack(client).open_modal(body["trigger_id"], view)


def _stage(slack: Slack, context: BoltContext, parsed: Any, source: str, campaign_id: int | None,
           progress: ProgressMessage | None = None) -> None:
    """Keep what was read until the person confirms, and show them every problem by line (on the
    message that showed the reading's progress, if any)."""
    runtime = runtime_of(context)
    with acting(context, write=True) as (session, user):
        campaign = access.campaign(session, user=user, campaign_id=campaign_id,
                                   need=Need.CHANGE).campaign if campaign_id else None
        upload = candidate_uploads.stage_upload(session, campaign=campaign, user=user, parsed=parsed,
                                                source=source, clock=runtime.clock)
        targets = [(campaign.id, campaign.name)] if campaign else _open_campaigns(session, user)
        summary = UploadSummary(upload_id=upload.id, source=source, good=len(parsed.rows),
                                problems=[(p.line, p.message) for p in parsed.problems],
                                merged=list(parsed.merged), encoding=parsed.encoding,
                                engagement=engagement.staged_blocks(session, user=user, campaign=campaign,
                                                                    rows=upload.rows, upload_id=upload.id,
                                                                    context=context))
        slack_user = user.slack_user_id
    text, blocks = f"{source}: {counted(summary.good, 'candidate')} ready", upload_blocks(summary, targets)
    if progress is not None:
        progress.update(text, blocks)
    else:
        slack.send_dm(slack_user, text, blocks)


def read_candidates(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The candidates modal's submission: the file or the pasted rows read, and staged."""
    values, slack = view["state"]["values"], Slack(client)
    files = values.get("file", {}).get(F, {}).get("files") or []
    pasted = (_value(values, "paste") or "").strip()
    try:
        source, field, content = file_or_paste(client, files, pasted, what="rows")
        parsed = (candidate_rows.read_csv(content, source=source) if isinstance(content, bytes)
                  else candidate_rows.read_pasted(content))
        if not parsed.rows:
            problems = "; ".join(f"line {p.line}: {p.message}" for p in parsed.problems[:5])
            raise UserError(f"No candidate could be read. {problems}"[:1900], field=field)
    except UserError as error:
        ack(response_action="errors", errors={error.field or "file": error.message})
        return
    ack()
    _stage(slack, context, parsed, source, Id.load(view["private_metadata"]).id)


def read_shared_file(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A CSV shared in the bot's DM: read it and ask which campaign it is for."""
    if not str(event.get("channel_id", "")).startswith("D") or event.get("user_id") != context.user_id:
        return  # files in channels are not for us; only the person's own DM with the bot
    slack, clock = Slack(client), runtime_of(context).clock
    progress = None
    try:
        shared = file_info(client, event["file_id"])
        if not shared.name.lower().endswith((".csv", ".txt", ".tsv")):
            return  # not a candidate list: say nothing about other files, and do not fetch them
        progress = shown = ProgressMessage(slack, event["channel_id"], what=f"reading {shared.name}")
        progress.update(reading_text(shared.name))  # before the download: a large file takes a while

        def read(rows: int) -> None:
            shown.show(clock.now(), reading_text(shared.name, rows))

        parsed = candidate_rows.read_csv(download(client, shared), source=shared.name, progress=read)
        _stage(slack, context, parsed, shared.name, None, progress)
    except UserError as error:
        if progress is not None:
            progress.update(f":warning: {error.message}")
        else:
            slack.send_dm(event["user_id"], f":warning: {error.message}")


def add_confirmed_upload(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Add them, on an upload staged for one campaign (and Resume on its progress message)."""
    ack()
    add_upload(body, context, respond, campaign_message)


def add_upload_to_chosen(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The campaign picked for an upload shared in the DM."""
    ack()
    add_upload(body, context, respond, campaign_message)


def discard_staged_upload(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    with acting(context, write=True) as (session, user):
        candidate_uploads.discard_upload(session, upload_id=Id.load(action_value(body)).id, user=user)
    respond(replace_original=True, text="Discarded: no candidate was added.")


# ---- start, pause, resume --------------------------------------------------------------------
CampaignAct = Callable[[Session, Campaign, User, Runtime], Any]


def _campaign_button(body: dict[str, Any], context: BoltContext, respond: Respond, need: Need,
                     act: CampaignAct) -> None:
    """A button on the campaign message: the campaign re-checked for the clicker, changed, redrawn."""
    runtime = runtime_of(context)
    try:
        with acting(context, write=True) as (session, user):
            campaign = access.campaign(session, user=user, campaign_id=Id.load(action_value(body)).id,
                                       need=need).campaign
            planned = act(session, campaign, user, runtime)  # Start and Resume: the steps they planned
            campaign_id = campaign.id
    except UserError as error:
        _tell(respond, f":warning: {error.message}")
        return
    refresh_after_bulk_write(runtime.sessions, rows=planned if isinstance(planned, int) else 0)
    campaign_message(runtime, Slack(context.client), campaign_id)


def _after_the_list(body: dict[str, Any], context: BoltContext, respond: Respond, where: str,
                    act: CampaignAct) -> None:
    """Start or Resume: the do-not-contact list stops whom it covers first; the clicker is told how many."""
    told: list[str] = []
    _campaign_button(body, context, respond, Need.CHANGE, do_not_contact.listed_first(act, told, where=where))
    for text in told:
        _tell(respond, text)


def start_from_message(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _after_the_list(body, context, respond, "start", lambda session, campaign, user, runtime: start_campaign(
        session, campaign=campaign, clock=runtime.clock, rng=runtime.rng))
    engagement.tell_after_start(context, respond, Id.load(action_value(body)).id)  # who a teammate has


def pause_from_message(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _campaign_button(body, context, respond, Need.PAUSE, lambda session, campaign, user, runtime: pause_campaign(
        session, campaign=campaign, clock=runtime.clock, by=user))


def resume_from_message(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _after_the_list(body, context, respond, "resume", lambda session, campaign, user, runtime: resume_campaign(
        session, campaign=campaign, clock=runtime.clock, rng=runtime.rng))


def page_campaign_message(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The owner pages their campaign message; anyone else who may see it pages the copy `status` showed them."""
    ack()
    shown = MessagePage.load(action_value(body))
    campaign_id, page = shown.campaign, shown.page
    try:
        with acting(context) as (session, user):
            seen = access.campaign(session, user=user, campaign_id=campaign_id, need=Need.SEE)
            own_message = seen.is_owner and (body.get("container") or {}).get("message_ts") == seen.campaign.status_ts
            blocks = None if own_message else campaign_blocks(campaign_status(
                session, seen.campaign, page=page, viewer=seen)) + _results_section(
                session, seen.campaign, runtime_of(context).clock.now())
            name = seen.campaign.name
    except UserError as error:
        _tell(respond, f":warning: {error.message}")
        return
    if blocks is None:
        campaign_message(runtime_of(context), Slack(context.client), campaign_id, page)
    else:
        respond(replace_original=True, text=f"Campaign {name}", blocks=[b.to_dict() for b in blocks])


def open_resume_list(call: CommandCall) -> None:
    """`/outreach resume`: the paused campaigns, each with why, in a modal."""
    with acting(call.context) as (session, user):
        paused = [PausedCampaign(c.id, c.name, PAUSE_REASONS[c.pause_reason] if c.pause_reason else "paused",
                                 resume_blocker(c)) for c in paused_campaigns(session, user)]
    if not paused:
        call.ack(text="None of your campaigns is paused.")
        return
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], resume_modal(paused))


def resume_chosen(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The resume modal's submission: all checked before any resumes (one that cannot stops the rest);
    several resume one by one with progress in the DM (handlers/bulk_resume.py)."""
    runtime = runtime_of(context)
    chosen = [int(v) for v in _value(view["state"]["values"], "campaigns") or []]
    slack = Slack(client)
    try:
        with acting(context) as (session, user):
            campaigns = bulk_resume.chosen(session, user=user, campaign_ids=chosen)
            slack_user = user.slack_user_id
    except UserError as error:
        ack(response_action="errors", errors={"campaigns": error.message})
        return
    ack()
    progress = ProgressMessage(slack, slack.dm_channel(slack_user) if len(campaigns) > 1 else None, what="resume")
    run = resume_with_progress(context, progress, campaigns)  # one alone: its campaign message says it
    if run.failed and progress.channel is None:
        slack.send_dm(slack_user, run.summary())
    for campaign in run.resumed:
        campaign_message(runtime, slack, campaign.id)


# ---- one candidate ---------------------------------------------------------------------------
def act_on_candidate(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient,
                     respond: Respond) -> None:
    """A candidate's menu on the campaign message: pause, resume, edit (a modal), or remove (a modal to
    confirm; handlers/campaign_manage.py takes its submission)."""
    ack()
    runtime, slack = runtime_of(context), Slack(client)
    choice = CandidateChoice.load(action_value(body))
    view = None
    try:
        with acting(context, write=True) as (session, user):
            enrollment, _ = access.enrollment(session, user=user, enrollment_id=choice.enrollment, need=Need.CHANGE)
            campaign_id = enrollment.campaign_id
            if choice.action == "pause":
                pause_candidate(session, enrollment=enrollment, clock=runtime.clock)
            elif choice.action == "resume":
                resume_candidate(session, enrollment=enrollment, clock=runtime.clock, rng=runtime.rng)
            elif choice.action == "override":  # rules of engagement: the modal asks why
                view = engagement.enrollment_override_modal(session, user=user, enrollment=enrollment, context=context)
            elif choice.action == "remove":
                view = remove_candidate_modal(enrollment_id=enrollment.id, candidate=enrollment.candidate.name,
                                              campaign=enrollment.campaign.name,
                                              planned=campaign_lifecycle.planned_for(session, enrollment),
                                              draft=enrollment.campaign.status == CampaignStatus.DRAFT)
            else:
                candidate = enrollment.candidate
                current, bounced = current_and_bounced(session, enrollment, viewer_id=user.id)
                view = candidate_modal(
                    enrollment_id=enrollment.id, name=candidate.name,
                    addresses=[(a.address, a.kind.value)
                               for a in access.visible_addresses(candidate.addresses, user.id)],
                    send_to=enrollment.address_override,
                    fields={**candidate.fields, **enrollment.fields_override}, current=current, bounced=bounced)
    except UserError as error:
        _tell(respond, f":warning: {error.message}")
        return
    if view is not None:
        slack.open_modal(body["trigger_id"], view)
    else:
        campaign_message(runtime, slack, campaign_id)


def save_candidate(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The candidate modal's submission: where to send and their fields, in this campaign."""
    runtime, values = runtime_of(context), view["state"]["values"]
    try:
        with acting(context, write=True) as (session, user):
            enrollment_id = Id.load(view["private_metadata"]).id
            enrollment, _ = access.enrollment(session, user=user, enrollment_id=enrollment_id, need=Need.CHANGE)
            edit_candidate_in_campaign(
                session, user=user, enrollment=enrollment, send_to=_value(values, "send_to"),
                new_address=_value(values, "new_address"), new_kind=AddressKind(_value(values, "new_kind")),
                use_first=bool(_value(values, "use_first")), fields=_fields(_value(values, "fields")),
                clock=runtime.clock)
            campaign_id = enrollment.campaign_id
    except UserError as error:
        ack(response_action="errors", errors={error.field or "fields": error.message})
        return
    ack()
    campaign_message(runtime, Slack(client), campaign_id)


# ---- status and when -------------------------------------------------------------------------
def _results_section(session: Session, campaign: Campaign, now: datetime) -> list[Any]:
    """The Results section, as on the owner's message: numbers only, so anyone who may see it sees it."""
    numbers = results_of(session, campaign, now)
    return results_blocks(numbers) if numbers is not None else []


def show_status(call: CommandCall) -> None:
    """`/outreach status [campaign]`: the list of campaigns, or one campaign's status."""
    with acting(call.context) as (session, user):
        if not call.args.strip():  # the list: one page from two queries, so the ack is quick at any count
            page = campaign_page(session, user=user, offset=0)
            call.ack(text=campaign_list_text(page), blocks=campaign_list_blocks(page))
            return
        seen = access.find(session, user=user, name=call.args)
        campaign, mine = seen.campaign, seen.is_owner
        blocks, campaign_id = campaign_blocks(campaign_status(session, campaign, viewer=seen)), campaign.id
        blocks += _results_section(session, campaign, runtime_of(call.context).clock.now())
    call.ack(text=f"Campaign {campaign.name}", blocks=blocks)
    if mine:
        campaign_message(runtime_of(call.context), Slack(call.client), campaign_id)


def page_campaign_list(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Previous / Next under the list: the same ephemeral, redrawn through the response_url. The
    value is only an offset: the page is read again for whoever clicked, and clamped."""
    ack()
    shown = Offset.load(action_value(body))
    with acting(context) as (session, user):
        page = campaign_page(session, user=user, offset=shown.offset, show=shown.show)
    respond(replace_original=True, text=campaign_list_text(page), blocks=campaign_list_blocks(page))


def show_when(call: CommandCall) -> None:
    """`/outreach when <campaign>`: its next planned sends (a preview plan for a draft)."""
    runtime = runtime_of(call.context)
    with acting(call.context) as (session, user):
        campaign = access.find(session, user=user, name=call.args).campaign
        zone = ZoneInfo(campaign.timezone)
        now = runtime.clock.now()
        if campaign.status == CampaignStatus.DRAFT:
            blocks = when_blocks(name=campaign.name, status=campaign.status.value, zone=zone, sends=[], total=0,
                                 preview=preview_plan(session, campaign, now=now, rng=random.Random(campaign.id)),
                                 own_previews=[(own, preview_plan(session, campaign, now=now, rng=random.Random(campaign.id),
                                                                  candidate_zone=own))
                                               for own in candidate_zones(session, campaign)])
        else:
            sends, total = upcoming_sends(session, campaign, viewer_id=user.id)
            blocks = when_blocks(name=campaign.name, status=campaign.status.value, zone=zone, sends=sends,
                                 total=total, waits=send_waits(session, campaign, now=now, viewer_id=user.id))
    call.ack(text=f"When {campaign.name} sends", blocks=blocks)


def register(app: App, router: CommandRouter) -> None:
    router.add("campaign new", "create a campaign: sequence, mailbox, when to send, alert channel")(open_new_campaign)
    app.view(Callback.CAMPAIGN_NEW.value)(save_new_campaign)
    app.action(Action.CAMPAIGN_ADD_CANDIDATES.value)(open_candidates_modal)
    app.view(Callback.CANDIDATES_ADD.value)(read_candidates)
    app.event("file_shared")(read_shared_file)
    app.action(Action.UPLOAD_CONFIRM.value)(add_confirmed_upload)
    app.action(Action.UPLOAD_CHOOSE.value)(add_upload_to_chosen)
    app.action(Action.UPLOAD_DISCARD.value)(discard_staged_upload)
    app.action(Action.CAMPAIGN_START.value)(start_from_message)
    app.action(Action.CAMPAIGN_PAUSE.value)(pause_from_message)
    app.action(Action.CAMPAIGN_RESUME.value)(resume_from_message)
    app.action(re.compile(rf"^{re.escape(Action.CAMPAIGN_PAGE.value)}\."))(page_campaign_message)
    router.add("resume", "resume paused campaigns: pick them in a list that says why each is paused")(
        open_resume_list)
    app.view(Callback.RESUME.value)(resume_chosen)
    app.action(Action.CANDIDATE_MENU.value)(act_on_candidate)
    app.view(Callback.CANDIDATE_EDIT.value)(save_candidate)
    router.add("status", "a campaign's candidates, counts and next sends: `/outreach status [campaign]`")(
        show_status)
    app.action(re.compile(rf"^{re.escape(Action.CAMPAIGN_LIST_PAGE.value)}\."))(page_campaign_list)
    router.add("when", "the next planned sends of a campaign: `/outreach when <campaign>`")(show_when)
