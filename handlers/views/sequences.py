"""Sequence views: the modal that builds a sequence step by step, the list of sequences, and the
confirmation after saving. Pure: what the person typed comes in as a SequenceForm, never a query."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handlers.ids import Action, Callback
from bot.wording import counted

MAX_STEPS = 10  # 5 blocks a step: well inside a view's 100 blocks
LISTED = 23  # two blocks a sequence, plus a notice and a footer, within a message's 50
NEW_STEP_DELAY = "3"
VARIABLES = ("Templates can use `{{ first_name }}`, `{{ last_name }}`, `{{ name }}`, and any column of the candidates' "
             "CSV as a snake_case field, such as `{{ company }}`.")
FOLLOW_UP_HINT = ("A follow-up in step 1's thread goes out as \"Re: <step 1's subject>\"; this subject is used when "
                  "a campaign sends follow-ups as new emails.")


@dataclass(frozen=True)
class StepForm:
    subject: str = ""
    body: str = ""
    delay: str = NEW_STEP_DELAY  # as typed: checked when the form is submitted, not before


@dataclass(frozen=True)
class SequenceForm:
    """The modal's contents, as typed so far."""

    name: str = ""
    steps: tuple[StepForm, ...] = (StepForm(),)

    def with_step_added(self) -> SequenceForm:
        if len(self.steps) >= MAX_STEPS:
            return self
        return replace(self, steps=(*self.steps, StepForm()))

    def with_step_removed(self, number: int) -> SequenceForm:
        if not 2 <= number <= len(self.steps):  # step 1 stays; a stale button does nothing
            return self
        return replace(self, steps=self.steps[:number - 1] + self.steps[number:])


class ModalMeta(BaseModel):
    """The modal's private_metadata."""

    sequence_id: int | None = None  # None: a new sequence
    channel_id: str | None = None  # where the command ran: the confirmation is shown there
    steps: int = 1
    # Slack keeps what was typed in an input whose block_id and action_id survive a views.update, over
    # its new initial_value. Removing a step moves later steps up a number, so their blocks get fresh
    # ids (a new revision): otherwise step 3's text would show the removed step 2's.
    revision: int = 0
    # A running campaign uses it: only the wording shows (no delays, no Add or Remove step), and the
    # save keeps the steps and delays as they are (services.sequences.update_wording).
    locked: bool = False

    def dump(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def load(cls, raw: str | None) -> ModalMeta:
        return cls.model_validate_json(raw) if raw else cls()


def block_id(field: str, revision: int) -> str:
    """The block holding a service field ("name", "subject_2", ...) in a modal of this revision."""
    return field if field == "name" or revision == 0 else f"{field}.r{revision}"


def _text_input(field: str, revision: int, label: str, value: str, *, multiline: bool = False,
                max_length: int | None = None, placeholder: str | None = None, hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=block_id(field, revision), label=label, hint=hint, element=PlainTextInputElement(
        action_id=Action.SEQUENCE_FIELD.value, initial_value=value or None, multiline=multiline,
        max_length=max_length, placeholder=placeholder))


def _step_blocks(number: int, step: StepForm, revision: int, *, locked: bool = False) -> list[Block]:
    if number == 1:
        header = SectionBlock(text=MarkdownTextObject(text="*Step 1* · sent first, when the campaign starts"))
    elif locked:
        header = SectionBlock(text=MarkdownTextObject(text=f"*Step {number}* · {_when(number, int(step.delay or 0))}"))
    else:
        header = SectionBlock(text=MarkdownTextObject(text=f"*Step {number}*"), accessory=ButtonElement(
            text=f"Remove step {number}", action_id=Action.SEQUENCE_REMOVE_STEP.value, value=str(number)))
    blocks: list[Block] = [DividerBlock(), header]
    if number > 1 and not locked:
        blocks.append(InputBlock(
            block_id=block_id(f"delay_{number}", revision), label=f"Days after step {number - 1}",
            hint="Whole days, 0 or more (0: the same day).",
            element=NumberInputElement(action_id=Action.SEQUENCE_FIELD.value, is_decimal_allowed=False,
                                       initial_value=step.delay or None)))
    blocks.append(_text_input(f"subject_{number}", revision, "Subject", step.subject, max_length=998,
                              placeholder="A role at {{ company }}" if number == 1 else "Following up",
                              hint=FOLLOW_UP_HINT if number > 1 else None))
    blocks.append(_text_input(f"body_{number}", revision, "Body", step.body, multiline=True,
                              placeholder="Hi {{ first_name }}, …"))
    return blocks


def locked_text(running: Sequence[str]) -> str:
    """Why a sequence under running campaigns offers only its wording."""
    named = [f"'{_short(n, 60)}'" for n in running[:3]] + (
        [counted(len(running) - 3, "other")] if len(running) > 3 else [])
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return (f":lock: Steps and delays are locked while {listed} {'is' if len(running) == 1 else 'are'} running: "
            "candidates are part-way through. Wording changes apply to emails not yet sent.")


def sequence_modal(form: SequenceForm, meta: ModalMeta, *, running: Sequence[str] = ()) -> View:
    """The sequence's form; `running` (the running campaigns using it) locks its steps and delays."""
    meta = meta.model_copy(update={"steps": len(form.steps), "locked": bool(running)})
    blocks: list[Block] = [
        _text_input("name", meta.revision, "Sequence name", form.name, max_length=200,
                    placeholder="Backend engineers"),
        ContextBlock(elements=[MarkdownTextObject(text=VARIABLES)]),
    ]
    if running:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=locked_text(running))]))
    for number, step in enumerate(form.steps, start=1):
        blocks += _step_blocks(number, step, meta.revision, locked=meta.locked)
    if not meta.locked and len(form.steps) < MAX_STEPS:  # no step is added under a running campaign
        blocks.append(ActionsBlock(elements=[ButtonElement(text="Add step", action_id=Action.SEQUENCE_ADD_STEP.value)]))
    elif not meta.locked:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"A sequence holds at most {MAX_STEPS} steps.")]))
    return View(type="modal", callback_id=Callback.SEQUENCE_EDIT.value,
                title="Edit sequence" if meta.sequence_id is not None else "New sequence",
                submit="Save", close="Cancel", private_metadata=meta.dump(), blocks=blocks)


