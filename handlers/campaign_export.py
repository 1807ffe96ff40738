"""`/outreach export <campaign>`: a CSV of the campaign's candidates, statuses and dates, uploaded
with files_upload_v2 into the caller's DM with the bot (bot.services.campaign_export builds it, with
only the addresses the caller may see). Anyone who may see the campaign may export it."""
from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.services import access
from bot.services.campaign_export import export_campaign
from bot.wording import counted
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting
from handlers.slack import Slack

log = logging.getLogger(__name__)
USAGE = "Name the campaign, e.g. `/outreach export Backend Q4`."


def export(call: CommandCall) -> None:
    if not call.args.strip():
        call.ack(text=USAGE)
        return
    with acting(call.context) as (session, user):
        campaign = access.find(session, user=user, name=call.args, need=access.Need.SEE).campaign
        built = export_campaign(session, campaign, viewer_id=user.id)
        name, caller = campaign.name, user.slack_user_id
    slack = Slack(call.client)
    comment = f"{name}: {counted(built.rows, 'candidate')}, their statuses and dates (times in UTC)."
    try:
        slack.upload_file(built.content, built.filename, title=f"{name} candidates",
                          channel=slack.dm_channel(caller), initial_comment=comment)
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("export of campaign not uploaded: %s", error)
        call.ack(text="I may not upload files to Slack yet: ask your Slack admin to reinstall the app "
                      "(it needs the files:write permission)." if error == "missing_scope" else
                 f"The export of {name} could not be uploaded to Slack just now; try again in a minute.")
        return
    call.ack(text=f"The export of {name} is in your DM with me.")


def register(app: App, router: CommandRouter) -> None:
    router.add("export", "a CSV of a campaign's candidates, statuses and dates, in your DM: "
                         "`/outreach export <campaign>`")(export)
