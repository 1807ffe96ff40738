"""`outreach campaign import FILE [--start] [--dry-run]`: a campaign from a YAML file, without Slack.

For scripting, the demo and the benchmarks. The file names the owner, the sending mailbox, the
sequence, the campaign's settings (SPEC "When to send", "Choosing the recipient address") and the
candidates. The whole file is checked before anything is written: every problem found is reported
as `FILE:LINE: field.path: what is wrong: what is expected` (list positions count from 1, as step
numbers do), the command exits 2, and the database is left as it was. A good file is written in one
transaction and one summary line is printed.

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

From Python (the demo and the benchmarks)::

    result = import_campaign(runtime, "campaign.yaml", start=True)      # or a Path
    result = import_campaign_text(runtime, yaml_text, start=True)
    print(result.summary())
    # a bad file raises ImportProblems (a UserError); .problems lists every Problem found
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
import types
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import templates, yaml_limits
from bot.config import Settings
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    AddressKind,
    CandidateAddress,
    Enrollment,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    Provider,
    SendPreference,
    User,
)
from bot.runtime import Runtime
from bot.services.addresses import control_problem, valid_address
from bot.services.campaigns import check_timezone, create_campaign, enroll, start_campaign
from bot.services.candidates import add_candidate
from bot.services.delegations import may_use
from bot.services.directory import Profile, ensure_user, find_user
from bot.services.mailboxes import (
    PROVIDER_MIN_SPACING_SECONDS,
    connect_mailbox,
    provider_daily_limit,
    set_limits,
)
from bot.services.recipients import choose_address
from bot.services.sequences import StepDraft, create_sequence

EXIT_OK = 0
EXIT_PROBLEMS = 2

Loc = tuple[Union[str, int], ...]


# --- Problems and results ---------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where (line, field path) and what to do about it."""

    file: str
    line: int | None  # 1-based; None when no line applies (an unreadable file)
    path: str  # e.g. "sequence.steps[2].delay_days"; "" for the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ImportProblems(UserError):
    """The file cannot be imported; `problems` holds every problem found, in file order."""

    def __init__(self, problems: list[Problem], file: str) -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        self.file = file
        count = len(self.problems)
        header = f"{file}: {count} problem{'s' if count != 1 else ''}, nothing was imported"
        super().__init__("\n".join([header, *(str(p) for p in self.problems)]))


@dataclass(frozen=True)
class ImportResult:
    campaign_id: int
    campaign_name: str
    owner_id: int
    mailbox_id: int
    mailbox_address: str
    sequence_id: int
    candidate_ids: list[int]
    steps: int
    timezone: str
    started: bool
    first_due: datetime | None = None  # earliest step-1 send time, when started (aware, UTC)
    last_due: datetime | None = None
    created_owner: bool = False
    created_mailbox: bool = False  # created, or a disconnected sandbox mailbox connected again
    dry_run: bool = False  # everything was rolled back

    @property
    def candidates(self) -> int:
        return len(self.candidate_ids)

    def summary(self) -> str:
        what = (f"campaign '{self.campaign_name}'" if self.dry_run
                else f"campaign {self.campaign_id} '{self.campaign_name}'")
        line = (f"{'Checked' if self.dry_run else 'Imported'} {what}: "
                f"{_count(self.candidates, 'candidate')}, {_count(self.steps, 'step')}, "
                f"from {self.mailbox_address}")
        if self.started and self.first_due and self.last_due:
            line += f"; started, step 1 due {_due_range(self.first_due, self.last_due, self.timezone)}"
        elif not self.started:
            line += "; not started (a draft; --start or `start: true` starts it at import)"
        if self.dry_run:
            line += "; dry run, nothing was written"
        return line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _due_range(first: datetime, last: datetime, zone_name: str) -> str:
    zone = ZoneInfo(zone_name)
    a, b = first.astimezone(zone), last.astimezone(zone)
    if a == b:
        return f"at {a:%Y-%m-%d %H:%M} ({zone_name})"
    end = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{end} ({zone_name})"


# --- YAML with line numbers -------------------------------------------------------------------

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_BAD = object()  # stands for a value YAML could not read (already reported)