def read_form(values: dict[str, Any], meta: ModalMeta) -> SequenceForm:
    """What the person typed, from a view's state.values (a submission, or a button pressed in it)."""
    def typed(field: str) -> str:
        entry = values.get(block_id(field, meta.revision), {}).get(Action.SEQUENCE_FIELD.value, {})
        return entry.get("value") or ""

    steps = tuple(StepForm(subject=typed(f"subject_{n}"), body=typed(f"body_{n}"),
                           delay="" if n == 1 else typed(f"delay_{n}"))
                  for n in range(1, meta.steps + 1))
    return SequenceForm(name=typed("name"), steps=steps or (StepForm(),))


def escape(text: str) -> str:
    """Names and subjects are the person's text: Slack's mrkdwn must not read them as links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int = 80) -> str:
    return escape(text if len(text) <= limit else text[:limit - 1] + "…")


@dataclass(frozen=True)
class SequenceSummary:
    id: int
    name: str
    steps: tuple[tuple[str, int], ...]  # (subject, delay in days) of each step
    used_by: tuple[tuple[str, str], ...] = ()  # (campaign name, status) of the campaigns using it


def _when(number: int, delay: int) -> str:
    if number == 1:
        return "first"
    return "same day" if delay == 0 else f"+{delay} day{'s' if delay != 1 else ''}"


def step_lines(steps: Sequence[tuple[str, int]]) -> str:
    return "\n".join(f"{n}. {_short(subject)} _({_when(n, delay)})_" for n, (subject, delay) in enumerate(steps, 1))


def _delete_confirm(summary: SequenceSummary) -> ConfirmObject:
    finished = summary.used_by and all(status == "finished" for _, status in summary.used_by)
    text = (f"Finished campaigns use '{summary.name}': it is hidden from your sequences and their history stays."
            if finished else f"'{summary.name}' and its {counted(len(summary.steps), 'step')} are deleted for good.")
    return ConfirmObject(title="Delete this sequence?", text=PlainTextObject(text=text[:300]), confirm="Delete",
                         deny="Keep it", style="danger")


def _sequence_blocks(summary: SequenceSummary) -> list[Block]:
    count = len(summary.steps)
    used = (", ".join(f"{_short(name, 60)} ({status})" for name, status in summary.used_by[:5])
            + (f" and {len(summary.used_by) - 5} more" if len(summary.used_by) > 5 else "")
            if summary.used_by else "no campaign yet")
    text = (f"*{_short(summary.name, 120)}* · {count} step{'s' if count != 1 else ''}\n"
            f"{step_lines(summary.steps)}\nUsed by: {used}")
    return [SectionBlock(text=MarkdownTextObject(text=text[:3000])), ActionsBlock(elements=[
        ButtonElement(text="Edit", action_id=Action.SEQUENCE_OPEN_EDIT.value, value=str(summary.id)),
        ButtonElement(text="Delete", action_id=Action.SEQUENCE_DELETE.value, value=str(summary.id), style="danger",
                      confirm=_delete_confirm(summary)),
    ])]


def sequence_list_blocks(sequences: Sequence[SequenceSummary], *, notice: str | None = None) -> list[Block]:
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=notice)))
    if not sequences:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="You have no sequences yet. Make one with `/outreach sequence new`.")))
        return blocks
    for summary in sequences[:LISTED]:
        blocks += _sequence_blocks(summary)
    more = f"… and {len(sequences) - LISTED} more. " if len(sequences) > LISTED else ""
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"{more}New: `/outreach sequence new` · edit by name: `/outreach sequence edit <name>`")]))
    return blocks


def saved_text(name: str, steps: Sequence[tuple[str, int]], *, created: bool, running: Sequence[str] = ()) -> str:
    count = len(steps)
    text = (f":white_check_mark: {'Made' if created else 'Saved'} sequence *{escape(name)}*: "
            f"{count} step{'s' if count != 1 else ''}\n{step_lines(steps)}")
    if running:
        text += ("\nThe new wording applies to the emails not yet sent in "
                 + ", ".join(f"'{escape(n)}'" for n in running) + ".")
    return text


def removed_text(name: str, archived: bool) -> str:
    if archived:
        return (f":file_cabinet: Archived *{escape(name)}*: finished campaigns used it, so their history keeps it. "
                "It no longer shows in your sequences.")
    return f":wastebasket: Deleted *{escape(name)}*."
