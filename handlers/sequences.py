"""Sequences in Slack: make one in a modal that adds and removes steps in place, list them, edit, delete."""
from __future__ import annotations

import logging
import re
from typing import Any, Literal

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Sequence, User
from bot.services.sequences import (
    StepDraft,
    campaign_uses,
    create_sequence,
    delete_sequence,
    find_sequence,
    own_sequence,
    running_campaigns,
    sequences_of,
    update_sequence,
    update_wording,
)
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.errors import message_for
from handlers.payloads import Id, action_value
from handlers.ids import Action, Callback
from handlers.slack import Slack
from handlers.views.sequences import (
    MAX_STEPS,
    ModalMeta,
    SequenceForm,
    SequenceSummary,
    StepForm,
    block_id,
    read_form,
    removed_text,
    saved_text,
    sequence_list_blocks,
    sequence_modal,
)
from bot.wording import counted

log = logging.getLogger("outreach.sequences")
STEP_FIELD = re.compile(r"^(subject|body|delay)_(\d+)$")
STALE_VIEW = ("hash_conflict", "not_found")  # a newer version of the modal is showing, or it was closed


def drafts_of(form: SequenceForm) -> list[StepDraft]:
    """The typed steps as the service takes them; a delay that is not a whole number is refused here."""
    drafts = []
    for number, step in enumerate(form.steps, start=1):
        delay = step.delay.strip()
        if number > 1 and not re.fullmatch(r"-?\d+", delay):
            raise UserError(f"Step {number}: enter the delay as a whole number of days, 0 or more.",
                            field=f"delay_{number}")
        drafts.append(StepDraft(subject=step.subject.strip(), body=step.body,
                                delay_days=int(delay) if number > 1 else 0))
    return drafts


def form_of(sequence: Sequence) -> SequenceForm:
    steps = sorted(sequence.steps, key=lambda s: s.position)
    return SequenceForm(name=sequence.name, steps=tuple(
        StepForm(subject=s.subject, body=s.body, delay="" if s.position == 1 else str(s.delay_days)) for s in steps))


def field_block(field: str | None, meta: ModalMeta) -> str:
    """The modal block that shows a service error; one without a field of its own shows on the name."""
    match = STEP_FIELD.match(field or "")
    if match is not None and 1 <= int(match.group(2)) <= meta.steps and field != "delay_1":
        return block_id(match.group(0), meta.revision)
    return "name"


def summaries(session: Session, user: User) -> list[SequenceSummary]:
    sequences = sequences_of(session, user=user)
    uses = campaign_uses(session, sequence_ids=[s.id for s in sequences])
    return [SequenceSummary(id=s.id, name=s.name, steps=tuple((step.subject, step.delay_days) for step in s.steps),
                            used_by=tuple((use.name, use.status.value) for use in uses[s.id])) for s in sequences]


def edit_modal(session: Session, sequence: Sequence, channel_id: str | None) -> View:
    """The sequence's modal, filled in; only its wording while a running campaign uses it."""
    if len(sequence.steps) > MAX_STEPS:
        raise UserError(f"'{sequence.name}' has {counted(len(sequence.steps), 'step')}; the Slack editor holds at most "
                        f"{MAX_STEPS}. Make a shorter sequence with `/outreach sequence new`.")
    return sequence_modal(form_of(sequence), ModalMeta(sequence_id=sequence.id, channel_id=channel_id),
                          running=running_campaigns(session, sequence_id=sequence.id))


def confirm(slack: Slack, user_id: str, channel_id: str | None, text: str) -> None:
    """Shown only to the person: in the channel where they started, or in their DM if the bot is not there."""
    if channel_id:
        try:
            slack.tell(channel_id, user_id, text)
            return
        except SlackApiError as exc:
            log.info("confirmation falls back to a DM: %s", exc.response.get("error"))
    slack.send_dm(user_id, text)


def redraw(client: WebClient, body: dict[str, Any], change: Literal["add", "remove"]) -> None:
    """Add or remove a step, keeping everything typed so far. The view's hash makes Slack refuse the
    update if the modal changed meanwhile (a double click), so a stale form never overwrites a newer one."""
    view = body["view"]
    meta = ModalMeta.load(view.get("private_metadata"))
    form = read_form(view["state"]["values"], meta)
    if change == "add":
        form = form.with_step_added()
    else:
        form = form.with_step_removed(Id.load(action_value(body)).id)
        meta = meta.model_copy(update={"revision": meta.revision + 1})
    try:
        Slack(client).update_modal(view["id"], sequence_modal(form, meta), hash=view["hash"])
    except SlackApiError as exc:
        if exc.response.get("error") not in STALE_VIEW:
            raise
        log.info("sequence modal not updated: %s", exc.response.get("error"))


