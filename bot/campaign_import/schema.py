"""The campaign file's shape (pydantic models), and pydantic's errors turned into problems on
their line.

Example (every key shown; only those marked "required" must be given)::

    # owner: the recruiter who owns the campaign. name, email and tz are used only to create the
    # user when this Slack user is not known to the bot yet; an existing user is left as is.
    owner:
      team: T0LOCAL                  # required: Slack team (workspace) id
      user: U0RITA                   # required: Slack user id
      name: Rita Recruiter
      email: rita@acme.example
      tz: America/New_York           # default UTC

    # mailbox: where the campaign sends from; `mailbox: rita@acme.example` alone works too.
    # It must be connected and owned by the owner, unless `provider: sandbox` is given and the
    # installation allows sandbox mailboxes (OUTREACH_SANDBOX_MAILBOXES=true): then it is created.
    mailbox:
      address: rita@acme.example     # required
      provider: sandbox              # gmail | graph | smtp_imap | sandbox (checked when given)
      daily_cap: 200                 # optional: sends per day (kept on the mailbox)
      min_spacing_seconds: 90        # optional: seconds between two sends (kept on the mailbox)

    sequence:
      name: Backend engineers        # required
      steps:                         # required, at least one; Jinja templates
        - subject: "Backend role at {{ company }}"
          body: |
            Hi {{ first_name }},
            Would you like to talk about backend work at {{ company }}?
            Rita
        - subject: "Re: Backend role at {{ company }}"
          delay_days: 2              # days after the previous step (step 1 has none)
          body: |
            Hi {{ first_name }}, any thoughts?

    campaign:                        # optional as a whole
      name: Backend Q4               # default: the sequence's name
      preference: specific           # started (default) | specific | best
      at: "09:30"                    # HH:MM, only (and always) with preference: specific
      timezone: America/New_York     # default: the owner's time zone
      send_days: [mon, tue, wed, thu, fri]   # or "01234" (Monday=0), or weekdays; default every day
      holidays: [2026-12-25, 2027-01-01]     # ISO dates with no sends
      email_preference: work         # work (default) | personal
      strict: false                  # true: never fall back to the other address types
      alert_channel: C0HIRING        # Slack channel id for reply and bounce alerts
      same_thread: true              # follow-ups in step 1's thread (default true)
      start: false                   # true: start right after the import (as --start)

    candidates:                      # template fields: name, first_name, last_name + `fields`
      - name: Ana Lima
        fields: {company: Acme, role: Backend}
        addresses:                   # in relevancy order; type: address
          - work: ana@acme.example
          - personal: ana.lima@mail.example
            use_first: true          # this address always wins
      - name: Bo Chen
        fields: {company: Initech}
        addresses:
          - {address: bo@initech.example, type: work}   # the long form of an address

Candidates are always created anew. Two entries sharing an address are reported (the same person
listed twice), never merged. Beware YAML's quirks: `at: 9:30` unquoted is read as text here (not
YAML 1.1's base-60 number) and `send_days: 01234` keeps its leading zero; values such as `yes`,
`no`, `on`, `off` are booleans, so quote them where text is meant.
"""
from __future__ import annotations

import difflib
import re
import types
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from bot.campaign_import.problems import Loc
from bot.campaign_import.yaml_lines import BAD, Document
from bot.errors import UserError
from bot.models import AddressKind, Provider, SendPreference
from bot.services.addresses import control_problem, valid_address
from bot.services.campaigns import check_timezone


def example() -> str:
    """The example in this module's docstring, as `campaign import --help` shows it."""
    doc = __doc__ or ""
    start = doc.index("Example (")
    end = doc.index("Candidates are always")
    return doc[start:end].rstrip().replace("::\n", ":\n", 1)


def _zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_timezone(value)
    except UserError as exc:
        raise ValueError(exc.message) from None


def _address(value: str) -> str:
    try:
        return valid_address(value, several="expected one address per list item (`- work: …` then `- other: …`)")
    except UserError as exc:
        raise ValueError(exc.message) from None


def _one_line(value: str) -> str:
    """Text that may go into an email's headers (a name, a subject): no line break or control character."""
    problem = control_problem(value)
    if problem:
        raise ValueError(f"contains {problem}: expected one line of plain text")
    return value


def show(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value if len(value) <= 40 else value[:37] + '...'}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _time_of_day(value: Any) -> Any:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip()) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise ValueError(f"{show(value)} is not a time of day: expected HH:MM on a 24-hour clock, such as \"09:30\"")


