"""Plain-text rendering of Block Kit for a terminal demo transcript.

Not a faithful picture of Slack, just enough to read what each person would see:
buttons as `[ Text ]`, inputs with their type/initial value/placeholder, select options.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .model import Activity

UserName = Callable[[str], "str | None"]
ChannelName = Callable[[str], "str | None"]
_RULE = "-" * 40


def render_mrkdwn(text: str, user_name: UserName | None = None) -> str:
    """Slack's <...> escapes made readable; everything else is left as written."""

    def readable(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            name = user_name(target[1:]) if user_name else None
            return f"@{name}" if name else (f"@{label}" if label else match.group(0))
        if target.startswith("#"):
            return f"#{label}" if label else match.group(0)
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label else target

    text = re.sub(r"<([^<>\s][^<>]*)>", readable, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any, user_name: UserName | None) -> str:
    if isinstance(obj, dict):
        value = str(obj.get("text", ""))
        return render_mrkdwn(value, user_name) if obj.get("type") == "mrkdwn" else value
    return "" if obj is None else str(obj)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _options(element: dict[str, Any], chosen: set[str], user_name: UserName | None) -> list[str]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return [f"    ({'*' if o.get('value') in chosen else ' '}) {_text(o.get('text'), user_name)}" for o in options]


def render_element(element: dict[str, Any], user_name: UserName | None = None) -> str:
    kind = element.get("type", "")
    placeholder = _text(element.get("placeholder"), user_name)
    if kind == "button":
        return f"[ {_text(element.get('text'), user_name)} ]"
    if kind == "overflow":
        return "[ ... ]\n" + "\n".join(_options(element, set(), user_name))
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "file_input":
        limit = int(element.get("max_files") or 10)
        accepts = ", ".join("." + str(t).lstrip(".") for t in element.get("filetypes") or []) or "any file"
        return f"[file_input] (accepts {accepts}; up to {limit} file{'s' if limit != 1 else ''})"
    if kind in ("static_select", "multi_static_select", "radio_buttons", "checkboxes", "external_select"):
        initial = [element["initial_option"]] if element.get("initial_option") else element.get("initial_options") or []
        chosen = {o.get("value") for o in initial}
        shown = ", ".join(_text(o.get("text"), user_name) for o in initial) or placeholder or "Select"
        head = f"[{kind}] {shown}" if kind in ("radio_buttons", "checkboxes") else f"[ {shown} v ]"
        return "\n".join([head, *_options(element, chosen, user_name)])
    initial = next((element[k] for k in element if k.startswith("initial_")), None)
    parts = [f"[{kind}{' multiline' if element.get('multiline') else ''}]"]
    if initial not in (None, "", []):
        shown = ", ".join(f"<@{i}>" if "user" in kind else str(i) for i in (initial if isinstance(initial, list) else [initial]))
        parts.append(f'"{render_mrkdwn(shown, user_name)}"')
    elif placeholder:
        parts.append(f"(placeholder: {placeholder})")
    return " ".join(parts)


def _rich_text(node: Any, user_name: UserName | None) -> str:
    if isinstance(node, list):
        return "".join(_rich_text(n, user_name) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "link":
        return f"{node.get('text') or node.get('url')} ({node.get('url')})" if node.get("text") else str(node.get("url"))
    if kind == "user":
        return render_mrkdwn(f"<@{node.get('user_id')}>", user_name)
    if kind == "emoji":
        return f":{node.get('name')}:"
    inner = _rich_text(node.get("elements") or [], user_name)
    return inner + ("\n" if kind in ("rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote") else "")


def render_block(block: dict[str, Any], user_name: UserName | None = None) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"# {_text(block.get('text'), user_name)}"
    if kind == "divider":
        return _RULE
    if kind == "section":
        lines = [_text(block.get("text"), user_name)] if block.get("text") else []
        lines += [_indent(_text(f, user_name), "  ") for f in block.get("fields") or []]
        if isinstance(block.get("accessory"), dict):
            lines.append(_indent(render_element(block["accessory"], user_name), "  "))
        return "\n".join(lines)
    if kind == "context":
        parts = [render_element(e, user_name) if e.get("type") == "image" else _text(e, user_name)
                 for e in block.get("elements") or []]
        return "  " + " | ".join(parts)
    if kind == "actions":
        rendered = [render_element(e, user_name) for e in block.get("elements") or []]
        heads = "  ".join(r.splitlines()[0] for r in rendered)
        tails = [line for r in rendered for line in r.splitlines()[1:]]
        return "\n".join([heads, *tails])
    if kind == "input":
        label = _text(block.get("label"), user_name) + ("" if not block.get("optional") else " (optional)")
        lines = [f"{label}:", _indent(render_element(block.get("element") or {}, user_name), "  ")]
        if block.get("hint"):
            lines.append(f"  ({_text(block['hint'], user_name)})")
        return "\n".join(lines)
    if kind == "image":
        return f"[image: {block.get('alt_text', '')}]"
    if kind == "markdown":
        return render_mrkdwn(str(block.get("text", "")), user_name)
    if kind == "rich_text":
        return _rich_text(block.get("elements") or [], user_name).rstrip("\n")
    return f"[{kind} block]"


def render_blocks(blocks: list[dict[str, Any]] | None, user_name: UserName | None = None) -> str:
    return "\n".join(render_block(b, user_name) for b in blocks or [])


def render_view(view: dict[str, Any], user_name: UserName | None = None) -> str:
    if view.get("type") == "home":
        head = "=== Home ==="
    else:
        head = f"=== {_text(view.get('title'), user_name)} (modal) ==="
    lines = [head, render_blocks(view.get("blocks"), user_name)]
    if view.get("type") == "modal":  # Slack shows "Cancel" when a modal sets no close text
        buttons = [f"[ {_text(view.get('close'), user_name) or 'Cancel'} ]"]
        if view.get("submit"):
            buttons.append(f"[ {_text(view['submit'], user_name)} ]")
        lines.append("  ".join(buttons))
    return "\n".join(lines)


def _file_line(file: dict[str, Any]) -> str:
    return f"[file: {file.get('name')} ({file.get('pretty_type')}, {file.get('size')} bytes)]"


def render_activity(activity: Activity, user_name: UserName | None = None, channel_name: ChannelName | None = None) -> str:
    """One transcript entry: who did what, or what who sees."""
    who = (user_name(activity.user) if user_name and activity.user else None) or activity.user or "?"
    where = ""
    if activity.channel:
        name = channel_name(activity.channel) if channel_name else None
        if activity.channel.startswith("D"):  # the bot's DM with a person ("D" + their user id): name them,
            person = activity.channel[1:]     # not whoever acted (an edit by the bot has no actor)
            where = f"DM with bot ({(user_name(person) if user_name else None) or person})"
        else:
            where = f"#{name or activity.channel}"
    data, kind = activity.data, activity.kind
    if kind == "command":
        return f"{who} runs `{activity.text}` in {where}"
    if kind == "click":
        return f"{who} clicks [ {activity.text} ]"
    if kind == "submit":
        return f"{who} submits the {activity.text!r} form"
    if kind == "close":
        return f"{who} closes the {activity.text!r} modal"
    if kind == "home_opened":
        return f"{who} opens the bot's Home tab"
    if kind == "upload":
        comment = data.get("message", {}).get("text") or ""
        lines = [f"[{where}] {who} shares a file:", _indent(_file_line(data.get("file", {})))]
        if comment:
            lines.append(_indent(render_mrkdwn(comment, user_name)))
        return "\n".join(lines)
    if kind in ("message", "message_updated"):
        message = data.get("message", {})
        body = render_blocks(message.get("blocks"), user_name) if message.get("blocks") else render_mrkdwn(message.get("text", ""), user_name)
        body = "\n".join([body, *(_file_line(f) for f in message.get("files") or [])]).strip("\n")
        poster = message.get("user")
        author = "bot" if message.get("bot_id") or not poster else (user_name(poster) if user_name else None) or poster
        label = "" if kind == "message" else " (edited)"
        return f"[{where}] {author}{label}:\n{_indent(body)}"
    if kind == "message_deleted":
        return f"[{where}] a bot message was deleted"
    if kind == "ephemeral":
        body = render_blocks(data.get("blocks"), user_name) if data.get("blocks") else render_mrkdwn(data.get("text", ""), user_name)
        return f"[{where}, only {who} sees] bot:\n{_indent(body)}"
    if kind in ("view_opened", "view_pushed", "view_updated", "home_published"):
        verb = {"view_opened": "sees a modal", "view_pushed": "sees a pushed modal",
                "view_updated": "sees the modal change", "home_published": "sees the Home tab"}[kind]
        return f"{who} {verb}:\n{_indent(render_view(data['view'], user_name))}"
    if kind == "view_closed":
        return f"{who}'s modal closes ({activity.text})"
    return f"{kind}: {activity.text}"
