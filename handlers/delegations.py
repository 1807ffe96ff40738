"""Delegation in Slack: `/outreach delegate @manager [campaign]`, the manager's Approve / Deny,
`/outreach delegations` with Revoke and the reply-alert switch."""
from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.db import transaction
from bot.errors import UserError
from bot.runtime import Runtime
from bot.services import access, delegations
from bot.services.directory import ensure_user
from bot.services.notifications import posted_notices
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, mentioned_person, runtime_of
from handlers.home import deliver_and_refresh
from handlers.ids import Action
from handlers.payloads import DelegationAnswer, Id, ReplyAlerts, action_value
from handlers.slack import Slack
from handlers.views.delegations import delegations_blocks, mailbox_choice_blocks

log = logging.getLogger(__name__)
# Slack sends a mention picked from the list as <@U123|name> (the manifest asks for escaping)
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>\s*(.*)$", re.S)
USAGE = ("Mention the hiring manager: `/outreach delegate @name` to send all your campaigns from their mailbox, "
         "or `/outreach delegate @name Campaign name` for one campaign that has not started yet.")
# What to say when the mention is not someone who can approve (handlers.slack.NotAPerson.why)


def parse_delegate(args: str) -> tuple[str, str]:
    """The manager's Slack id and the campaign name (may be empty)."""
    found = MENTION.match(args.strip())
    if found is None:
        if args.strip().startswith("@"):
            raise UserError("Pick the person from the list Slack shows as you type @, so their name turns into a "
                            "mention. " + USAGE)
        raise UserError(USAGE)
    return found.group(1), found.group(2).strip()


def expire_requests(runtime: Runtime, client: WebClient) -> int:
    """The serving process's sweep: requests unanswered for 7 days expire, the recruiter is told
    (through the outbox), and the manager's request DM loses its buttons. Returns how many expired."""
    with transaction(runtime.sessions, write=True) as session:
        expired = delegations.expire_unanswered(session, clock=runtime.clock)
        keys = [f"delegation_request:{d.id}" for d in expired]
        dms = posted_notices(session, dedupe_keys=keys)
    slack = Slack(client)
    for channel, ts, text in dms:
        said = f"{text}\n\n:hourglass: This request expired unanswered; the recruiter can ask again."
        try:
            slack.update(channel or "", ts or "", said, [SectionBlock(text=MarkdownTextObject(text=said[:3000]))])
        except SlackApiError as exc:  # the DM was deleted, say: the request has expired all the same
            log.warning("could not update an expired request's DM: %s", exc.response.get("error"))
    return len(expired)


def ask_delegation(call: CommandCall) -> None:
    """`/outreach delegate @manager [campaign]`."""
    manager_slack_id, campaign_name = parse_delegate(call.args)
    runtime, slack = runtime_of(call.context), Slack(call.client)
    profile = mentioned_person(slack, manager_slack_id, whom="your hiring manager")
    with acting(call.context, write=True) as (session, recruiter):
        manager = ensure_user(session, slack_team_id=call.context.team_id or "", profile=profile,
                              clock=runtime.clock)
        campaign = access.find(session, user=recruiter, name=campaign_name,
                               need=access.Need.CHANGE).campaign if campaign_name else None
        delegation = delegations.request(session, recruiter=recruiter, manager=manager, campaign=campaign,
                                         clock=runtime.clock)
        what = f"*{campaign.name}*" if campaign else "all your campaigns"
        text = (f":outbox_tray: Asked {manager.name} to let you send {what} from their mailbox. You will get "
                f"a DM with their answer; the request expires on {delegations.day(delegation.expires_at, recruiter)}.")
        recruiter_id = recruiter.id
    call.ack(text=text)
    deliver_and_refresh(runtime, slack, recruiter_id)  # the manager's DM goes out now


def list_delegations(call: CommandCall) -> None:
    """`/outreach delegations`."""
    with acting(call.context) as (session, user):
        listing = delegations.delegations_of(session, user)
        blocks = delegations_blocks(listing.granted, listing.received, user)
    call.ack(text="Delegations", blocks=blocks)


def _answer(body: dict[str, Any], context: BoltContext, respond: Respond, *, approve: bool, notify: bool) -> None:
    """The manager's answer to a request DM: approve (with or without reply alerts) or deny."""
    runtime, slack = runtime_of(context), Slack(context.client)
    answer = DelegationAnswer.load(action_value(body))
    delegation_id, mailbox_id = answer.delegation, answer.mailbox
    with acting(context, write=True) as (session, user):
        said = delegations.answer(session, user=user, delegation_id=delegation_id, approve=approve,
                                  clock=runtime.clock, mailbox_id=mailbox_id, notify_grantor=notify)
        user_id = user.id
    original = (body.get("message") or {}).get("text", "")
    if said.choices:
        respond(text=original, replace_original=True,  # the text stays the request, for the final answer
                blocks=[b.to_dict() for b in mailbox_choice_blocks(said.text, original, delegation_id,
                                                                    notify, said.choices)])
    elif said.final and body.get("message"):
        respond(text=f"{original}\n\n{said.text}", replace_original=True)  # the buttons go: answered
    else:
        respond(text=f":warning: {said.text}" if not said.final else said.text,
                response_type="ephemeral", replace_original=False)
    deliver_and_refresh(runtime, slack, user_id)  # the recruiter hears the answer now


def approve_delegation(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, approve=True, notify=False)


def approve_delegation_with_alerts(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, approve=True, notify=True)


def deny_delegation(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    _answer(body, context, respond, approve=False, notify=False)


def revoke_delegation(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Revoke on `/outreach delegations`: the grantee's campaigns from this mailbox pause."""
    ack()
    runtime, slack = runtime_of(context), Slack(context.client)
    with acting(context, write=True) as (session, user):
        delegation, paused = delegations.revoke(session, user=user, delegation_id=Id.load(action_value(body)).id,
                                                clock=runtime.clock)
        text = (f":lock: Revoked: {delegation.grantee.name} can no longer send from your mailbox"
                + (f"; {len(paused)} of their campaigns paused." if paused else "."))
        user_id = user.id
    respond(text=text, response_type="ephemeral", replace_original=False)
    deliver_and_refresh(runtime, slack, user_id)


def switch_reply_alerts(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """The reply-alert switch on `/outreach delegations`."""
    ack()
    alerts = ReplyAlerts.load(action_value(body))
    delegation_id, state = alerts.delegation, alerts.state
    with acting(context, write=True) as (session, user):
        delegation = delegations.set_reply_alerts(session, user=user, delegation_id=int(delegation_id),
                                                  on=state == "on")
        name = delegation.grantee.name
    respond(text=(f":bell: You will hear of replies to {name}'s campaigns from your mailbox." if state == "on"
                  else f":no_bell: Replies to {name}'s campaigns go to {name} only."),
            response_type="ephemeral", replace_original=False)


def register(app: App, router: CommandRouter) -> None:
    router.add("delegate", "ask a hiring manager to let you send from their mailbox: `delegate @name [campaign]`")(
        ask_delegation)
    router.add("delegations", "mailboxes you let others send from, and those you may send from")(list_delegations)
    app.action(Action.DELEGATION_APPROVE.value)(approve_delegation)
    app.action(Action.DELEGATION_APPROVE_NOTIFY.value)(approve_delegation_with_alerts)
    app.action(Action.DELEGATION_DENY.value)(deny_delegation)
    app.action(Action.DELEGATION_REVOKE.value)(revoke_delegation)
    app.action(Action.DELEGATION_REPLIES.value)(switch_reply_alerts)
