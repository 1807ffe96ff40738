"""Block Kit checks: reject what Slack rejects, with Slack-style messages.

Slack answers a bad message with `invalid_blocks` and a bad view with `invalid_arguments`,
each with `response_metadata.messages` such as
"[ERROR] unsupported type: foo [json-pointer:/blocks/0/type]". We lean on slack_sdk's own
models (parse + to_dict runs its length/shape validators) and add the checks it lacks:
unknown types/properties/elements (the sdk silently drops them), strings where an object is
required, empty texts, plain_text-only fields, duplicate ids, and where file_input may appear
(only as an input block's element, only in modals).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from .model import ApiError

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40000
MAX_VIEW_BYTES = 250_000
MAX_FILE_INPUT_FILES = 10  # file_input max_files: 1..10, 10 when left out
# Image block (https://api.slack.com/reference/block-kit/blocks#image): alt_text required, up to
# 2,000 characters; image_url up to 3,000; title up to 2,000; exactly one of image_url and
# slack_file; available in messages, modals and Home tabs. slack_file
# (https://api.slack.com/reference/block-kit/composition-objects#slack_file): id or url, not both;
# png, jpg, jpeg or gif; "the user posting these blocks must have access to this file". Slack answers
# a file that fails this with "invalid slack file" (github.com/slackapi/python-slack-sdk/issues/1658).
MAX_ALT_TEXT, MAX_IMAGE_URL, MAX_IMAGE_TITLE = 2000, 3000, 2000
ImageFile = Callable[[Any], object]  # the file a slack_file names, if the app may show it; else None

# Fields where Slack only accepts a plain_text object (keyed by the owner's type).
_PLAIN_TEXT_ONLY = {
    "header": ("text",),
    "input": ("label", "hint"),
    "button": ("text",),
    "modal": ("title", "submit", "close"),
}
# Elements that carry state or fire block_actions, and so need an action_id.
_NO_ACTION_ID = {"image", "plain_text", "mrkdwn"}
_VIEW_KEYS = set(View.attributes) | {"submit_disabled"}


def _err(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _lost(given: Any, kept: Any, pointer: str, out: list[str]) -> None:
    """Report parts of `given` that slack_sdk dropped or reshaped: Slack rejects those."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            out.append(_err("unsupported element", pointer))
            return
        for key, value in given.items():
            if key not in kept:
                if value in (None, "", [], {}):
                    continue  # empty values are dropped by the sdk; checked elsewhere
                out.append(_err(f"unsupported property: {key}", f"{pointer}/{key}"))
            else:
                _lost(value, kept[key], f"{pointer}/{key}", out)
    elif isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            out.append(_err("unsupported element in array", pointer))
            return
        for i, (a, b) in enumerate(zip(given, kept)):
            _lost(a, b, f"{pointer}/{i}", out)
    elif isinstance(given, str) and isinstance(kept, dict):
        out.append(_err("must provide an object", pointer))