@dataclass
class _Document:
    """Plain data read from YAML, with the line of every value by its path."""

    file: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    literal_base: dict[Loc, int] = field(default_factory=dict)  # `key: |` block: line of content line 0
    problems: list[Problem] = field(default_factory=list)
    bad_paths: set[Loc] = field(default_factory=set)

    def line(self, path: Loc) -> int | None:
        """The line of the value at `path`, or of its nearest ancestor that is in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def report(self, path: Loc, message: str, *, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, line or self.line(path), _show_path(path), message))

    def is_bad(self, path: Loc) -> bool:
        return any(path[: len(bad)] == bad for bad in self.bad_paths)


def _show_path(path: Loc) -> str:
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _read_yaml(text: str, file: str) -> _Document:
    doc = _Document(file)
    loader = yaml_limits.LimitedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            doc.report((), "the file is empty: expected owner, mailbox, sequence, campaign and candidates "
                           "(see `outreach campaign import --help`)", line=1)
            return doc
        yaml_limits.check_expansion(root)  # before _node_data builds what the aliases stand for
        doc.lines[()] = root.start_mark.line + 1
        doc.data = _node_data(loader, root, (), doc, set())
    except yaml_limits.YamlTooLarge as exc:
        raise ImportProblems([Problem(file, None, "", str(exc))], file) from None
    except RecursionError:
        raise ImportProblems([Problem(file, None, "", "lists or mappings are nested too deeply: expected the "
                                                      "shape of a campaign file (see `outreach campaign import "
                                                      "--help`)")], file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "unreadable YAML"
        if exc.context and exc.problem_mark is not None:
            what += f" ({exc.context}"
            what += f" on line {exc.context_mark.line + 1})" if exc.context_mark is not None else ")"
        line = min(mark.line + 1, max(len(text.splitlines()), 1)) if mark else None  # not past the end
        doc.problems.append(Problem(file, line, "",
                                    f"YAML syntax error: {what}: expected valid YAML (check indentation, "
                                    "colons and quotes around text containing ': ' or '{')"))
    except yaml.YAMLError as exc:  # a ReaderError: characters YAML does not allow
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        doc.problems.append(Problem(file, line, "", f"not readable as YAML: {exc}"))
    finally:
        loader.dispose()
    if doc.problems and doc.data is None:
        doc.data = _BAD
    return doc


def _node_data(loader: yaml.SafeLoader, node: yaml.Node, path: Loc, doc: _Document, active: set[int]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.tag in (_INT_TAG, _FLOAT_TAG) and (
            ":" in node.value or re.fullmatch(r"[-+]?0[0-9_]+", node.value)
        ):
            return node.value  # YAML 1.1 base-60 ("9:30") or octal ("01234"): nobody means those here
        if node.style == "|":
            doc.literal_base[path] = node.start_mark.line + 1
        try:
            return loader.construct_object(node, deep=True)
        except ValueError:  # an impossible date such as 2026-13-01: the schema says what is expected
            return node.value
        except yaml.YAMLError as exc:
            doc.report(path, f"cannot read this value ({getattr(exc, 'problem', exc)}): expected plain "
                             "text, a number, true/false or a date", line=node.start_mark.line + 1)
            doc.bad_paths.add(path)
            return _BAD
    if id(node) in active:
        doc.report(path, "this value contains itself (a YAML alias loop): expected plain data",
                   line=node.start_mark.line + 1)
        doc.bad_paths.add(path)
        return _BAD
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, child in enumerate(node.value):
                doc.lines[path + (index,)] = child.start_mark.line + 1
                items.append(_node_data(loader, child, path + (index,), doc, active))
            return items
        assert isinstance(node, yaml.MappingNode)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = _key(loader, key_node)
            if key in seen:
                doc.report(path + (str(key),), f"'{key}' is given twice (first on line {seen[key]}): "
                                               "expected each key once", line=key_node.start_mark.line + 1)
                doc.bad_paths.add(path + (str(key),))
            else:
                seen[key] = key_node.start_mark.line + 1
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                doc.report(path, "a key here is a list or a mapping: expected plain words as keys",
                           line=key_node.start_mark.line + 1)
                doc.bad_paths.add(path)
                continue
            key = _key(loader, key_node)
            child_path = path + (key if isinstance(key, str) else str(key),)
            scalar = isinstance(value_node, yaml.ScalarNode)
            doc.lines[child_path] = (value_node if scalar else key_node).start_mark.line + 1
            mapping[key] = _node_data(loader, value_node, child_path, doc, active)
        return mapping
    finally:
        active.discard(id(node))


def _key(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        key = loader.construct_object(node)
    except (ValueError, yaml.YAMLError):
        return node.value
    return key if isinstance(key, (str, int, float, bool)) or key is None else node.value


# --- The file's shape -------------------------------------------------------------------------

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


def _show(value: Any) -> str:
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
    raise ValueError(f"{_show(value)} is not a time of day: expected HH:MM on a 24-hour clock, such as \"09:30\"")


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
                raise ValueError(f"{_show(item)} is not a day: {_SEND_DAYS_EXPECTED}")
    else:
        raise ValueError(f"{_show(value)} names no days: {_SEND_DAYS_EXPECTED}")
    return "".join(str(d) for d in sorted(days))


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{_show(value)} is not a date: expected an ISO date such as 2026-12-25")


def _field_value(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, str) and (problem := control_problem(value, multiline=True)):
        raise ValueError(f"contains {problem}: expected text without control characters")
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"{_show(value)} cannot be a template field: expected text or a number")


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
            raise ValueError(f"{_show(data)} has no type: expected `work: {data}`, `personal: {data}` "
                             f"or `other: {data}`")
        if isinstance(data, dict) and "address" not in data and "type" not in data:
            kinds = [k for k in data if k in {kind.value for kind in AddressKind}]
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


class _FileSpec(_Spec):
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
    return f"{_show(value)} {wrong}{quote}: expected {expected}"


def _validate(doc: _Document, model: type[BaseModel], data: Any, prefix: Loc) -> Any:
    """`model` from `data`, or None after reporting each problem (problems under a value that YAML
    could not read are already reported)."""
    if data is _BAD or doc.is_bad(prefix):
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(part for part in error["loc"] if part != "[key]")
            if not doc.is_bad(prefix + loc):
                doc.report(prefix + loc, _error_message(error, model, loc))
        return None


# --- Reading and checking a file (no database) ------------------------------------------------

@dataclass
class _Parsed:
    doc: _Document
    owner: OwnerSpec | None = None
    mailbox: MailboxSpec | None = None
    sequence: SequenceSpec | None = None
    steps: list[StepSpec | None] = field(default_factory=list)
    campaign: CampaignSpec | None = None
    candidates: list[CandidateSpec | None] = field(default_factory=list)
    templates: list[tuple[str, str]] = field(default_factory=list)  # (where, source) of those that parse
    structure_ok: bool = False  # the top level parsed; sections may still be wrong

    @property
    def complete(self) -> bool:
        return (self.structure_ok and not self.doc.problems and None not in (self.owner, self.mailbox,
                self.sequence, self.campaign) and None not in self.steps and None not in self.candidates)


def _parse(text: str, file: str) -> _Parsed:
    doc = _read_yaml(text, file)
    parsed = _Parsed(doc)
    if doc.data is _BAD or doc.data is None:
        return parsed
    if not isinstance(doc.data, dict):
        doc.report((), f"the file holds {_show(doc.data)}: expected a mapping with owner, mailbox, sequence, "
                       "campaign and candidates (see `outreach campaign import --help`)")
        return parsed
    _validate(doc, _FileSpec, doc.data, ())  # unknown and missing sections; each is then checked alone
    sections: dict[Any, Any] = doc.data
    parsed.structure_ok = True
    parsed.owner = _validate(doc, OwnerSpec, sections.get("owner", _BAD), ("owner",))
    parsed.mailbox = _validate(doc, MailboxSpec, sections.get("mailbox", _BAD), ("mailbox",))
    parsed.sequence = _validate(doc, SequenceSpec, sections.get("sequence", _BAD), ("sequence",))
    raw_steps = sections["sequence"].get("steps") if isinstance(sections.get("sequence"), dict) else None
    if isinstance(raw_steps, list):
        parsed.steps = [_validate(doc, StepSpec, step, ("sequence", "steps", n)) for n, step in enumerate(raw_steps)]
        _check_templates(parsed, raw_steps)
    parsed.campaign = _validate(doc, CampaignSpec, sections.get("campaign"), ("campaign",))
    raw_candidates = sections.get("candidates")
    if isinstance(raw_candidates, list):
        parsed.candidates = [_validate(doc, CandidateSpec, c, ("candidates", n)) for n, c in enumerate(raw_candidates)]
    _check_steps(parsed)
    _check_campaign(parsed)
    _check_candidates(parsed)
    return parsed


def _template_problem(doc: _Document, path: Loc, exc: templates.TemplateProblem) -> None:
    match = re.match(r"line (\d+): (.*)", exc.message, re.S)
    if not match:
        doc.report(path, f"the template does not parse: {exc.message}")
        return
    number, what = int(match[1]), match[2].rstrip(". ")
    base = doc.literal_base.get(path)
    line = base + number if base is not None else None
    doc.report(path, f"the template does not parse: {what} (template line {number}): expected Jinja "
                     "syntax such as {{ first_name }} or {% if company %}…{% endif %}", line=line)


def _check_templates(parsed: _Parsed, raw_steps: list[Any]) -> None:
    """Every subject and body must parse, checked even when another key of its step is wrong; a
    step whose template does not parse is left out of the candidates' checks."""
    for n, raw in enumerate(raw_steps):
        for part in ("subject", "body"):
            source = raw.get(part) if isinstance(raw, dict) else None
            if not isinstance(source, str):
                continue
            try:
                templates.check(source, field=part)
            except templates.TemplateProblem as exc:
                _template_problem(parsed.doc, ("sequence", "steps", n, part), exc)
                parsed.steps[n] = None
            else:
                parsed.templates.append((f"step {n + 1}'s {part}", source))


