"""Sharing a campaign with teammates (`/outreach share`, `/outreach unshare`, Remove on the campaign
message) and the workspace admins' list (`/outreach admin campaigns`). Who may do what is decided in
bot/services/access.py; this module parses, calls it and answers."""
from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.errors import UserError
from bot.models import ShareLevel
from bot.services import access
from bot.services.campaign_list import admin_listing
from bot.services.directory import ensure_user
from bot.services.notifications import notify
from handlers.campaign_message import campaign_message
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, mentioned_person, runtime_of
from handlers.home import deliver_and_refresh
from handlers.ids import Action
from handlers.payloads import ShareTarget, action_value
from handlers.slack import Slack
from handlers.views.campaigns import admin_campaign_blocks
from bot.wording import counted

# `<campaign name> <@U123|name> [view|edit]`: the mention arrives escaped (the manifest's should_escape)
SHARE = re.compile(r"^(?P<name>.*?)\s*<@(?P<user>[UW][A-Z0-9]+)(?:\|[^>]*)?>\s*(?P<level>\w+)?\s*$", re.S)
SHARE_USAGE = ("Name the campaign and mention the teammate: `/outreach share Backend Q4 @omar view` "
               "(or `edit`: they may also start, pause and change candidates).")
UNSHARE_USAGE = "Name the campaign and mention the teammate: `/outreach unshare Backend Q4 @omar`."


def parse_share(args: str, *, usage: str, with_level: bool) -> tuple[str, str, ShareLevel]:
    """The campaign name, the teammate's Slack id and the level (view unless `edit` is given)."""
    found = SHARE.match(args.strip())
    if found is None or not found.group("name").strip():
        if "@" in args and "<@" not in args:
            raise UserError("Pick the teammate from the list Slack shows as you type @, so their name turns into a "
                            "mention. " + usage)
        raise UserError(usage)
    word = (found.group("level") or "view").lower()
    if not with_level and found.group("level"):
        raise UserError(usage)
    if word not in ("view", "edit"):
        raise UserError(f"Share to `view` or to `edit`, not `{word[:20]}`. " + usage)
    return found.group("name").strip(), found.group("user"), ShareLevel(word)


def share_campaign(call: CommandCall) -> None:
    """`/outreach share <campaign> @name [view|edit]`."""
    name, teammate_slack_id, level = parse_share(call.args, usage=SHARE_USAGE, with_level=True)
    runtime, slack = runtime_of(call.context), Slack(call.client)
    profile = mentioned_person(slack, teammate_slack_id, whom="a teammate")
    with acting(call.context, write=True) as (session, user):
        owned = access.find(session, user=user, name=name, need=access.Need.SHARE)
        teammate = ensure_user(session, slack_team_id=call.context.team_id or "", profile=profile,
                               clock=runtime.clock)
        changed = access.share(session, access=owned, teammate=teammate, level=level, clock=runtime.clock)
        campaign = owned.campaign
        if changed:
            can = "view it" if level == ShareLevel.VIEW else "view it, start, pause and change its candidates"
            notify(session, user=teammate, kind="campaign_shared", clock=runtime.clock,
                   dedupe_key=f"campaign_shared:{campaign.id}:{teammate.id}:{runtime.clock.now().timestamp()}",
                   text=(f":busts_in_silhouette: {user.name} shared the campaign *{campaign.name}* with you: you "
                         f"can {can}. It is on your Home tab; `/outreach status {campaign.name}` shows it."))
        text = (f":busts_in_silhouette: *{campaign.name}* is shared with {teammate.name} to {level.value}."
                if changed else f"*{campaign.name}* was already shared with {teammate.name} to {level.value}.")
        teammate_id, campaign_id = teammate.id, campaign.id
    call.ack(text=text)
    deliver_and_refresh(runtime, slack, teammate_id)  # their DM goes out now, and their Home lists it
    campaign_message(runtime, slack, campaign_id)  # its message lists whom it is shared with


def unshare_campaign(call: CommandCall) -> None:
    """`/outreach unshare <campaign> @name`."""
    name, teammate_slack_id, _ = parse_share(call.args, usage=UNSHARE_USAGE, with_level=False)
    runtime, slack = runtime_of(call.context), Slack(call.client)
    with acting(call.context, write=True) as (session, user):
        owned = access.find(session, user=user, name=name, need=access.Need.SHARE)
        shared = {line.slack_user_id: line for line in access.shares_of(session, owned.campaign)}
        line = shared.get(teammate_slack_id)
        teammate = access.unshare(session, access=owned, teammate_id=line.user_id, clock=runtime.clock) \
            if line else None
        text = (f"*{owned.campaign.name}* is no longer shared with {teammate.name}." if teammate
                else f"*{owned.campaign.name}* is not shared with <@{teammate_slack_id}>.")
        teammate_id, campaign_id = (teammate.id if teammate else None), owned.campaign.id
    call.ack(text=text)
    if teammate_id is not None:
        deliver_and_refresh(runtime, slack, teammate_id)  # their Home no longer lists it
        campaign_message(runtime, slack, campaign_id)


def revoke_share(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Remove on the campaign message's list of teammates."""
    ack()
    runtime, slack = runtime_of(context), Slack(context.client)
    target = ShareTarget.load(action_value(body))
    campaign_id, teammate_id = target.campaign, target.user
    try:
        with acting(context, write=True) as (session, user):
            owned = access.campaign(session, user=user, campaign_id=campaign_id, need=access.Need.SHARE)
            teammate = access.unshare(session, access=owned, teammate_id=teammate_id, clock=runtime.clock)
            said = (f"*{owned.campaign.name}* is no longer shared with {teammate.name}." if teammate
                    else f"*{owned.campaign.name}* was not shared with them any more.")
            teammate_id = teammate.id if teammate else None
    except UserError as error:
        said, teammate_id = f":warning: {error.message}", None
    respond(text=said, response_type="ephemeral", replace_original=False)
    if teammate_id is not None:
        deliver_and_refresh(runtime, slack, teammate_id)
        campaign_message(runtime, slack, campaign_id)


def list_workspace_campaigns(call: CommandCall) -> None:
    """`/outreach admin campaigns`: refused unless the asker is a workspace admin now (a refresh)."""
    with acting(call.context, write=True, refresh=True) as (session, user):
        lines, total = admin_listing(session, user=user)
    call.ack(text=f"{counted(total, 'campaign')} in this workspace", blocks=admin_campaign_blocks(lines, total))


def register(app: App, router: CommandRouter) -> None:
    router.add("share", "share a campaign with a teammate: `share <campaign> @name [view|edit]`")(share_campaign)
    router.add("unshare", "stop sharing a campaign with a teammate: `unshare <campaign> @name`")(unshare_campaign)
    app.action(Action.SHARE_REVOKE.value)(revoke_share)
    router.add("admin campaigns", "admins: every campaign of the workspace by name, owner and counts")(
        list_workspace_campaigns)
