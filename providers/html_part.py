"""The text/html copy of a tracked email (OutgoingEmail.tracking_image_url): the same text, escaped,
its line breaks kept and its links clickable (the opt-out link among them), ending with the 1×1
tracking image. Built only for tracked emails: an untracked one stays text/plain alone."""
from __future__ import annotations

import html
import re

# A URL as plain-text mail apps find one: up to a space or an angle bracket, without the sentence's
# closing punctuation.
_URL = re.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?)\]']*(?:\s|$))")

_SPACES = re.compile(r" (?= )")  # each space before another: the last of a run stays a breaking space


def _line(text: str) -> str:
    """One line of the text, escaped; its URLs as links; runs of spaces kept (HTML would merge them)."""
    out, at = [], 0
    for found in _URL.finditer(text):
        out.append(html.escape(text[at:found.start()], quote=False))
        url = html.escape(found.group(), quote=True)
        out.append(f'<a href="{url}">{url}</a>')
        at = found.end()
    out.append(html.escape(text[at:], quote=False))
    return _SPACES.sub("&nbsp;", "".join(out))


def html_part(body: str, image_url: str) -> str:
    """The HTML document: each line of `body` followed by <br>, then the image, which shows nothing (no
    border, no size beyond one pixel, no alt text to show when images are blocked)."""
    lines = body.replace("\r\n", "\n").rstrip("\n").split("\n")
    text = "<br>\n".join(_line(line) for line in lines)
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
            f'<div>{text}</div>\n<img src="{html.escape(image_url, quote=True)}" width="1" height="1" alt="">\n'
            "</body></html>\n")
