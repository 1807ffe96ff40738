"""Managing campaigns in Slack (issue 17 §1): `/outreach campaigns [status]`, a filtered and paged
list; archive a finished campaign and delete a draft (a sub-command or a button on its message);
remove a candidate (the candidate menu on the campaign message, confirmed in a modal, or
`/outreach campaign remove <campaign> <candidate>`).

Each request re-checks who acts (bot.services.access); the rules and the writes are in
bot.services.campaign_lifecycle. Slack is called after the commit: the campaign message is redrawn
(or deleted, for a deleted draft) once the change is in the database.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.errors import UserError
from bot.services import access, campaign_lifecycle
from bot.services.access import Need
from bot.services.campaign_list import campaign_page, read_show
from bot.wording import counted
from handlers.campaign_message import campaign_message
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.ids import Action, Callback
from handlers.payloads import Id, action_value
from handlers.slack import Slack
from handlers.views.campaign_manage import refused_modal
from handlers.views.campaigns import campaign_list_blocks, campaign_list_text

T = TypeVar("T")


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


# ---- the list --------------------------------------------------------------------------------------
def list_campaigns(call: CommandCall) -> None:
    """`/outreach campaigns [status]`: the person's campaigns and those shared with them, a page at a time."""
    show = read_show(call.args)
    with acting(call.context) as (session, user):
        page = campaign_page(session, user=user, offset=0, show=show)
    call.ack(text=campaign_list_text(page), blocks=campaign_list_blocks(page))


def filter_campaign_list(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The list's filter: the same ephemeral redrawn from its first page, read again for whoever picked."""
    ack()
    try:
        show = read_show(str(action_value(body) or ""))
    except UserError as error:  # a forged option
        _tell(respond, f":warning: {error.message}")
        return
    with acting(context) as (session, user):
        page = campaign_page(session, user=user, offset=0, show=show)
    respond(replace_original=True, text=campaign_list_text(page), blocks=campaign_list_blocks(page))


# ---- archive and delete ----------------------------------------------------------------------------
def archive_by_name(call: CommandCall) -> None:
    """`/outreach campaign archive <campaign>`."""
    runtime = runtime_of(call.context)
    with acting(call.context, write=True) as (session, user):
        seen = access.find(session, user=user, name=call.args)
        campaign_lifecycle.archive(session, access=seen, clock=runtime.clock)
        campaign_id, name = seen.campaign.id, seen.campaign.name
    call.ack(text=f":file_cabinet: Archived *{name}*: it is kept with its history, out of your lists. "
                  f"`/outreach campaigns archived` lists it.")
    campaign_message(runtime, Slack(call.client), campaign_id)


def _on_message(body: dict[str, Any], context: BoltContext, respond: Respond, act: Callable[..., T]) -> T | None:
    """A lifecycle button on the campaign message: the campaign re-read for the clicker (the service
    decides who may), `act(session, access=, clock=)` committed; a refusal told, None returned."""
    runtime = runtime_of(context)
    try:
        with acting(context, write=True) as (session, user):
            seen = access.campaign(session, user=user, campaign_id=Id.load(action_value(body)).id, need=Need.SEE)
            return act(session, access=seen, clock=runtime.clock)
    except UserError as error:
        _tell(respond, f":warning: {error.message}")
        return None


def archive_from_message(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    archived = _on_message(body, context, respond, campaign_lifecycle.archive)
    if archived is not None:
        campaign_message(runtime_of(context), Slack(context.client), archived)


def _deleted(slack: Slack, deleted: campaign_lifecycle.Deleted) -> str:
    """After the commit: its message goes from Slack too. What to tell the person."""
    if deleted.channel and deleted.ts:
        slack.delete(deleted.channel, deleted.ts)
    return (f":wastebasket: Deleted the draft *{deleted.name}* and its list of "
            f"{counted(deleted.candidates, 'candidate')}; the candidates stay in your organisation.")


def delete_by_name(call: CommandCall) -> None:
    """`/outreach campaign delete <campaign>`: a draft only."""
    runtime = runtime_of(call.context)
    with acting(call.context, write=True) as (session, user):
        seen = access.find(session, user=user, name=call.args)
        deleted = campaign_lifecycle.delete_draft(session, access=seen, clock=runtime.clock)
    call.ack(text=_deleted(Slack(call.client), deleted))


def delete_from_message(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """"Delete draft" on the draft's message (Slack asked to confirm first)."""
    ack()
    deleted = _on_message(body, context, respond, campaign_lifecycle.delete_draft)
    if deleted is not None:
        _tell(respond, _deleted(Slack(context.client), deleted))


# ---- remove a candidate ----------------------------------------------------------------------------
def remove_confirmed(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The confirm's submission: the candidate leaves the campaign; its message is redrawn."""
    runtime = runtime_of(context)
    try:
        with acting(context, write=True) as (session, user):
            enrollment, seen = access.enrollment(session, user=user, enrollment_id=Id.load(view["private_metadata"]).id,
                                                 need=Need.CHANGE)
            campaign_lifecycle.remove_candidate(session, access=seen, enrollment=enrollment, clock=runtime.clock)
            campaign_id = enrollment.campaign_id
    except UserError as error:
        ack(response_action="update", view=refused_modal(error.message))  # the confirm has no field to flag
        return
    ack()
    campaign_message(runtime, Slack(client), campaign_id)


def remove_by_name(call: CommandCall) -> None:
    """`/outreach campaign remove <campaign> <candidate>`: names with spaces are read by trying each
    split of the words, the longest campaign name first."""
    runtime = runtime_of(call.context)
    with acting(call.context, write=True) as (session, user):
        seen, enrollment = campaign_lifecycle.find_candidate(session, user=user, words=call.args.split())
        name, campaign, campaign_id = enrollment.candidate.name, seen.campaign.name, seen.campaign.id
        cancelled = campaign_lifecycle.remove_candidate(session, access=seen, enrollment=enrollment,
                                                        clock=runtime.clock)
    call.ack(text=f"Removed *{name}* from *{campaign}*: {counted(cancelled, 'planned send')} cancelled; "
                  "what was sent to them stays in its history.")
    campaign_message(runtime, Slack(call.client), campaign_id)


def register(app: App, router: CommandRouter) -> None:
    router.add("campaigns", "your campaigns and those shared with you, by status: "
                            "`/outreach campaigns [draft|scheduled|active|paused|finished|archived]`")(list_campaigns)
    app.action(Action.CAMPAIGN_LIST_FILTER.value)(filter_campaign_list)
    router.add("campaign archive", "archive a finished campaign (kept, out of the lists): "
                                   "`/outreach campaign archive <campaign>`")(archive_by_name)
    app.action(Action.CAMPAIGN_ARCHIVE.value)(archive_from_message)
    router.add("campaign delete", "delete a draft campaign (never started): "
                                  "`/outreach campaign delete <campaign>`")(delete_by_name)
    app.action(Action.CAMPAIGN_DELETE.value)(delete_from_message)
    router.add("campaign remove", "take a candidate out of a campaign, their history kept: "
                                  "`/outreach campaign remove <campaign> <candidate>`")(remove_by_name)
    app.view(Callback.CANDIDATE_REMOVE.value)(remove_confirmed)
