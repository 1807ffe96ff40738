"""Slack requests that Bolt cannot parse are answered 400 before they reach it.

Bolt reads the body and the payload's shape without checking it: a non-numeric
`X-Slack-Request-Timestamp` (its signature check calls int() on it), a body that is not UTF-8, a
`payload=` that is not a JSON object, or a view without its `type` each raised out of Bolt, and the
server answered 500. Slack never sends these, so a 400 with a short reason is the right answer. What
Bolt can parse goes on to it unchanged, so its signature check (401) stays as it is.
"""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("outreach.web")

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

MAX_BODY = 1_000_000  # Slack's largest payloads (a modal's state) are tens of KB


def _shape_problem(body: Any) -> str | None:
    """The parts of a payload Bolt indexes without looking first."""
    if not isinstance(body, dict):
        return "the payload is not a JSON object"
    if "type" in body and not isinstance(body["type"], str):
        return "the payload's type is not text"
    event = body.get("event")
    if "event" in body and not (isinstance(event, dict) and isinstance(event.get("type"), str)):
        return "the event has no type"
    view = body.get("view")
    if "view" in body and not (isinstance(view, dict) and isinstance(view.get("type"), str)
                               and isinstance(view.get("callback_id", ""), str)):
        return "the view has no type"
    actions = body.get("actions")
    if "actions" in body and not (isinstance(actions, list) and actions and all(isinstance(a, dict) for a in actions)):
        return "the actions are not a list of objects"
    return None


def problem(environ: dict[str, Any], raw: bytes) -> str | None:
    """Why Bolt could not read this request, or None."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
    if timestamp is not None and not (timestamp.isascii() and timestamp.isdigit()):
        return "X-Slack-Request-Timestamp is not a number"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    content_type = environ.get("CONTENT_TYPE", "")
    try:
        if content_type.startswith("application/json"):
            return _shape_problem(json.loads(text))
        payload = parse_qs(text).get("payload")
        return _shape_problem(json.loads(payload[0])) if payload else None
    except ValueError:
        return "the payload is not JSON"


def _answer(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode()]


def guarded(slack: Wsgi) -> Wsgi:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(start_response, "400 Bad Request", "bad request: Content-Length is not a number")
        if length > MAX_BODY:
            return _answer(start_response, "413 Payload Too Large", "request too large")
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)  # Bolt reads it again
        reason = problem(environ, raw)
        if reason is not None:
            log.warning("refused a malformed Slack request: %s", reason)
            return _answer(start_response, "400 Bad Request", f"bad request: {reason}")
        try:
            return slack(environ, start_response)
        except Exception as exc:  # noqa: BLE001 - Bolt raised while reading the request (listeners' errors are
            # handled inside Bolt): the request is what is wrong, so the answer is 400, with our log keeping why
            log.warning("refused a Slack request Bolt could not read: %r", exc)
            return _answer(start_response, "400 Bad Request", "bad request: not a Slack request this app can read")

    return application