def _check_steps(parsed: _Parsed) -> None:
    first = parsed.steps[0] if parsed.steps else None
    if first is not None and first.delay_days:
        parsed.doc.report(("sequence", "steps", 0, "delay_days"),
                          "step 1 goes out when the campaign starts: expected no delay_days on step 1 "
                          "(a step's delay counts days after the previous step)")


def _check_campaign(parsed: _Parsed) -> None:
    campaign = parsed.campaign
    if campaign is None:
        return
    if campaign.preference == SendPreference.SPECIFIC and campaign.at is None:
        parsed.doc.report(("campaign", "preference"),
                          "'specific' needs a time of day: expected `at: \"HH:MM\"` next to it, such as \"09:30\"")
    if campaign.at is not None and campaign.preference != SendPreference.SPECIFIC:
        parsed.doc.report(("campaign", "at"), f"a time is used only with preference: specific (this campaign's "
                                              f"preference is {campaign.preference.value}): expected no `at`, "
                                              "or preference: specific")


def _missing_fields(step_templates: list[tuple[str, str]], values: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """Fields each template needs that `values` lacks ({field: [where]}), by the one rule Start uses
    too (templates.missing_fields); then, for a template that lacks none, how rendering it fails."""
    missing: dict[str, list[str]] = {}
    failures: list[str] = []
    for where, source in step_templates:
        lacking = templates.missing_fields(source, values)
        for name in lacking:
            missing.setdefault(name, []).append(where)
        if lacking:
            continue  # an empty stand-in may fail where the real value would not: nothing to say yet
        try:
            templates.render(source, values)
        except templates.TemplateProblem as exc:
            failures.append(f"{where}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a template may divide by zero, call a non-function…
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
    return missing, failures


def _check_candidates(parsed: _Parsed) -> None:
    doc, campaign = parsed.doc, parsed.campaign
    step_templates = parsed.templates
    first_owner: dict[str, tuple[int, str]] = {}
    for n, candidate in enumerate(parsed.candidates):
        if candidate is None:
            continue
        path: Loc = ("candidates", n)
        addresses = [CandidateAddress(address=a.address, kind=a.type, position=p, use_first=a.use_first)
                     for p, a in enumerate(candidate.addresses, start=1)]
        if sum(a.use_first for a in candidate.addresses) > 1:
            doc.report(path + ("addresses",), f"{candidate.name} has more than one address with use_first: "
                                              "expected use_first on one address at most")
        for m, address in enumerate(candidate.addresses):
            earlier = first_owner.get(address.address)
            if earlier is None:
                first_owner[address.address] = (n, candidate.name)
            elif earlier[0] == n:
                doc.report(path + ("addresses", m), f"{address.address} is listed twice for {candidate.name}: "
                                                    "expected each address once")
            else:
                doc.report(path + ("addresses", m),
                           f"{address.address} is already an address of candidates[{earlier[0] + 1}] "
                           f"({earlier[1]}, line {doc.line(('candidates', earlier[0]))}): expected each person "
                           "once (duplicates are not merged: keep one entry)")
        if campaign is not None and choose_address(
            addresses, preferred=AddressKind(campaign.email_preference), strict=campaign.strict, user_id=0,
        ) is None:
            doc.report(path + ("addresses",),
                       f"{candidate.name} has no {campaign.email_preference} address and the campaign is "
                       f"strict (strict: true), so nothing could be sent: expected a {campaign.email_preference} "
                       "address, a use_first address, or strict: false")
        missing, failures = _missing_fields(step_templates, templates.candidate_values(candidate.name,
                                                                                       candidate.fields))
        where_fields: Loc = path + ("fields",) if path + ("fields",) in doc.lines else path
        for name, uses in missing.items():
            doc.report(where_fields + (name,),
                       f"{candidate.name} has no field '{name}', which {' and '.join(uses)} "
                       f"use{'s' if len(uses) == 1 else ''}: expected `{name}: …` under this candidate's fields")
        for failure in failures:
            doc.report(path, f"the email for {candidate.name} cannot be written: {failure}: "
                             "expected templates that work with this candidate's fields")


# --- The database: checks, then writes --------------------------------------------------------

@dataclass
class _Target:
    owner: User | None
    mailbox: Mailbox | None
    connect_sandbox: bool


def _check_database(session: Session, runtime: Runtime, parsed: _Parsed, start: bool) -> _Target:
    doc, target = parsed.doc, _Target(None, None, False)
    if parsed.owner is not None:
        target.owner = find_user(session, slack_team_id=parsed.owner.team, slack_user_id=parsed.owner.user)
    spec = parsed.mailbox
    if spec is None:
        return target
    at: Loc = ("mailbox", "address") if ("mailbox", "address") in doc.lines else ("mailbox",)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.address == spec.address))
    provider = spec.provider or (mailbox.provider if mailbox is not None else None)
    if mailbox is None or mailbox.status == MailboxStatus.DISCONNECTED:
        state = "is not connected" if mailbox is None else "was disconnected"
        if spec.provider != Provider.SANDBOX:
            doc.report(at, f"{spec.address} {state}: expected a mailbox its owner has connected in Slack "
                           "(/outreach connect); a file can create only sandbox mailboxes (provider: sandbox)")
        elif not runtime.settings.sandbox_mailboxes:
            doc.report(("mailbox", "provider"), f"{spec.address} {state} and sandbox mailboxes are off here: "
                                                "expected OUTREACH_SANDBOX_MAILBOXES=true, or a mailbox "
                                                "connected in Slack (/outreach connect)")
        else:
            target.connect_sandbox = True
    else:
        target.mailbox = mailbox
        if parsed.owner is not None and (target.owner is None or not may_use(
                session, user_id=target.owner.id, mailbox=mailbox)):
            who = mailbox.owner.name or mailbox.owner.slack_user_id
            doc.report(at, f"{spec.address} is connected by {who}, not by this campaign's owner: expected a "
                           "mailbox the owner connected, or one its owner approved for them "
                           "(`/outreach delegate @owner` in Slack)")
        if spec.provider is not None and spec.provider != mailbox.provider:
            doc.report(("mailbox", "provider"), f"{spec.address} is a {mailbox.provider.value} mailbox: "
                                                f"expected provider: {mailbox.provider.value}, or no provider")
        if mailbox.status == MailboxStatus.NEEDS_RECONNECT and start:
            doc.report(at, f"{spec.address} needs reconnecting, so the campaign cannot start: expected its owner "
                           "to reconnect it in Slack first, or an import without --start")
    if provider is not None:  # set_limits' rules, checked before anything is written
        ceiling = provider_daily_limit(provider, spec.address)
        if spec.daily_cap is not None and spec.daily_cap > ceiling:
            doc.report(("mailbox", "daily_cap"), f"{spec.daily_cap} is over the {provider.value} limit for "
                                                 f"{spec.address}: expected at most {ceiling} a day")
        floor = PROVIDER_MIN_SPACING_SECONDS.get(provider, 0)
        if spec.min_spacing_seconds is not None and spec.min_spacing_seconds < floor:
            doc.report(("mailbox", "min_spacing_seconds"), f"{spec.min_spacing_seconds} is faster than "
                                                           f"{provider.value} allows: expected {floor} or more")
    return target