def _walk_texts(node: Any, pointer: str, out: list[str]) -> None:
    """Empty text objects and plain_text-only fields."""
    if isinstance(node, dict):
        kind = node.get("type")
        if kind in ("plain_text", "mrkdwn"):
            text = node.get("text")
            if not isinstance(text, str) or text == "":
                out.append(_err("must be more than 0 characters", f"{pointer}/text"))
            return
        for key, value in node.items():
            child = f"{pointer}/{key}"
            if key in _PLAIN_TEXT_ONLY.get(str(kind), ()) and isinstance(value, dict):
                if value.get("type") != "plain_text":
                    out.append(_err("must be a plain_text text object", child))
            if key == "placeholder" and isinstance(value, dict) and value.get("type") != "plain_text":
                out.append(_err("must be a plain_text text object", child))
            _walk_texts(value, child, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk_texts(value, f"{pointer}/{i}", out)


def interactive_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The elements of a block that can carry an action_id."""
    found: list[dict[str, Any]] = []
    kind = block.get("type")
    if kind in ("actions", "context_actions"):
        found = [e for e in block.get("elements") or [] if isinstance(e, dict)]
    elif kind == "section" and isinstance(block.get("accessory"), dict):
        found = [block["accessory"]]
    elif kind == "input" and isinstance(block.get("element"), dict):
        found = [block["element"]]
    return [e for e in found if e.get("type") not in _NO_ACTION_ID]


def _file_input_problems(block: dict[str, Any], pointer: str, surface: str) -> list[str]:
    """file_input lives only in an input block of a modal, with 1..10 max_files."""
    problems: list[str] = []
    if block.get("type") == "input":
        element = block.get("element")
        if not isinstance(element, dict) or element.get("type") != "file_input":
            return []
        here = f"{pointer}/element"
        if surface != "modal":
            problems.append(_err(f"file_input is only supported in modals, not in a {surface}", f"{here}/type"))
        max_files = element.get("max_files")
        if max_files is not None and (not isinstance(max_files, int) or isinstance(max_files, bool)
                                      or not 1 <= max_files <= MAX_FILE_INPUT_FILES):
            problems.append(_err(f"max_files must be between 1 and {MAX_FILE_INPUT_FILES}", f"{here}/max_files"))
        filetypes = element.get("filetypes")
        if filetypes is not None and (not isinstance(filetypes, list)
                                      or not all(isinstance(t, str) and t for t in filetypes)):
            problems.append(_err("filetypes must be an array of file extensions", f"{here}/filetypes"))
        return problems
    for element in interactive_elements(block):
        if element.get("type") == "file_input":
            problems.append(_err("file_input can only be used as the element of an input block", pointer))
    return problems


def _image_problems(block: dict[str, Any], pointer: str, image_file: ImageFile | None) -> list[str]:
    """An image block's own rules (see MAX_ALT_TEXT); `image_file` resolves a slack_file."""
    if block.get("type") != "image":
        return []
    problems: list[str] = []
    alt_text = block.get("alt_text")
    if not isinstance(alt_text, str) or not alt_text.strip():
        problems.append(_err("missing required field: alt_text", f"{pointer}/alt_text"))
    elif len(alt_text) > MAX_ALT_TEXT:
        problems.append(_err(f"must be less than {MAX_ALT_TEXT + 1} characters", f"{pointer}/alt_text"))
    url, slack_file = block.get("image_url"), block.get("slack_file")
    if (url is None) == (slack_file is None):
        problems.append(_err("must provide exactly one of image_url or slack_file", pointer))
    if isinstance(url, str) and len(url) > MAX_IMAGE_URL:
        problems.append(_err(f"must be less than {MAX_IMAGE_URL + 1} characters", f"{pointer}/image_url"))
    title = block.get("title")
    if isinstance(title, dict) and isinstance(title.get("text"), str) and len(title["text"]) > MAX_IMAGE_TITLE:
        problems.append(_err(f"must be less than {MAX_IMAGE_TITLE + 1} characters", f"{pointer}/title/text"))
    if slack_file is not None:
        named = isinstance(slack_file, dict) and (isinstance(slack_file.get("id"), str)
                                                  != isinstance(slack_file.get("url"), str))
        if not named or (image_file is not None and image_file(slack_file) is None):
            problems.append(_err("invalid slack file", f"{pointer}/slack_file"))
    return problems


def block_problems(blocks: Any, pointer: str, limit: int, *, surface: str = "message",
                   image_file: ImageFile | None = None) -> list[str]:
    """Everything Slack would object to in a blocks array (empty list = fine).

    `surface` is "message", "modal" or "home": some elements only work on some surfaces.
    `image_file` resolves an image block's slack_file (LocalSlack._image_file).
    """
    if not isinstance(blocks, list):
        return [_err("must provide an array", pointer)]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(_err(f"no more than {limit} items allowed", pointer))
    seen_block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        here = f"{pointer}/{i}"
        if not isinstance(block, dict):
            problems.append(_err("must provide an object", here))
            continue
        if "type" not in block:
            problems.append(_err("missing required field: type", here))
            continue
        image = _image_problems(block, here, image_file)
        if image:
            problems += image
            continue
        try:
            parsed = Block.parse(copy.deepcopy(block))
            if parsed is None:
                problems.append(_err(f"unsupported type: {block['type']}", f"{here}/type"))
                continue
            kept = parsed.to_dict()
        except Exception as exc:  # the sdk's validators raise SlackObjectFormationError, bad kwargs TypeError
            problems.append(_err(str(exc), here))
            continue
        _lost(block, kept, here, problems)
        _walk_texts(block, here, problems)
        problems += _file_input_problems(block, here, surface)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                problems.append(_err(f"duplicate block_id: {block_id}", f"{here}/block_id"))
            seen_block_ids.add(block_id)
        # Slack's block element reference (https://api.slack.com/reference/block-kit/block-elements):
        # an action_id "should be unique among all other action_ids in the containing block"; a message
        # with two in one block is refused with invalid_blocks. Across blocks they may repeat (block_id
        # tells them apart), so a message of many rows may carry one row menu's action_id in each.
        seen_action_ids: set[str] = set()
        for key, element in enumerate(block.get("elements") or []):
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str) and action_id in seen_action_ids:
                problems.append(_err(f"duplicate action_id within a block: {action_id}",
                                     f"{here}/elements/{key}/action_id"))
            if isinstance(action_id, str):
                seen_action_ids.add(action_id)
    return problems


