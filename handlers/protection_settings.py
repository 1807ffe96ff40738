"""`/outreach admin protection`: the organisation's protection settings, in a modal for workspace
admins (Slack's flag read fresh for the command, as `admin campaigns` does; the submission is
re-checked). The rules themselves live in bot.services.protection_settings."""
from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.errors import UserError
from bot.models import EngagementRule
from bot.services import protection_settings
from bot.services.protection_settings import DAYS, Protection
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.ids import Action, Callback
from handlers.slack import Slack
from handlers.view_state import text_of, value_of

F = Action.PROTECTION_FIELD.value
RULES = {EngagementRule.WARN: ("Warn", "The candidate goes in; the recruiter is told who has them and since when."),
         EngagementRule.BLOCK: ("Block", "The candidate is held back unless the recruiter overrides, with a reason "
                                         "their teammate is told.")}
OPT_OUT_REPLY = "opt_out_replies_to_dnc"
OPT_OUT_LINK = "opt_out_link"


def protection_modal(settings: Protection) -> View:
    rules = [Option(value=rule.value, label=label, description=description)
             for rule, (label, description) in RULES.items()]
    reply = Option(value=OPT_OUT_REPLY, label="An opt-out reply puts the address on the do-not-contact list by itself")
    link = Option(value=OPT_OUT_LINK, label="Emails carry an opt-out link")
    chosen = [o for o, on in ((reply, settings.opt_out_replies_to_dnc), (link, settings.opt_out_link)) if on]
    return View(type="modal", callback_id=Callback.PROTECTION.value, title="Protection", submit="Save", close="Cancel",
                blocks=[
                    SectionBlock(text=MarkdownTextObject(text=(
                        "*Rules of engagement.* When a candidate is in a teammate's running campaign, or a teammate "
                        "emailed them recently, an upload and Start say who and when."))),
                    InputBlock(block_id="rule", label="What happens then", element=RadioButtonsElement(
                        action_id=F, options=rules,
                        initial_option=next(o for o in rules if o.value == settings.engagement_rule.value))),
                    InputBlock(block_id="days", label="A teammate's email counts for (days)",
                               hint=f"{DAYS[0]} to {DAYS[1]} days.",
                               element=NumberInputElement(action_id=F, is_decimal_allowed=False,
                                                          initial_value=str(settings.engagement_days),
                                                          min_value=str(DAYS[0]), max_value=str(DAYS[1]))),
                    InputBlock(block_id="opt_out", label="Opt-outs", optional=True, element=CheckboxesElement(
                        action_id=F, options=[reply, link], initial_options=chosen or None)),
                    ContextBlock(elements=[MarkdownTextObject(text=(
                        "The opt-out link adds a last line to every email, with a link served by this bot, and the "
                        "List-Unsubscribe headers mail apps show as an Unsubscribe button: one click puts the "
                        "address on the do-not-contact list, and the recruiter is told. Off, nothing is added."))]),
                ])


def open_protection(call: CommandCall) -> None:
    """`/outreach admin protection`: refused unless the asker is a workspace admin now (a refresh)."""
    with acting(call.context, refresh=True) as (session, user):  # admin now?
        settings = protection_settings.current(session, user=user)
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], protection_modal(settings))


def save_protection(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    values = view["state"]["values"]
    checked = value_of(values, "opt_out", F) or []
    try:
        wanted = Protection(EngagementRule(text_of(values, "rule", F) or EngagementRule.WARN.value),
                            protection_settings.parse_days(text_of(values, "days", F)),
                            OPT_OUT_REPLY in checked, OPT_OUT_LINK in checked)
        with acting(context, write=True) as (session, user):  # still an admin (as of the modal's opening)
            protection_settings.save(session, user=user, wanted=wanted, clock=runtime_of(context).clock)
            slack_user = user.slack_user_id
    except (UserError, ValueError) as error:
        field = getattr(error, "field", None) or "rule"
        ack(response_action="errors", errors={field: getattr(error, "message", "Pick warn or block.")})
        return
    ack()
    Slack(client).send_dm(slack_user, saved_text(wanted))


def saved_text(settings: Protection) -> str:
    rule = "held back" if settings.engagement_rule == EngagementRule.BLOCK else "warned about"
    return (f":white_check_mark: Protection saved. Candidates a teammate has (running campaign, or emailed within "
            f"{settings.engagement_days} days) are {rule}; opt-out replies "
            f"{'go on the do-not-contact list by themselves' if settings.opt_out_replies_to_dnc else 'offer the button'}; "
            f"the opt-out link is {'on' if settings.opt_out_link else 'off'}.")


def register(app: App, router: CommandRouter) -> None:
    router.add("admin protection", "admins: rules of engagement (warn or block, days) and opt-outs: "
                                   "`admin protection`")(open_protection)
    app.view(Callback.PROTECTION.value)(save_protection)