def _write(session: Session, runtime: Runtime, parsed: _Parsed, target: _Target, start: bool) -> ImportResult:
    assert parsed.owner and parsed.mailbox and parsed.sequence and parsed.campaign
    clock, owner_spec, mailbox_spec, settings = runtime.clock, parsed.owner, parsed.mailbox, parsed.campaign
    owner = target.owner
    if owner is None:
        owner = ensure_user(session, slack_team_id=owner_spec.team, clock=clock, profile=Profile(
            owner_spec.user, name=owner_spec.name, email=owner_spec.email, tz=owner_spec.tz or "UTC"))
    mailbox = target.mailbox
    if target.connect_sandbox:
        mailbox = connect_mailbox(session, owner=owner, provider=Provider.SANDBOX, address=mailbox_spec.address,
                                  credentials=None, clock=clock)
    assert mailbox is not None
    set_limits(mailbox, daily_cap=mailbox_spec.daily_cap, min_spacing_seconds=mailbox_spec.min_spacing_seconds)
    steps = [s for s in parsed.steps if s is not None]
    sequence = create_sequence(session, owner=owner, name=parsed.sequence.name, clock=clock,
                               steps=[StepDraft(s.subject, s.body, s.delay_days) for s in steps])
    campaign = create_campaign(
        session, owner=owner, sequence=sequence, mailbox=mailbox, name=settings.name or sequence.name,
        clock=clock, timezone=settings.timezone, preference=settings.preference, specific_time=settings.at,
        send_days=settings.send_days, email_preference=AddressKind(settings.email_preference),
        strict_preference=settings.strict, alert_channel_id=settings.alert_channel, same_thread=settings.same_thread,
    )
    campaign.holidays = [d.isoformat() for d in sorted(set(settings.holidays))]  # create_campaign has no holidays
    people = []
    for spec in (c for c in parsed.candidates if c is not None):
        candidate = add_candidate(session, added_by=owner, name=spec.name, fields=spec.fields, clock=clock,
                                  addresses=[(a.address, a.type) for a in spec.addresses])
        first = {a.address for a in spec.addresses if a.use_first}
        for address in candidate.addresses:  # add_candidate has no use_first
            address.use_first = address.address in first
        people.append(candidate)
    enroll(session, campaign=campaign, candidates=people, clock=clock)
    session.flush()
    first_due = last_due = None
    if start:
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        first_due, last_due = session.execute(
            select(func.min(OutboundMessage.due_at), func.max(OutboundMessage.due_at))
            .join(Enrollment, Enrollment.id == OutboundMessage.enrollment_id)
            .where(Enrollment.campaign_id == campaign.id, OutboundMessage.step_position == 1)
        ).one()
    return ImportResult(
        campaign_id=campaign.id, campaign_name=campaign.name, owner_id=owner.id, mailbox_id=mailbox.id,
        mailbox_address=mailbox.address, sequence_id=sequence.id, candidate_ids=[c.id for c in people],
        steps=len(steps), timezone=campaign.timezone, started=start, first_due=_aware(first_due),
        last_due=_aware(last_due), created_owner=target.owner is None, created_mailbox=target.connect_sandbox,
    )