_DAY_NAMES = {name: n for n, names in enumerate([
    ("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
    ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday"),
]) for name in names}
_SEND_DAYS_EXPECTED = ('expected weekday digits such as "01234" (Monday=0 … Sunday=6), a list of day '
                       "names such as [mon, tue, wed, thu, fri], or weekdays")


def _send_days(value: Any) -> str:
    days: set[int] = set()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip().lower() == "weekdays":
        days = set(range(5))
    elif isinstance(value, str) and value.strip() and set(value.strip()) <= set("0123456"):
        days = {int(c) for c in value.strip()}
    elif isinstance(value, list) and value:
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
                days.add(item)
            elif isinstance(item, str) and item.strip().lower() in _DAY_NAMES:
                days.add(_DAY_NAMES[item.strip().lower()])
            else:
                raise ValueError(f"{show(item)} is not a day: {_SEND_DAYS_EXPECTED}")
    else:
        raise ValueError(f"{show(value)} names no days: {_SEND_DAYS_EXPECTED}")
    return "".join(str(d) for d in sorted(days))


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{show(value)} is not a date: expected an ISO date such as 2026-12-25")


def _field_value(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, str) and (problem := control_problem(value, multiline=True)):
        raise ValueError(f"contains {problem}: expected text without control characters")
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"{show(value)} cannot be a template field: expected text or a number")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]
FieldValue = Annotated[Any, BeforeValidator(_field_value)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerSpec(_Spec):
    team: str = Field(pattern=r"^[TE][A-Z0-9]{1,31}$", description="a Slack team id such as T0123ABCD")
    user: str = Field(pattern=r"^[UW][A-Z0-9]{1,31}$", description="a Slack user id such as U0123ABCD")
    name: str = Field("", max_length=200, description="the owner's name (used only if the user is new)")
    email: str | None = Field(None, max_length=320, description="the owner's email address")
    tz: str | None = Field(None, description="an IANA time zone such as America/New_York")

    _check_email = field_validator("email")(lambda v: None if v is None else _address(v))
    _check_name = field_validator("name")(_one_line)  # the From name of the owner's sends
    _check_tz = field_validator("tz")(_zone)


class MailboxSpec(_Spec):
    address: str = Field(max_length=320, description="the mailbox's email address")
    provider: Provider | None = Field(None, description="one of gmail, graph, smtp_imap, sandbox")
    daily_cap: int | None = Field(None, ge=1, description="a number of sends per day, 1 or more, "
                                                          "under the provider's own limit")
    min_spacing_seconds: int | None = Field(None, ge=0, le=3600,
                                            description="seconds between two sends, 0 to 3600")

    _check_address = field_validator("address")(_address)

    @model_validator(mode="before")
    @classmethod
    def _just_an_address(cls, data: Any) -> Any:
        return {"address": data} if isinstance(data, str) else data


class StepSpec(_Spec):
    subject: str = Field(max_length=998, description="a one-line subject template")
    body: str = Field(description="the body template")
    delay_days: int = Field(0, ge=0, le=3650, description="a whole number of days after the previous step, 0 or more")

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the subject is empty: expected a one-line subject template")
        if any(c in value.strip() for c in "\r\n\u2028\u2029"):
            raise ValueError("the subject has several lines: expected one line (use `subject: text`, not a block)")
        return _one_line(value.strip())

    @field_validator("body")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the body is empty: expected the email's text")
        return value


class SequenceSpec(_Spec):
    name: str = Field(min_length=1, max_length=200, description="the sequence's name")
    steps: list[Any] = Field(min_length=1, description="a list of steps, each with subject, body and delay_days")

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name is blank: expected the sequence's name")
        return value.strip()


class CampaignSpec(_Spec):
    name: str | None = Field(None, max_length=200, description="the campaign's name")
    preference: SendPreference = Field(SendPreference.STARTED, description="one of started, specific, best")
    at: TimeOfDay | None = Field(None, description='a time of day as HH:MM, such as "09:30"')
    timezone: str | None = Field(None, description="an IANA time zone such as America/New_York")
    send_days: Annotated[str, BeforeValidator(_send_days)] = Field("0123456", description=_SEND_DAYS_EXPECTED[9:])
    holidays: list[IsoDate] = Field(default_factory=list, description="a list of ISO dates such as [2026-12-25]")
    email_preference: Literal["work", "personal"] = Field("work", description="work or personal")
    strict: bool = Field(False, description="true or false")
    alert_channel: str | None = Field(None, pattern=r"^[CG][A-Z0-9]{1,31}$",
                                      description="a Slack channel id such as C0123ABCD (not a #name)")
    same_thread: bool = Field(True, description="true or false")
    start: bool = Field(False, description="true or false")

    _check_tz = field_validator("timezone")(_zone)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_defaults(cls, data: Any) -> Any:
        return {} if data is None else data


_ADDRESS_KINDS = frozenset(kind.value for kind in AddressKind)  # once: iterating an Enum is slow, and 10,000 candidates ask


class AddressSpec(_Spec):
    address: str = Field(max_length=320, description="an email address")
    type: AddressKind = Field(description="work, personal or other")
    use_first: bool = Field(False, description="true or false")

    _check_address = field_validator("address")(_address)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        """`work: ana@acme.example` stands for `{address: ana@acme.example, type: work}`."""
        if isinstance(data, str):
            raise ValueError(f"{show(data)} has no type: expected `work: {data}`, `personal: {data}` "
                             f"or `other: {data}`")
        if isinstance(data, dict) and "address" not in data and "type" not in data:
            kinds = [k for k in data if k in _ADDRESS_KINDS]
            if len(kinds) > 1:
                raise ValueError(f"one entry gives {' and '.join(kinds)} addresses: expected one address "
                                 "per list item (`- work: …` then `- personal: …`)")
            if kinds:
                rest = {k: v for k, v in data.items() if k != kinds[0]}
                return {"address": data[kinds[0]], "type": kinds[0], **rest}
            others = ", ".join(str(k) for k in data if k != "use_first") or "nothing"
            raise ValueError(f"no address type here (found {others}): expected `work: …`, `personal: …` or "
                             "`other: …` (or `address:` with `type:`)")
        return data


class CandidateSpec(_Spec):
    name: str = Field(min_length=1, max_length=200, description="the candidate's full name")
    fields: dict[str, FieldValue] = Field(default_factory=dict,
                                          description="template fields, such as {company: Acme}")
    addresses: list[AddressSpec] = Field(min_length=1, description="the candidate's addresses in relevancy "
                                                                   "order, such as [work: ana@acme.example]")

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name is empty: expected the candidate's full name")
        return _one_line(value.strip())


class FileSpec(_Spec):
    owner: Any = Field(description="the owner's Slack team and user ids (team:, user:)")
    mailbox: Any = Field(description="the address of the mailbox to send from")
    sequence: Any = Field(description="the sequence's name and steps")
    campaign: Any = Field(None, description="the campaign's settings")
    candidates: list[Any] = Field(default_factory=list, description="a list of candidates")


# --- Turning pydantic's errors into problems --------------------------------------------------

def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:  # X | None is X here
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _walk(model: type[BaseModel], loc: Loc) -> tuple[FieldInfo | None, Any]:
    """The field `loc` ends in (or its nearest field ancestor), and the type found at `loc`."""
    info: FieldInfo | None = None
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            args = get_args(_unwrap(current))
            current = args[0] if args else Any
            continue
        holder = _as_model(current)
        if holder is None or part not in holder.model_fields:
            return info, Any
        info = holder.model_fields[part]
        current = info.annotation
    return info, current


_WRONG = {
    "int": "is not a whole number", "float": "is not a number", "bool": "is not true or false",
    "string_type": "is not text", "list_type": "is not a list", "dict_type": "is not a mapping (key: value lines)",
    "model_type": "is not a mapping (key: value lines)", "model_attributes_type": "is not a mapping (key: value lines)",
    "enum": "is not one of the choices", "literal_error": "is not one of the choices",
    "greater_than_equal": "is too small", "greater_than": "is too small", "less_than_equal": "is too large",
    "less_than": "is too large", "string_pattern_mismatch": "does not look right",
}


def _error_message(error: Any, model: type[BaseModel], loc: Loc) -> str:
    kind, value = error["type"], error.get("input")
    info, _ = _walk(model, loc)
    expected = info.description if info is not None and info.description else error["msg"]
    if kind == "missing":
        return f"missing: add `{loc[-1]}:` with {expected}" if loc and isinstance(loc[-1], str) else "missing"
    if kind == "extra_forbidden":
        holder = _as_model(_walk(model, loc[:-1])[1]) or model
        allowed = list(holder.model_fields)
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown key '{loc[-1]}'{hint}: expected one of {', '.join(allowed)}"
    if kind in ("value_error", "assertion_error"):
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind in ("string_too_short", "too_short") and not value:
        return f"is empty: expected {expected}"
    if kind == "string_too_long":
        return f"is too long ({len(value)} characters, at most {error['ctx']['max_length']}): expected {expected}"
    if kind == "too_short":
        return f"has too few items: expected {expected}"
    wrong = _WRONG.get(kind) or _WRONG.get(kind.split("_")[0]) or error["msg"].lower()
    quote = " (put text in quotes)" if kind == "string_type" and isinstance(value, (bool, int, float, date)) else ""
    return f"{show(value)} {wrong}{quote}: expected {expected}"


def validate(doc: Document, model: type[BaseModel], data: Any, prefix: Loc) -> Any:
    """`model` from `data`, or None after reporting each problem (problems under a value that YAML
    could not read are already reported)."""
    if data is BAD or doc.is_bad(prefix):
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(part for part in error["loc"] if part != "[key]")
            if not doc.is_bad(prefix + loc):
                doc.report(prefix + loc, _error_message(error, model, loc))
        return None
