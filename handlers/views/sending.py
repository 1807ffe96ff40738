"""Views for emails sent now: the preview form, the two steps of "send one email" (choose, then
check and edit), and the messages that say what went out."""
from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    EmailInputElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.errors import UserError

from bot.services.direct_send import (
    PREVIEW_PREFIX,
    SAMPLE_NAME,
    DirectSent,
    Draft,
    Field,
    PreviewForm,
    SendForm,
    SenderChoice,
    sample_field,
)
from handlers.payloads import STALE, Id, SendStage, TemplateStep
from handlers.ids import Action, Callback
from bot.wording import counted

OPTION_TEXT_LIMIT = 75  # Slack's limit for an option's (and an option group's) label
SELECT_LIMIT = 100  # options, or option groups, in one select
MAX_SAMPLES = 90  # inputs for sample values, within a view's 100 blocks
SUBJECT_LIMIT = 998  # RFC 5322 line limit
BODY_LIMIT = 3000  # the most a Slack text input holds


def _escape(text: str) -> str:
    """Text a person typed, shown in mrkdwn: Slack reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int = OPTION_TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _sender_options(senders: Sequence[SenderChoice]) -> list[Option]:
    return [Option(value=str(s.id), label=_short(f"{s.address} · {s.left_today} of {s.daily_cap} left today"))
            for s in senders[:SELECT_LIMIT]]


def _sender_input(senders: Sequence[SenderChoice], hint: str) -> InputBlock:
    options = _sender_options(senders)
    return InputBlock(block_id=Field.MAILBOX.value, label="Send from", hint=hint, element=StaticSelectElement(
        action_id=Action.SEND_FIELD.value, options=options, initial_option=options[0]))


def _steps(count: int) -> str:
    return "the only step" if count == 1 else f"all {count} steps"


def preview_modal(form: PreviewForm) -> View:
    follow_ups = " Follow-ups arrive in the same thread as step 1." if form.steps > 1 else ""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
        text=f"Sends {_steps(form.steps)} of *{_escape(form.sequence_name)}* to *{form.to_address}* now, written for a "
             f"candidate called {SAMPLE_NAME}, so you see what candidates will get and that your mailbox sends. "
             f"Each subject starts with `{PREVIEW_PREFIX.strip()}`.{follow_ups}")),
        _sender_input(form.senders, hint=f"Counts {counted(form.steps, 'email')} toward this mailbox's daily cap.")]
    samples = list(form.samples.items())[:MAX_SAMPLES]
    if samples:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="*Sample values* for the template fields (change them to see the email as a candidate would):")))
    for variable, value in samples:
        blocks.append(InputBlock(block_id=sample_field(variable), label=_short(variable, 2000),
                                 element=PlainTextInputElement(action_id=Action.SEND_FIELD.value, initial_value=value,
                                                               max_length=BODY_LIMIT)))
    return View(type="modal", callback_id=Callback.PREVIEW.value, title="Send preview", submit="Send preview",
                close="Cancel", private_metadata=Id(id=form.sequence_id).dump(), blocks=blocks)


def _template_select(form: SendForm, initial: str | None) -> StaticSelectElement:
    groups, chosen = [], None
    for sequence in form.sequences[:SELECT_LIMIT]:
        options = [Option(value=TemplateStep(sequence=sequence.id, position=step.position).dump(), label=_short(f"Step {step.position}: {step.subject}"))
                   for step in sequence.steps[:SELECT_LIMIT]]
        groups.append(OptionGroup(label=_short(sequence.name), options=options))
        chosen = chosen or next((o for o in options if o.value == initial), None)
    return StaticSelectElement(action_id=Action.SEND_FIELD.value, placeholder="Choose a step of a sequence",
                               option_groups=groups, initial_option=chosen)


def choose_modal(form: SendForm, *, initial_template: str | None = None) -> View:
    """Step 1 of 2: which template and to whom. Step 2 shows the email to check, edit and send."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(
            text="Send one email now, written from a step of one of your sequences. Next, you see it filled in "
                 "for this candidate and can edit it before it goes.")),
        InputBlock(block_id=Field.TEMPLATE.value, label="Template", element=_template_select(form, initial_template)),
        InputBlock(block_id=Field.TO.value, label="Candidate's email address", element=EmailInputElement(
            action_id=Action.SEND_FIELD.value, placeholder="name@example.com")),
        InputBlock(block_id=Field.NAME.value, label="Candidate's name", optional=True,
                   hint="Leave empty to use the name saved for this address.",
                   element=PlainTextInputElement(action_id=Action.SEND_FIELD.value, max_length=200)),
        InputBlock(block_id=Field.FIELDS.value, label="Template fields", optional=True,
                   hint="One per line, like company=Acme. Fields saved for this candidate are used too; "
                        "these win.",
                   element=PlainTextInputElement(action_id=Action.SEND_FIELD.value, multiline=True,
                                                 max_length=BODY_LIMIT)),
    ]
    return View(type="modal", callback_id=Callback.SEND_ONE.value, title="Email a candidate", submit="Next",
                close="Cancel", private_metadata=SendStage(stage="choose").dump(), blocks=blocks)