def _aware(value: datetime | None) -> datetime | None:
    """func.min() skips the column type, so the value may come back naive (UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        self.result = result


# --- The Python API ---------------------------------------------------------------------------

def import_campaign(runtime: Runtime, source: str | PathLike[str], *, start: bool = False,
                    dry_run: bool = False) -> ImportResult:
    """Import the campaign file at `source` (a path). Raises ImportProblems listing every problem;
    then nothing is written. `start` (or `start: true` in the file) starts the campaign at once;
    `dry_run` does everything, then rolls it back."""
    name = str(source)
    try:
        too_big = yaml_limits.size_problem(Path(source).stat().st_size)  # before reading it into memory
        if too_big:
            raise ImportProblems([Problem(name, None, "", too_big)], name)
        text = Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblems([Problem(name, None, "", f"not UTF-8 text ({exc.reason}): expected a UTF-8 "
                                                      "YAML file")], name) from None
    except OSError as exc:
        raise ImportProblems([Problem(name, None, "", f"cannot read the file: {exc.strerror or exc}")],
                             name) from None
    return import_campaign_text(runtime, text, file=name, start=start, dry_run=dry_run)


def import_campaign_text(runtime: Runtime, text: str, *, file: str = "<text>", start: bool = False,
                         dry_run: bool = False) -> ImportResult:
    """As import_campaign, from YAML text; `file` names it in problems."""
    too_big = yaml_limits.size_problem(len(text))
    if too_big:
        raise ImportProblems([Problem(file, None, "", too_big)], file)
    parsed = _parse(text, file)
    if not parsed.structure_ok:
        raise ImportProblems(parsed.doc.problems, file)
    start = start or bool(parsed.campaign and parsed.campaign.start)
    if start and not parsed.candidates and not parsed.doc.is_bad(("candidates",)):
        parsed.doc.report(("candidates",), "a campaign without candidates cannot start: expected a list of "
                                           "candidates, or no --start (and no `start: true`)")
    try:
        with transaction(runtime.sessions, write=True) as session:
            target = _check_database(session, runtime, parsed, start)
            if not parsed.complete:
                raise ImportProblems(parsed.doc.problems, file)
            try:
                result = _write(session, runtime, parsed, target, start)
            except ImportProblems:
                raise
            except UserError as exc:  # a rule a service keeps that the checks above did not foresee
                raise ImportProblems([Problem(file, None, exc.field or "", exc.message)], file) from exc
            if dry_run:
                raise _DryRun(result)
    except _DryRun as rolled_back:
        return replace(rolled_back.result, dry_run=True)
    return result


# --- The command line -------------------------------------------------------------------------

def _example() -> str:
    doc = __doc__ or ""
    start = doc.index("Example (")
    end = doc.index("Candidates are always")
    return doc[start:end].rstrip().replace("::\n", ":\n", 1)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    campaign = sub.add_parser("campaign", help="campaign commands (import a campaign from a file)")
    commands = campaign.add_subparsers(dest="campaign_command", required=True, metavar="CAMPAIGN_COMMAND")
    importer = commands.add_parser(
        "import", help="create a campaign from a YAML file, without Slack",
        description="Create a campaign (owner, mailbox, sequence, settings, candidates) from a YAML file. "
                    "Every problem is reported as FILE:LINE: field: message, and a bad file writes nothing "
                    "(exit 2).",
        epilog=_example(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("file", metavar="FILE", help="the YAML file, or - to read standard input")
    importer.add_argument("--start", action="store_true", help="start the campaign right after the import")
    importer.add_argument("--dry-run", action="store_true",
                          help="check everything (database included), then write nothing")
    importer.set_defaults(run=_run_import)


def _run_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import upgrade
    from bot.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        upgrade(runtime.engine)
        if args.file == "-":
            text = sys.stdin.read(yaml_limits.MAX_BYTES + 1)  # enough to know it is too large
            result = import_campaign_text(runtime, text, file="<stdin>", start=args.start,
                                          dry_run=args.dry_run)
        else:
            result = import_campaign(runtime, args.file, start=args.start, dry_run=args.dry_run)
    except ImportProblems as exc:
        if len(exc.problems) == 1 and exc.problems[0].line is None:  # about the file as a whole: one line
            print(f"outreach: {exc.problems[0]}; nothing was imported", file=sys.stderr)
            return EXIT_PROBLEMS
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"outreach: {count} problem{'s' if count != 1 else ''} in {exc.file}; nothing was imported",
              file=sys.stderr)
        return EXIT_PROBLEMS
    except UserError as exc:
        print(f"outreach: {exc.message}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        runtime.engine.dispose()
    print(result.summary())
    return EXIT_OK