def decode_json_arg(value: Any, error: str, name: str) -> Any:
    """Form bodies carry blocks/view as JSON strings; JSON bodies may too."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error, _err("invalid JSON", f"/{name}")) from None
    return value


def with_ids(blocks: list[dict[str, Any]], new_id: Callable[[], str]) -> list[dict[str, Any]]:
    """A copy with block_id / action_id filled in where missing, as Slack stores blocks."""
    out = copy.deepcopy(blocks)
    for block in out:
        block.setdefault("block_id", new_id())
        for element in interactive_elements(block):
            element.setdefault("action_id", new_id())
    return out


def check_message_content(text: Any, blocks: Any, new_id: Callable[[], str], *,
                          image_file: ImageFile | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Validate chat.* content; returns (text, blocks with ids). Raises ApiError."""
    blocks = decode_json_arg(blocks, "invalid_blocks_format", "blocks")
    if (text is None or text == "") and not blocks:
        raise ApiError("no_text")
    if text is not None and not isinstance(text, str):
        text = str(text)
    if text and len(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    if blocks is None or blocks == []:
        return text or "", []
    problems = block_problems(blocks, "/blocks", MAX_MESSAGE_BLOCKS, image_file=image_file)
    if problems:
        raise ApiError("invalid_blocks", *problems)
    return text or "", with_ids(blocks, new_id)


def check_view(view: Any, expected_type: str, new_id: Callable[[], str], *,
               image_file: ImageFile | None = None) -> dict[str, Any]:
    """Validate a view for views.* or a response_action; returns a normalized copy.

    Slack answers every view problem with `invalid_arguments` plus messages.
    """
    view = decode_json_arg(view, "invalid_arguments", "view")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments", _err("must provide an object", "/view"))
    problems: list[str] = []
    kind = view.get("type")
    if kind != expected_type:
        problems.append(_err(f"view type must be '{expected_type}', got {kind!r}", "/view/type"))
    unknown = sorted(set(view) - _VIEW_KEYS)
    problems += [_err(f"unsupported property: {k}", f"/view/{k}") for k in unknown]
    blocks = view.get("blocks")
    if blocks is None:
        problems.append(_err("missing required field: blocks", "/view/blocks"))
    else:
        problems += block_problems(blocks, "/view/blocks", MAX_VIEW_BLOCKS, surface=str(kind), image_file=image_file)
    if kind == "modal":
        if not view.get("title"):
            problems.append(_err("missing required field: title", "/view/title"))
        has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and not view.get("submit"):
            problems.append(_err("submit is required when the view has input blocks", "/view/submit"))
    if kind == "home" and (view.get("submit") or view.get("close")):
        problems.append(_err("home views cannot have submit or close", "/view"))
    _walk_texts({k: v for k, v in view.items() if k != "blocks"}, "/view", problems)
    if not problems:
        try:
            View(**copy.deepcopy(view)).to_dict()
        except Exception as exc:
            problems.append(_err(str(exc), "/view"))
    if not problems and len(json.dumps(view)) > MAX_VIEW_BYTES:
        raise ApiError("view_too_large")
    if problems:
        raise ApiError("invalid_arguments", *problems)
    out = {k: copy.deepcopy(v) for k, v in view.items() if k in _VIEW_KEYS}
    out["blocks"] = with_ids(view["blocks"], new_id)
    return out