def draft_metadata(draft: Draft) -> str:
    return SendStage(stage="send", sequence_id=draft.sequence_id, sequence_name=draft.sequence_name,
                     position=draft.position, to=draft.to_address, name=draft.name).dump()


def draft_from_metadata(metadata: SendStage, subject: str, body: str) -> Draft:
    if metadata.sequence_id is None or metadata.position is None or metadata.to is None:
        raise UserError(STALE)
    return Draft(metadata.sequence_id, metadata.sequence_name or "", metadata.position, metadata.to,
                 metadata.name or "", subject, body)


def edit_modal(draft: Draft, senders: Sequence[SenderChoice]) -> View:
    """Step 2 of 2, laid out like an email being written: From, To, Subject, the text. Sent exactly as shown."""
    return View(type="modal", callback_id=Callback.SEND_ONE.value, title="Check and send", submit="Send",
                close="Back", private_metadata=draft_metadata(draft), blocks=[
                    SectionBlock(text=MarkdownTextObject(
                        text=f"*To:* {_escape(draft.name)} ({draft.to_address})\n"
                             f"*Written from:* step {draft.position} of *{_escape(draft.sequence_name)}*")),
                    _sender_input(senders, hint="Counts one email toward this mailbox's daily cap. Replies come "
                                                "to this mailbox."),
                    InputBlock(block_id=Field.SUBJECT.value, label="Subject", element=PlainTextInputElement(
                        action_id=Action.SEND_FIELD.value, initial_value=draft.subject, max_length=SUBJECT_LIMIT)),
                    InputBlock(block_id=Field.BODY.value, label="Email", element=PlainTextInputElement(
                        action_id=Action.SEND_FIELD.value, initial_value=draft.body, multiline=True,
                        max_length=BODY_LIMIT)),
                    ContextBlock(elements=[MarkdownTextObject(
                        text="It goes out exactly as shown when you press Send.")]),
                ])


def preview_sent_text(sent: DirectSent) -> str:
    count = len(sent.message_ids)
    steps = "the only step" if count == 1 else f"the {count} steps"
    return (f":envelope: Sent {steps} of '{sent.sequence_name}' to {sent.to_address}, from mailbox "
            f"{sent.from_address}. Look for them in your inbox, and in the Sent folder of {sent.from_address}.")


def email_sent_text(sent: DirectSent, name: str) -> str:
    return (f":envelope: Sent “{sent.subjects[0]}” to {name} ({sent.to_address}) from {sent.from_address}. "
            "Replies come to that mailbox.")


def problem_text(message: str) -> str:
    return f":warning: {message}"
