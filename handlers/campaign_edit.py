"""Editing a campaign in Slack: `/outreach campaign edit <name or number>` and the Edit button on the
campaign message open the campaign modal filled with its settings; Save checks and applies them and
re-plans the unsent emails (bot.services.campaign_edit). `/outreach campaign` alone, or with a word
it does not know, lists the campaign sub-commands."""
from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.models.views import View
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Organisation
from bot.services import access
from bot.services.access import Access, Need
from bot.services.campaign_edit import (
    CampaignEdit,
    check_edit,
    check_editable,
    edit_campaign,
    may_change_sources,
    sources_note,
)
from bot.services.fresh_statistics import refresh_after_bulk_write
from bot.services.holidays import parse_dates, shown
from bot.services.mailboxes import sending_mailboxes
from bot.services.sequences import sequences_of
from bot.wording import counted
from handlers.campaign_message import campaign_message
from handlers.campaigns import _campaign_settings
from handlers.commands import CommandCall, CommandRouter, shown as shown_word
from handlers.context import acting, runtime_of
from handlers.ids import Action, Callback
from handlers.payloads import Id, action_value
from handlers.slack import Slack
from handlers.view_state import value_of
from handlers.views.campaigns import CampaignChoices, CampaignInitial, campaign_modal
from handlers.views.help import help_blocks, help_text

F = Action.CAMPAIGN_FIELD.value
USAGE = "Name the campaign to edit: `/outreach campaign edit <name or number>`."


def _edit_modal(session: Session, seen: Access) -> View:
    """The campaign modal, filled with the campaign's settings (read in the caller's transaction)."""
    check_editable(session, seen)
    campaign, user = seen.campaign, seen.user
    offered = may_change_sources(seen)
    organisation = session.get(Organisation, campaign.organisation_id)
    choices = CampaignChoices(
        sequences=[(s.id, s.name) for s in sequences_of(session, user=user)] if offered else [],
        mailboxes=[(m.id, m.address if m.owner_id == user.id else f"{m.address} ({m.owner.name}'s, delegated)")
                   for m in sending_mailboxes(session, user)] if offered else [],
        timezone=campaign.timezone, tracking_allowed=bool(organisation and organisation.open_tracking))
    return campaign_modal(choices, CampaignInitial(
        campaign_id=campaign.id, name=campaign.name, sequence_id=campaign.sequence_id, mailbox_id=campaign.mailbox_id,
        preference=campaign.send_preference.value,
        specific_time=f"{campaign.specific_time:%H:%M}" if campaign.specific_time else None,
        timezone=campaign.timezone, send_days=campaign.send_days, holidays=", ".join(sorted(campaign.holidays or [])),
        email_preference=campaign.email_preference.value, strict=campaign.strict_preference,
        alert_channel=campaign.alert_channel_id, same_thread=campaign.same_thread,
        started=campaign.started_at is not None, sources=None if offered else sources_note(seen),
        sources_shown=f"Sequence *{campaign.sequence.name}* · from {campaign.mailbox.address}",
        organisation_holidays=shown(organisation.holidays or []) if organisation and organisation.holidays else "",
        track_opens=campaign.track_opens))


def open_edit_command(call: CommandCall) -> None:
    """`/outreach campaign edit <name or number>`: the modal, for whoever may change the campaign."""
    if not call.args.strip():
        raise UserError(USAGE)
    with acting(call.context) as (session, user):
        view = _edit_modal(session, access.find(session, user=user, name=call.args, need=Need.CHANGE))
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], view)


def open_edit_button(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient,
                     respond: Respond) -> None:
    """Edit on the campaign message: the same modal; the campaign re-checked for the clicker."""
    ack()
    try:
        with acting(context) as (session, user):
            view = _edit_modal(session, access.campaign(session, user=user, campaign_id=Id.load(action_value(body)).id,
                                                        need=Need.CHANGE))
    except UserError as error:
        respond(text=f":warning: {error.message}", response_type="ephemeral", replace_original=False)
        return
    Slack(client).open_modal(body["trigger_id"], view)


