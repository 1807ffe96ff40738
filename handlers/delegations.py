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
from sqlalchemy import select

from bot.db import transaction
from bot.errors import UserError
from bot.models import Notification
from bot.runtime import Runtime
from bot.services import access, delegations
from bot.services.directory import ensure_user
from handlers.commands import CommandCall, CommandRouter
from handlers.context import current_user, mentioned_person
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
        dms = [(n.channel, n.ts, n.text) for n in session.scalars(
            select(Notification).where(Notification.dedupe_key.in_(keys), Notification.ts.is_not(None)))]
    slack = Slack(client)
    for channel, ts, text in dms:
        said = f"{text}\n\n:hourglass: This request expired unanswered; the recruiter can ask again."
        try:
            slack.update(channel or "", ts or "", said, [SectionBlock(text=MarkdownTextObject(text=said[:3000]))])
        except SlackApiError as exc:  # the DM was deleted, say: the request has expired all the same
            log.warning("could not update an expired request's DM: %s", exc.response.get("error"))
    return len(expired)


def register(app: App, runtime: Runtime, router: CommandRouter) -> None:
    @router.add("delegate", "ask a hiring manager to let you send from their mailbox: `delegate @name [campaign]`")
    def _delegate(call: CommandCall) -> None:
        manager_slack_id, campaign_name = parse_delegate(call.args)
        slack = Slack(call.client)
        profile = mentioned_person(slack, manager_slack_id, whom="your hiring manager")
        with transaction(runtime.sessions, write=True) as session:
            recruiter = current_user(session, runtime, call.context, slack)
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

    @router.add("delegations", "mailboxes you let others send from, and those you may send from")
    def _delegations(call: CommandCall) -> None:
        with transaction(runtime.sessions) as session:
            user = current_user(session, runtime, call.context, Slack(call.client))
            listing = delegations.delegations_of(session, user)
            blocks = delegations_blocks(listing.granted, listing.received, user)
        call.ack(text="Delegations", blocks=blocks)

    def on_answer(action: Action, approve: bool, notify: bool) -> None:
        @app.action(action.value)
        def _answer(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient,
                    respond: Respond) -> None:
            ack()
            slack = Slack(client)
            answer = DelegationAnswer.load(action_value(body))
            delegation_id, mailbox_id = answer.delegation, answer.mailbox
            with transaction(runtime.sessions, write=True) as session:
                user = current_user(session, runtime, context, slack)
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

    on_answer(Action.DELEGATION_APPROVE, approve=True, notify=False)
    on_answer(Action.DELEGATION_APPROVE_NOTIFY, approve=True, notify=True)
    on_answer(Action.DELEGATION_DENY, approve=False, notify=False)

    @app.action(Action.DELEGATION_REVOKE.value)
    def _revoke(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond) -> None:
        ack()
        slack = Slack(client)
        with transaction(runtime.sessions, write=True) as session:
            user = current_user(session, runtime, context, slack)
            delegation, paused = delegations.revoke(session, user=user, delegation_id=Id.load(action_value(body)).id,
                                                    clock=runtime.clock)
            text = (f":lock: Revoked: {delegation.grantee.name} can no longer send from your mailbox"
                    + (f"; {len(paused)} of their campaigns paused." if paused else "."))
            user_id = user.id
        respond(text=text, response_type="ephemeral", replace_original=False)
        deliver_and_refresh(runtime, slack, user_id)

    @app.action(Action.DELEGATION_REPLIES.value)
    def _replies(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond) -> None:
        ack()
        alerts = ReplyAlerts.load(action_value(body))
        delegation_id, state = alerts.delegation, alerts.state
        with transaction(runtime.sessions, write=True) as session:
            user = current_user(session, runtime, context, Slack(client))
            delegation = delegations.set_reply_alerts(session, user=user, delegation_id=int(delegation_id),
                                                      on=state == "on")
            name = delegation.grantee.name
        respond(text=(f":bell: You will hear of replies to {name}'s campaigns from your mailbox." if state == "on"
                      else f":no_bell: Replies to {name}'s campaigns go to {name} only."),
                response_type="ephemeral", replace_original=False)