def open_new_sequence(call: CommandCall) -> None:
    """`/outreach sequence new`: an empty sequence modal."""
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"],
                                  sequence_modal(SequenceForm(), ModalMeta(channel_id=call.channel_id or None)))


def open_sequence_edit(call: CommandCall) -> None:
    """`/outreach sequence edit <name or number>`: the sequence's modal, filled in."""
    slack = Slack(call.client)
    try:
        with acting(call.context) as (session, user):
            view = edit_modal(session, find_sequence(session, user=user, name_or_id=call.args),
                              call.channel_id or None)
    except UserError as error:  # answered in the ack: the command itself did not fail
        call.ack(text=message_for(error))
        return
    call.ack()
    slack.open_modal(call.body["trigger_id"], view)


def list_sequences(call: CommandCall) -> None:
    """`/outreach sequences`."""
    with acting(call.context) as (session, user):
        blocks = sequence_list_blocks(summaries(session, user))
    call.ack(text="Your sequences", blocks=blocks)


def add_step(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    ack()
    redraw(client, body, "add")


def remove_step(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    ack()
    redraw(client, body, "remove")


def save_sequence(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The sequence modal's submission: a new sequence, or the edited one saved."""
    meta = ModalMeta.load(view.get("private_metadata"))
    form = read_form(view["state"]["values"], meta)
    runtime, slack = runtime_of(context), Slack(client)
    try:
        drafts = [] if meta.locked else drafts_of(form)  # a locked form has no delays: they stay as they are
        with acting(context, write=True) as (session, user):
            if meta.sequence_id is None:
                sequence, running = create_sequence(session, owner=user, name=form.name, steps=drafts,
                                                    clock=runtime.clock), ()
            elif meta.locked:
                saved = update_wording(session, user=user, sequence_id=meta.sequence_id, name=form.name,
                                       wording=[(s.subject.strip(), s.body) for s in form.steps],
                                       clock=runtime.clock)
                sequence, running = saved.sequence, saved.running
            else:
                saved = update_sequence(session, user=user, sequence_id=meta.sequence_id, name=form.name,
                                        steps=drafts, clock=runtime.clock)
                sequence, running = saved.sequence, saved.running
            text = saved_text(sequence.name, [(s.subject, s.delay_days) for s in sequence.steps],
                              created=meta.sequence_id is None, running=running)
            slack_user_id = user.slack_user_id
    except UserError as error:
        ack(response_action="errors", errors={field_block(error.field, meta): error.message})
        return
    ack()
    confirm(slack, slack_user_id, meta.channel_id, text)


def open_edit_from_list(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Edit on `/outreach sequences`."""
    ack()
    with acting(context) as (session, user):
        sequence = own_sequence(session, user=user, sequence_id=Id.load(action_value(body)).id)
        view = edit_modal(session, sequence, (body.get("channel") or {}).get("id"))
    Slack(client).open_modal(body["trigger_id"], view)


def delete_from_list(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Delete on `/outreach sequences` (archived instead when a campaign used it)."""
    ack()
    with acting(context, write=True) as (session, user):  # a refusal (UserError) writes nothing
        removed = delete_sequence(session, user=user, sequence_id=Id.load(action_value(body)).id,
                                  clock=runtime_of(context).clock)
        notice = removed_text(removed.name, archived=removed.archived)
        blocks = sequence_list_blocks(summaries(session, user), notice=notice)
    respond(text=notice, blocks=blocks, replace_original=True)  # the list, redrawn without it


def register(app: App, router: CommandRouter) -> None:
    router.add("sequence new", "make a sequence of email steps (subjects, bodies, days between them)")(
        open_new_sequence)
    router.add("sequence edit", "edit one of your sequences: `/outreach sequence edit <name or number>`")(
        open_sequence_edit)
    router.add("sequences", "your sequences: their steps and the campaigns using them; edit or delete")(
        list_sequences)
    app.action(Action.SEQUENCE_ADD_STEP.value)(add_step)
    app.action(Action.SEQUENCE_REMOVE_STEP.value)(remove_step)
    app.view(Callback.SEQUENCE_EDIT.value)(save_sequence)
    app.action(Action.SEQUENCE_OPEN_EDIT.value)(open_edit_from_list)
    app.action(Action.SEQUENCE_DELETE.value)(delete_from_list)
