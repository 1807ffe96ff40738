"""`/outreach admin tracking`: whether the organisation allows open tracking, in a small modal for
workspace admins (Slack's flag read fresh for the command; the submission re-checked). The rule lives
in bot.services.tracking_settings; what tracking does, in bot.services.open_tracking."""
from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import CheckboxesElement, ContextBlock, InputBlock, MarkdownTextObject, Option, SectionBlock
from slack_sdk.models.views import View

from bot.errors import UserError
from bot.services import tracking_settings
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.ids import Action, Callback
from handlers.slack import Slack
from handlers.view_state import value_of

F = Action.OPEN_TRACKING_FIELD.value
ALLOW = "allow"
WHAT = ("With tracking allowed, a recruiter can turn it on for a campaign (a switch in the campaign's modal). Each "
        "email that campaign sends then carries an invisible 1×1 image served by this bot; every time the image is "
        "fetched, the bot records the time and the IP address of the fetch (nothing else), kept in the bot's "
        "database for a year and deleted with the campaign.")
LIMITS = ("Apple Mail (Mail Privacy Protection) and Gmail fetch images by themselves, often before anyone reads "
          "the email: those fetches are counted apart as machine opens, and opens by people are an estimate. "
          "Off, emails carry no image and are exactly as before.")


def tracking_modal(allowed: bool) -> View:
    allow = Option(value=ALLOW, label="Allow open tracking in campaigns")
    return View(type="modal", callback_id=Callback.OPEN_TRACKING.value, title="Open tracking", submit="Save",
                close="Cancel", blocks=[
                    SectionBlock(text=MarkdownTextObject(text=WHAT)),
                    InputBlock(block_id="allow", label="Open tracking", optional=True, element=CheckboxesElement(
                        action_id=F, options=[allow], initial_options=[allow] if allowed else None)),
                    ContextBlock(elements=[MarkdownTextObject(text=LIMITS)]),
                ])


def open_tracking_settings(call: CommandCall) -> None:
    """`/outreach admin tracking`: refused unless the asker is a workspace admin now (a refresh)."""
    with acting(call.context, refresh=True) as (session, user):  # admin now?
        allowed = tracking_settings.current(session, user=user)
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], tracking_modal(allowed))


def save_tracking_settings(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    allow = ALLOW in (value_of(view["state"]["values"], "allow", F) or [])
    try:
        with acting(context, write=True) as (session, user):  # still an admin (as of the modal's opening)
            tracking_settings.save(session, user=user, allow=allow, clock=runtime_of(context).clock)
            slack_user = user.slack_user_id
    except UserError as error:
        ack(response_action="errors", errors={"allow": error.message})
        return
    ack()
    Slack(client).send_dm(slack_user, (
        ":white_check_mark: Open tracking is allowed: recruiters can turn it on for a campaign in its modal."
        if allow else ":white_check_mark: Open tracking is not allowed: emails sent from now on carry no "
                      "tracking image, and fetches of images already sent are not recorded."))


def register(app: App, router: CommandRouter) -> None:
    router.add("admin tracking", "admins: allow or stop open tracking in campaigns: `admin tracking`")(
        open_tracking_settings)
    app.view(Callback.OPEN_TRACKING.value)(save_tracking_settings)
