"""What buttons, menus and modals carry back to the bot: one typed model per kind of value, made and
read here only, so a view and its listener never disagree and a malformed or forged value is a clear
refusal (a 200 with a message), never an exception (a 500).

Button and option values are the model's fields joined by ':' in the order declared, as short as Slack
likes them (it caps a value at 2,000 characters, and a message is re-sent whole on every update).
Values already out in posted messages and queued notices ("42", "42:7") read as they did.
Modal metadata with free text (a drafted email) is JSON, through a `JsonPayload` model with the same
dump()/load(); the sequence modal's ModalMeta (handlers/views/sequences.py) is one too, kept beside its form.
"""
from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import UserError
from bot.services.campaign_list import Show

STALE = ("That button no longer matches anything the bot knows (an old message, or one that was "
         "changed): use the newest message, or run the command again.")

P = TypeVar("P", bound="Payload")


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def dump(self) -> str:
        return ":".join("" if value is None else str(value) for value in self.model_dump().values())

    @classmethod
    def load(cls: type[P], raw: Any) -> P:
        """The value a listener received, checked: a UserError (STALE) when it is not one of ours."""
        parts = str(raw if raw is not None else "").split(":")
        names = list(cls.model_fields)
        if len(parts) != len(names) and not (len(parts) < len(names) and _optional_tail(cls, len(parts))):
            raise UserError(STALE)
        try:
            return cls.model_validate({name: part or None for name, part in zip(names, parts)})
        except ValidationError:
            raise UserError(STALE) from None


def _optional_tail(cls: type[Payload], given: int) -> bool:
    """Trailing fields left out of a value are allowed when they are optional ("42" for "42:<mailbox>")."""
    return all(not field.is_required() for field in list(cls.model_fields.values())[given:])


class Id(Payload):
    """One object's id: a campaign, an upload, a mailbox, a sequence, a delegation, an event."""

    id: int


class MessagePage(Payload):
    """A page of a campaign message (its candidates, 15 to a page)."""

    campaign: int
    page: int


class UploadTarget(Payload):
    upload: int
    campaign: int


class OverrideTarget(Payload):
    """What a rules-of-engagement override is for: a held-back row of an upload (its line), or an enrollment."""

    kind: Literal["row", "enrollment"]
    id: int
    line: int | None = None


class ShareTarget(Payload):
    campaign: int
    user: int


class CandidateChoice(Payload):
    """An option of a candidate's "…" menu."""

    action: Literal["pause", "resume", "edit", "remove", "override"]
    enrollment: int


class DelegationAnswer(Payload):
    """Approve / Deny, and once the manager picks one of several mailboxes, which."""

    delegation: int
    mailbox: int | None = None


class ReplyAlerts(Payload):
    delegation: int
    state: Literal["on", "off"]


class TemplateStep(Payload):
    """A sequence step used as the template of a one-off email."""

    sequence: int
    position: int


class Offset(Payload):
    """A page of the campaign list: where it starts, and its filter (none: all but the archived)."""

    offset: int
    show: Show | None = None


J = TypeVar("J", bound="JsonPayload")


class JsonPayload(BaseModel):
    """Metadata that holds free text (names, addresses): JSON, read back as strictly as Payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls: type[J], raw: Any) -> J:
        try:
            return cls.model_validate_json(str(raw or "{}"))
        except ValidationError:
            raise UserError(STALE) from None


class SendStage(JsonPayload):
    """The `/outreach send` modals: "choose" (template, address) then "send" (the drafted email, whose
    subject and body are the modal's inputs; the rest rides here)."""

    stage: Literal["choose", "send"]
    sequence_id: int | None = None
    sequence_name: str | None = None
    position: int | None = None
    to: str | None = None
    name: str | None = None


def action_value(body: dict[str, Any]) -> Any:
    """The clicked element's value, or the picked option's for a menu or a select."""
    action = (body.get("actions") or [{}])[0]
    return (action.get("selected_option") or {}).get("value", action.get("value"))
