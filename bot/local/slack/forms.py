"""What a person's Slack client does with Block Kit: fill inputs, pick options, press buttons.

The client enforces some rules before anything reaches the app (required fields, length
limits, only offered options can be picked); a test that breaks them fails with a clear
AssertionError, since no real person could do it.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Callable

from .files import MAX_FILE_INPUT_BYTES, extension
from .validation import MAX_FILE_INPUT_FILES, interactive_elements

_MISSING: Any = object()
# Turns what a test gives for a file_input (a stored file object, or a (name, bytes) pair to
# upload) into the stored file object; provided by Person, which knows the workspace.
FileOf = Callable[[Any, str], dict[str, Any]]
_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_ONE_OPTION = {"static_select", "radio_buttons", "overflow", "external_select"}
_MANY_OPTIONS = {"checkboxes", "multi_static_select", "multi_external_select"}
# element type -> (state key, initial key, is a list)
_PICKERS = {
    "users_select": ("selected_user", "initial_user", False),
    "multi_users_select": ("selected_users", "initial_users", True),
    "conversations_select": ("selected_conversation", "initial_conversation", False),
    "multi_conversations_select": ("selected_conversations", "initial_conversations", True),
    "channels_select": ("selected_channel", "initial_channel", False),
    "multi_channels_select": ("selected_channels", "initial_channels", True),
    "datepicker": ("selected_date", "initial_date", False),
    "timepicker": ("selected_time", "initial_time", False),
    "datetimepicker": ("selected_date_time", "initial_date_time", False),
}
_FORMATS = {
    "datepicker": r"\d{4}-\d{2}-\d{2}",
    "timepicker": r"([01]\d|2[0-3]):[0-5]\d",
    "datetimepicker": r"\d+",
}


def text_of(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else str(obj or "")


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def pick_option(element: dict[str, Any], value: Any, where: str) -> dict[str, Any]:
    for option in options_of(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    offered = [o.get("value") for o in options_of(element)]
    raise AssertionError(f"{where}: no option with value {value!r}; offered: {offered}")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def state_entry(element: dict[str, Any], given: Any, where: str, exists: Callable[[str, str], bool],
                file_of: FileOf | None = None) -> dict[str, Any]:
    """The view.state.values entry for one element; `given` is _MISSING when untouched."""
    kind = element.get("type", "")
    entry: dict[str, Any] = {"type": kind}
    if kind in _TEXT_INPUTS:
        value = element.get("initial_value") if given is _MISSING else given
        value = None if value is None or str(value) == "" else str(value)
        if value is not None and given is not _MISSING:
            _check_text(element, value, where)
        entry["value"] = value
    elif kind in _ONE_OPTION:
        entry["selected_option"] = (
            copy.deepcopy(element.get("initial_option")) if given is _MISSING
            else None if given is None else pick_option(element, given, where)
        )
    elif kind in _MANY_OPTIONS:
        chosen = (copy.deepcopy(element.get("initial_options") or []) if given is _MISSING
                  else [] if given is None else [pick_option(element, v, where) for v in _as_list(given)])
        limit = element.get("max_selected_items")
        if limit is not None and len(chosen) > int(limit):
            raise AssertionError(f"{where}: at most {limit} options can be selected")
        entry["selected_options"] = chosen
    elif kind in _PICKERS:
        key, initial, many = _PICKERS[kind]
        value = element.get(initial) if given is _MISSING else given
        if many:
            value = [] if value is None else _as_list(value)
        for item in _as_list(value) if value not in (None, []) else []:
            _check_pick(kind, item, where, exists)
        entry[key] = value
    elif kind == "file_input":
        entry["files"] = _pick_files(element, given, where, file_of)
    else:
        raise AssertionError(f"{where}: LocalSlack cannot fill a {kind!r} element")
    return entry


def _file_items(given: Any) -> list[Any]:
    """One file (a file object or a (name, bytes) pair) or a list of them."""
    if given is _MISSING or given is None:
        return []
    if isinstance(given, dict) or (isinstance(given, tuple) and len(given) == 2 and isinstance(given[0], str)):
        return [given]
    if isinstance(given, list):
        return list(given)
    raise AssertionError(f"a file_input takes a file object, a (name, bytes) pair or a list of them, got {given!r}")


def _pick_files(element: dict[str, Any], given: Any, where: str, file_of: FileOf | None) -> list[dict[str, Any]]:
    """What the Slack client lets a person attach: the allowed extensions, max_files, 10 MB each."""
    items = _file_items(given)
    limit = int(element.get("max_files") or MAX_FILE_INPUT_FILES)
    if len(items) > limit:
        plural = "s" if limit != 1 else ""
        raise AssertionError(f"{where}: at most {limit} file{plural} can be attached, got {len(items)}")
    allowed = [str(t).lower().lstrip(".") for t in element.get("filetypes") or []]
    for item in items:
        if isinstance(item, dict):
            name, size = str(item.get("name", "")), int(item.get("size") or 0)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (bytes, bytearray)):
            name, size = item[0], len(item[1])
        else:
            raise AssertionError(f"{where}: not a file object or a (name, bytes) pair: {item!r}")
        if allowed and extension(name) not in allowed:
            raise AssertionError(f"{where}: Slack only accepts {', '.join('.' + t for t in allowed)} files here, "
                                 f"not {name!r}")
        if size > MAX_FILE_INPUT_BYTES:
            raise AssertionError(f"{where}: {name!r} is over Slack's 10 MB limit for file inputs")
    if items and file_of is None:
        raise AssertionError(f"{where}: files cannot be attached here")
    return [file_of(item, where) for item in items] if file_of is not None else []


def _check_text(element: dict[str, Any], value: str, where: str) -> None:
    kind = element["type"]
    low, high = element.get("min_length"), element.get("max_length")
    if low is not None and len(value) < int(low):
        raise AssertionError(f"{where}: needs at least {low} characters")
    if high is not None and len(value) > int(high):
        raise AssertionError(f"{where}: allows at most {high} characters")
    if kind == "email_text_input" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise AssertionError(f"{where}: Slack only accepts an email address here, got {value!r}")
    if kind == "url_text_input" and not re.match(r"https?://", value):
        raise AssertionError(f"{where}: Slack only accepts a URL here, got {value!r}")
    if kind == "number_input":
        pattern = r"-?\d+(\.\d+)?" if element.get("is_decimal_allowed") else r"-?\d+"
        if not re.fullmatch(pattern, value):
            raise AssertionError(f"{where}: not a valid number: {value!r}")
        number = float(value)
        if element.get("min_value") is not None and number < float(element["min_value"]):
            raise AssertionError(f"{where}: must be at least {element['min_value']}")
        if element.get("max_value") is not None and number > float(element["max_value"]):
            raise AssertionError(f"{where}: must be at most {element['max_value']}")


def _check_pick(kind: str, item: Any, where: str, exists: Callable[[str, str], bool]) -> None:
    if kind in _FORMATS and not re.fullmatch(_FORMATS[kind], str(item)):
        raise AssertionError(f"{where}: {item!r} is not a valid {kind} value")
    if "users" in kind and not exists("user", str(item)):
        raise AssertionError(f"{where}: no user {item!r} in the workspace")
    if ("conversations" in kind or "channels" in kind) and not exists("channel", str(item)):
        raise AssertionError(f"{where}: no channel {item!r} in the workspace")


def build_state(blocks: list[dict[str, Any]], values: dict[str, Any], exists: Callable[[str, str], bool],
                *, enforce_required: bool, file_of: FileOf | None = None) -> dict[str, dict[str, Any]]:
    """view.state.values for a view's input blocks; `values` is keyed by block_id or action_id.

    The client checks every given value (format, options, lengths, file types); with
    `enforce_required` it also refuses to send the form while a required input is empty.
    """
    inputs = [b for b in blocks if b.get("type") == "input" and isinstance(b.get("element"), dict)]
    by_action: dict[str, list[str]] = {}
    for block in inputs:
        by_action.setdefault(block["element"].get("action_id", ""), []).append(block["block_id"])
    chosen: dict[str, Any] = {}
    for key, value in values.items():
        if any(b["block_id"] == key for b in inputs):
            block_id = key
        elif len(by_action.get(key, [])) == 1:
            block_id = by_action[key][0]
        elif key in by_action:
            raise AssertionError(f"action_id {key!r} is in several inputs {by_action[key]}; use the block_id")
        else:
            fields = [b["block_id"] for b in inputs] + [a for a in by_action if a]
            raise AssertionError(f"no input {key!r} in this view; its inputs are {fields}")
        if block_id in chosen:
            raise AssertionError(f"input {block_id!r} given twice")
        chosen[block_id] = value
    state: dict[str, dict[str, Any]] = {}
    for block in inputs:
        element = block["element"]
        where = f"input {text_of(block.get('label'))!r} ({block['block_id']})"
        entry = state_entry(element, chosen.get(block["block_id"], _MISSING), where, exists, file_of)
        if enforce_required and not block.get("optional") and _is_empty(entry):
            raise AssertionError(f"{where} is required: Slack will not submit the form without it")
        state[block["block_id"]] = {element["action_id"]: entry}
    return state


def _is_empty(entry: dict[str, Any]) -> bool:
    return all(v in (None, [], "") for k, v in entry.items() if k != "type")


def find_actions(blocks: list[dict[str, Any]], action_id: str, block_id: str | None, value: str | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) pairs a person can act on with this action_id."""
    found = []
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        if block.get("type") == "input" and not block.get("dispatch_action"):
            continue  # inputs only fire block_actions with dispatch_action
        for element in interactive_elements(block):
            if element.get("action_id") != action_id:
                continue
            if value is not None and element.get("type") == "button" and element.get("value") != value:
                continue
            found.append((block, element))
    return found


def action_payload(block: dict[str, Any], element: dict[str, Any], selected: Any, action_ts: str,
                   exists: Callable[[str, str], bool]) -> dict[str, Any]:
    """actions[0] of a block_actions payload, as Slack builds it."""
    kind = element.get("type", "")
    action: dict[str, Any] = {"action_id": element["action_id"], "block_id": block["block_id"], "type": kind}
    where = f"{kind} {element['action_id']!r}"
    if kind == "button":
        action["text"] = copy.deepcopy(element.get("text"))
        for key in ("value", "style", "url"):
            if key in element:
                action[key] = element[key]
    else:
        if selected is None and kind not in _TEXT_INPUTS:
            raise AssertionError(f"{where}: pass selected_option_value= to choose something")
        entry = state_entry(element, selected, where, exists)
        entry.pop("type")
        action.update(entry)
        if "placeholder" in element:
            action["placeholder"] = copy.deepcopy(element["placeholder"])
    action["action_ts"] = action_ts
    return action
