"""Rules of engagement in Slack (issue 18 §2): the conflicts under an upload's summary and after
Start, and the owner's override of one candidate (a select on the summary, an option of the
candidate's menu; one modal asks why). Who may override is re-checked on every click and submit:
a row only by its uploader, an enrollment only by its campaign's owner. The teammate's DM is a
notice, delivered after the commit."""
from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Campaign, CampaignStatus, Enrollment, User
from bot.services import access, engagement
from bot.services.access import Need
from handlers.context import acting, runtime_of
from handlers.ids import Action, Callback
from handlers.payloads import OverrideTarget, action_value
from handlers.slack import Slack
from handlers.view_state import text_of
from handlers.views.engagement import conflict_blocks, override_modal, refused_modal, start_text


def staged_blocks(session: Session, *, user: User, campaign: Campaign | None, rows: list[dict[str, Any]],
                  upload_id: int, context: BoltContext) -> list[Any]:
    """The staging summary's hook: the rows a teammate has, said with who and when (no query per row)."""
    now = runtime_of(context).clock.now()
    check = engagement.check_rows(session, user=user, campaign=campaign, rows=rows, now=now)
    return conflict_blocks(check, upload_id=upload_id, now=now)


def tell_after_start(context: BoltContext, respond: Respond, campaign_id: int) -> None:
    """Start's hook: once the campaign started, its owner hears which candidates a teammate has."""
    now = runtime_of(context).clock.now()
    try:
        with acting(context) as (session, user):
            campaign = access.campaign(session, user=user, campaign_id=campaign_id, need=Need.CHANGE).campaign
            if campaign.status == CampaignStatus.DRAFT:
                return  # Start was refused: it said why
            check = engagement.check_campaign(session, campaign=campaign, now=now)
            text = start_text(check, campaign.name, now) if check.conflicts else None
    except UserError:
        return  # Start itself answered the person who may not start it
    if text:
        respond(text=text, response_type="ephemeral", replace_original=False)


def enrollment_override_modal(session: Session, *, user: User, enrollment: Enrollment, context: BoltContext) -> Any:
    """The candidate menu's "Override the rules of engagement" (the caller checked Need.CHANGE)."""
    now = runtime_of(context).clock.now()
    try:
        conflict = engagement.enrollment_conflict(session, user=user, enrollment=enrollment, now=now)
    except UserError as error:
        return refused_modal(error.message)
    return override_modal(OverrideTarget(kind="enrollment", id=enrollment.id), description=conflict.describe(now))


def open_row_override(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A held-back row picked on an upload's summary: the modal asking why."""
    ack()
    target = OverrideTarget.load(action_value(body))
    now = runtime_of(context).clock.now()
    try:
        if target.kind != "row" or target.line is None:
            raise UserError("Pick a candidate from the list.")
        with acting(context) as (session, user):
            conflict, _ = engagement.row_conflict(session, user=user, upload_id=target.id, line=target.line, now=now)
            view = override_modal(target, description=conflict.describe(now))
    except UserError as error:
        view = refused_modal(error.message)
    Slack(client).open_modal(body["trigger_id"], view)


def save_override(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The override modal's submission: re-checked for who submits, kept, audited, the teammate told."""
    runtime = runtime_of(context)
    reason = text_of(view["state"]["values"], "reason", Action.PROTECTION_FIELD.value)
    campaign_id = None
    try:
        target = OverrideTarget.load(view.get("private_metadata"))
        with acting(context, write=True) as (session, user):
            if target.kind == "row" and target.line is not None:
                conflict = engagement.override_row(session, user=user, upload_id=target.id, line=target.line,
                                                   reason=reason, clock=runtime.clock)
            else:
                enrollment, _ = access.enrollment(session, user=user, enrollment_id=target.id, need=Need.CHANGE)
                conflict = engagement.override_enrollment(session, user=user, enrollment=enrollment, reason=reason,
                                                          clock=runtime.clock)
                campaign_id = enrollment.campaign_id
            slack_user = user.slack_user_id
    except UserError as error:
        ack(response_action="errors", errors={"reason": error.message})
        return
    ack()
    slack = Slack(client)
    slack.send_dm(slack_user, f":white_check_mark: Overridden: {conflict.name} goes ahead"
                              + (" when you add the rows" if campaign_id is None else "")
                              + ". Your teammate is told why.")
    if campaign_id is not None:
        from handlers.campaign_message import campaign_message  # the campaign's message shows them going on
        campaign_message(runtime, slack, campaign_id)


def register(app: App) -> None:
    app.action(Action.ENGAGEMENT_OVERRIDE.value)(open_row_override)
    app.view(Callback.ENGAGEMENT_OVERRIDE.value)(save_override)