def save_edit(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The edit modal's submission: checked (an error on its field), applied, re-planned, redrawn."""
    runtime, values, slack = runtime_of(context), view["state"]["values"], Slack(client)
    fields = {block.get("block_id") for block in view.get("blocks", [])}
    try:
        settings = _campaign_settings(values)
        holidays = parse_dates(value_of(values, "holidays", F))
        channel = settings["alert_channel_id"]
        if channel and not slack.bot_is_in(channel):  # as at creation: a private one it is not in is invisible
            raise UserError("Invite @Outreach to that channel first (`/invite @Outreach`), or pick another.",
                            field="alert_channel")
        sequence, mailbox = value_of(values, "sequence", F), value_of(values, "mailbox", F)
        edit = CampaignEdit(
            name=settings["name"], preference=settings["preference"], specific_time=settings["specific_time"],
            timezone=settings["timezone"], send_days=settings["send_days"], holidays=tuple(holidays),
            email_preference=settings["email_preference"], strict_preference=settings["strict_preference"],
            alert_channel_id=channel, same_thread=settings["same_thread"],
            sequence_id=int(sequence) if sequence and str(sequence).isdigit() else None,
            mailbox_id=int(mailbox) if mailbox and str(mailbox).isdigit() else None,
            track_opens=settings["track_opens"] if "track_opens" in values else None)  # None: not offered
        campaign_id = Id.load(view.get("private_metadata")).id
        with acting(context) as (session, user):  # checked before the ack, so errors go on their fields
            check_edit(session, access=access.campaign(session, user=user, campaign_id=campaign_id, need=Need.CHANGE),
                       edit=edit, now=runtime.clock.now())
    except UserError as error:
        ack(response_action="errors", errors={error.field if error.field in fields else "name": error.message})
        return
    ack()  # then the write: re-planning a large campaign takes longer than Slack waits for an answer
    try:
        with acting(context, write=True) as (session, user):
            seen = access.campaign(session, user=user, campaign_id=campaign_id, need=Need.CHANGE)
            outcome = edit_campaign(session, access=seen, edit=edit, now=runtime.clock.now(), rng=runtime.rng)
            name, actor = seen.campaign.name, user.slack_user_id
    except UserError as error:  # changed meanwhile (the name taken, the share removed): nothing was written
        slack.send_dm(context.user_id or "", f":warning: Your changes were not saved: {error.message}")
        return
    refresh_after_bulk_write(runtime.sessions, rows=outcome.moved)
    campaign_message(runtime, slack, campaign_id)
    if outcome.moved or outcome.readdressed:
        said = [f"{counted(outcome.moved, 'planned email')} moved to the new days and times"] if outcome.moved else []
        if outcome.readdressed:
            said.append(f"{counted(outcome.readdressed, 'first email')} sent to another address (or not at all, "
                        "where the strict setting leaves none)")
        slack.send_dm(actor, f":pencil2: *{name}* saved: {'; '.join(said)}. `/outreach when {name[:60]}` shows them.")


def list_campaign_commands(router: CommandRouter, call: CommandCall) -> None:
    """`/outreach campaign [word]`: the campaign sub-commands, naming the word it does not know."""
    listing = [(name, text) for name, text in router.listing if name.startswith("campaign ")]
    word = call.args.split()[0] if call.args.split() else None
    call.ack(text=help_text(listing), blocks=help_blocks(
        listing, unknown=f"campaign {shown_word(word)}" if word else None, title="Campaign commands"))


def register(app: App, router: CommandRouter) -> None:
    router.add("campaign edit", "change a campaign's name, when it sends, days, holidays, alerts: "
                                "`campaign edit <campaign>`")(open_edit_command)
    app.action(Action.CAMPAIGN_EDIT.value)(open_edit_button)
    app.view(Callback.CAMPAIGN_EDIT.value)(save_edit)
    router.add("campaign", "the campaign commands (`campaign new`, `campaign edit`, …)")(
        lambda call: list_campaign_commands(router, call))
