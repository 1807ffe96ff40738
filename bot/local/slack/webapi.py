"""The Web API methods LocalSlack serves, with Slack's error codes.

Each method takes the workspace and the merged request params, returns the success body
(without "ok") or raises ApiError. `call()` does what Slack does before any method runs, in order:
the method must exist (unknown_method), the token must be the bot's (not_authed / invalid_auth),
the call must be within the method's rate limit (HTTP 429, ratelimited: ratelimits.py), the
token must have the method's scope (missing_scope, with needed/provided: manifest.py, spec.py),
and every required argument must be there (invalid_arguments, "[ERROR] missing required field:
<name>": spec.py). An argument that is there but names nothing gets the method's own error
(channel_not_found, user_not_found, ...), as Slack answers: absent is invalid_arguments, present
but unresolvable is the method's error (Slack's answers as measured in
https://github.com/brekkylab/backlot/issues/84 and https://github.com/vluzrmos/laravel-slack-api/issues/38).
"""
from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, unquote

from . import spec
from .files import sign_in_page
from .model import Call, ApiError, Channel
from .ratelimits import POST_MESSAGE, RateLimited
from .uploads import complete_upload_external, files_delete, get_upload_url_external
from .validation import check_message_content, check_view, decode_json_arg

if TYPE_CHECKING:
    from .workspace import LocalSlack

Params = dict[str, Any]
Method = Callable[["LocalSlack", Params], dict[str, Any]]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def auth_test(ws: LocalSlack, p: Params) -> dict[str, Any]:
    return {
        "url": ws.base_url,
        "team": ws.team_name,
        "user": ws.user_name(ws.bot_user_id),
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _writable(channel: Channel) -> Channel:
    if channel.is_archived:
        raise ApiError("is_archived")  # chat.postMessage / chat.postEphemeral: is_archived
    return channel


def chat_post_message(ws: LocalSlack, p: Params) -> dict[str, Any]:
    channel = _writable(ws._resolve_channel(p.get("channel")))
    if ws.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    text, blocks = check_message_content(p.get("text"), p.get("blocks"), ws._new_id, image_file=ws._image_file)
    metadata = decode_json_arg(p.get("metadata"), "invalid_metadata_format", "metadata")
    thread_ts = p.get("thread_ts") or None
    message = ws._post_message(channel, text, blocks, thread_ts, metadata)
    return {"channel": channel.id, "ts": message.ts, "message": ws._message_json(message)}


def chat_post_ephemeral(ws: LocalSlack, p: Params) -> dict[str, Any]:
    user = ws._require_user(p.get("user"))
    channel = _writable(ws._resolve_channel(p.get("channel")))
    if channel.is_im:
        if channel.im_user != user.id:
            raise ApiError("user_not_in_channel")
    else:
        if ws.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
        if user.id not in channel.members:
            raise ApiError("user_not_in_channel")
    text, blocks = check_message_content(p.get("text"), p.get("blocks"), ws._new_id, image_file=ws._image_file)
    ephemeral = ws._post_ephemeral(channel.id, user.id, text, blocks, "chat.postEphemeral", p.get("thread_ts") or None)
    return {"message_ts": ephemeral.ts}


def _own_message(ws: LocalSlack, p: Params, refusal: str):  # type: ignore[no-untyped-def]
    channel = ws._channel_for_bot(p.get("channel"))  # chat.update/delete take ids only
    message = ws._find_message(channel.id, p.get("ts"))
    if message is None:  # never posted, or gone (deleted, retention): chat.update / chat.delete errors
        raise ApiError("message_not_found")
    if message.user != ws.bot_user_id:
        raise ApiError(refusal)
    return channel, message


def chat_update(ws: LocalSlack, p: Params) -> dict[str, Any]:
    channel, message = _own_message(ws, p, "cant_update_message")
    text = p.get("text")
    raw_blocks = decode_json_arg(p.get("blocks"), "invalid_blocks_format", "blocks")
    if text is None and raw_blocks is None:
        raise ApiError("no_text")
    # [] removes the blocks; leaving blocks out keeps them (as Slack does); same for text
    new_text = text if text is not None else message.text
    new_blocks = raw_blocks if raw_blocks is not None else message.blocks
    new_text, new_blocks = check_message_content(new_text, new_blocks, ws._new_id, image_file=ws._image_file)
    ws._update_message(message, new_text, new_blocks)
    return {"channel": channel.id, "ts": message.ts, "text": message.text,
            "message": ws._message_json(message)}


def chat_delete(ws: LocalSlack, p: Params) -> dict[str, Any]:
    channel, message = _own_message(ws, p, "cant_delete_message")
    ws._delete_message(message)
    return {"channel": channel.id, "ts": message.ts}


def conversations_open(ws: LocalSlack, p: Params) -> dict[str, Any]:
    if p.get("channel"):
        channel = ws._channel_for_bot(p["channel"])
        if not channel.is_im:
            raise ApiError("method_not_supported_for_channel_type")
        return {"channel": {"id": channel.id}}
    users = [u.strip() for u in str(p.get("users") or "").split(",") if u.strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    for user in users:
        if ws._require_user(user).deleted:
            raise ApiError("user_disabled")  # conversations.open: user_disabled
    if len(users) > 1:  # group DMs are not modelled
        raise ApiError("invalid_arguments", "[ERROR] LocalSlack only supports 1:1 DMs with the bot")
    existed = ("D" + users[0]) in ws._channels
    channel_id = ws.dm_channel(users[0])
    body: dict[str, Any] = {"channel": {"id": channel_id}}
    if existed:
        body.update(no_op=True, already_open=True)
    if _truthy(p.get("return_im")):
        body["channel"].update(is_im=True, user=users[0], created=int(ws.wallclock()))
    return body


def users_info(ws: LocalSlack, p: Params) -> dict[str, Any]:
    return {"user": ws._user_json(ws._require_user(p.get("user")))}


def users_lookup_by_email(ws: LocalSlack, p: Params) -> dict[str, Any]:
    email = str(p.get("email") or "").lower()
    for user in ws._users.values():
        if user.email and user.email.lower() == email:
            return {"user": ws._user_json(user)}
    raise ApiError("users_not_found")


def conversations_info(ws: LocalSlack, p: Params) -> dict[str, Any]:
    channel = ws._channel_for_bot(p.get("channel"))  # a private channel the bot is not in: channel_not_found
    # Private channels made since March 2021 have C ids and is_channel true; older ones (G ids) are
    # is_group instead (https://api.slack.com/types/conversation).
    legacy_group = channel.is_private and channel.id.startswith("G")
    body = {"id": channel.id, "name": channel.name, "is_channel": not channel.is_im and not legacy_group,
            "is_group": legacy_group, "is_im": channel.is_im, "is_private": channel.is_private,
            "is_archived": channel.is_archived, "is_member": ws.bot_user_id in channel.members}
    if channel.is_im:
        body["user"] = channel.im_user
    return {"channel": body}


def _trigger(p: Params) -> Any:
    return p.get("trigger_id") or p.get("interactivity_pointer")


def views_open(ws: LocalSlack, p: Params) -> dict[str, Any]:
    spec = check_view(p.get("view"), "modal", ws._new_id, image_file=ws._image_file)
    user = ws._take_trigger(_trigger(p))
    return {"view": ws._open_modal(user, spec, push=False)}


def views_push(ws: LocalSlack, p: Params) -> dict[str, Any]:
    spec = check_view(p.get("view"), "modal", ws._new_id, image_file=ws._image_file)
    user = ws._take_trigger(_trigger(p))
    return {"view": ws._open_modal(user, spec, push=True)}


def views_update(ws: LocalSlack, p: Params) -> dict[str, Any]:
    if not p.get("view_id") and not p.get("external_id"):
        raise ApiError("invalid_arguments", "[ERROR] either view_id or external_id is required")
    view_id = ws._find_view_id(p.get("view_id"), p.get("external_id"))
    current = ws._views[view_id]
    spec = check_view(p.get("view"), current["type"], ws._new_id, image_file=ws._image_file)
    return {"view": ws._replace_view(view_id, spec, p.get("hash"))}


def views_publish(ws: LocalSlack, p: Params) -> dict[str, Any]:
    user = ws._require_user(p.get("user_id"))
    spec = check_view(p.get("view"), "home", ws._new_id, image_file=ws._image_file)
    return {"view": ws._publish_home(user.id, spec, p.get("hash"))}


def files_info(ws: LocalSlack, p: Params) -> dict[str, Any]:
    record = ws._file_for_bot(p.get("file"))
    return {"file": ws._file_json(record), "comments": [], "response_metadata": {"next_cursor": ""}}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "conversations.open": conversations_open,
    "conversations.info": conversations_info,
    "files.info": files_info,
    "files.getUploadURLExternal": get_upload_url_external,
    "files.completeUploadExternal": complete_upload_external,
    "files.delete": files_delete,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}


# An argument that stands in for a required one (views.open/push take interactivity_pointer in
# place of trigger_id: https://api.slack.com/methods/views.open).
_ALTERNATIVES = {("views.open", "trigger_id"): "interactivity_pointer",
                 ("views.push", "trigger_id"): "interactivity_pointer"}


def _check_required(method: str, p: Params) -> None:
    """An absent required argument is invalid_arguments; an empty one is left to the method."""
    for name in spec.required(method):
        if name in p or _ALTERNATIVES.get((method, name)) in p:
            continue
        raise ApiError("invalid_arguments", f"[ERROR] missing required field: {name}")


def _conversation_kind(ws: LocalSlack, method: str, p: Params) -> str | None:
    """Which conversations:* scope applies: the kind of the conversation the call is about."""
    if method == "conversations.open" and not p.get("channel"):
        return "im"
    channel = ws._channels.get(p.get("channel")) if isinstance(p.get("channel"), str) else None
    if channel is None:
        ref = str(p.get("channel") or "")
        return "im" if ref.startswith("D") else "private" if ref.startswith("G") else "public"
    return "im" if channel.is_im else "private" if channel.is_private else "public"


def _check_scope(ws: LocalSlack, method: str, p: Params) -> None:
    needed = spec.needed_scope(method, _conversation_kind(ws, method, p))
    if needed is not None and needed not in ws.manifest.bot_scopes:
        raise _MissingScope(needed, ",".join(sorted(ws.manifest.bot_scopes)))


class _MissingScope(ApiError):
    """missing_scope names the scope the call needs and those the token has, as Slack answers it."""

    def __init__(self, needed: str, provided: str) -> None:
        super().__init__("missing_scope")
        self.needed, self.provided = needed, provided


def _rate_key(ws: LocalSlack, method: str, p: Params) -> str | None:
    """chat.postMessage is limited per channel: the channel the call resolves to, if any."""
    if method != POST_MESSAGE:
        return None
    try:
        return ws._resolve_channel(p.get("channel")).id
    except ApiError:
        return str(p.get("channel"))


def call(ws: LocalSlack, method: str, params: Params, token: str | None) -> dict[str, Any]:
    """Run one Web API call as Slack would (see the module's docstring); the JSON body answered."""
    return call_http(ws, method, params, token)[1]


def call_http(ws: LocalSlack, method: str, params: Params,
              token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """As call(), with the HTTP status and headers: 429 and Retry-After when rate limited, else 200
    (Slack answers every other error with 200 and ok: false)."""
    recorded = {k: copy.deepcopy(v) for k, v in params.items() if k != "token"}
    status, headers = 200, {}
    try:
        impl = METHODS.get(method)
        if impl is None:
            raise ApiError("unknown_method")
        if not token:
            raise ApiError("not_authed")
        if token != ws.bot_token:
            raise ApiError("invalid_auth")
        with ws._lock:  # one call at a time: methods are quick and touch shared state
            ws._limiter.check(method, _rate_key(ws, method, params))
            _check_scope(ws, method, params)
            _check_required(method, params)
            body: dict[str, Any] = {"ok": True, **impl(ws, params)}
    except RateLimited as exc:
        status, headers = 429, {"Retry-After": str(exc.retry_after)}
        body = {"ok": False, "error": "ratelimited"}
    except ApiError as exc:
        body = {"ok": False, "error": exc.code}
        if isinstance(exc, _MissingScope):
            body.update(needed=exc.needed, provided=exc.provided)
        if exc.messages:
            body["response_metadata"] = {"messages": exc.messages}
        if exc.code == "unknown_method":
            body["req_method"] = method
    ws._record_call(Call(method, recorded, body["ok"], body.get("error"), copy.deepcopy(body)))
    return status, body, headers


DOWNLOAD_METHOD = "files.download"  # how downloads of url_private(_download) show in ws.calls
_FILE_PATH = re.compile(r"/files-pri/(?P<team>[A-Z0-9]+)-(?P<file>F[A-Z0-9]+)/(?P<download>download/)?(?P<name>[^/]+)")


def download_file(ws: LocalSlack, path: str, authorization: str) -> tuple[int, bytes, dict[str, str]]:
    """A GET of a file's url_private / url_private_download. Returns (HTTP status, body, headers).

    Only `Authorization: Bearer <bot token>` gets the bytes; anything else gets Slack's sign-in
    page with HTTP 200, so a bot must look at what it received, not just the status.
    """
    match = _FILE_PATH.fullmatch(path)
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    params: dict[str, Any] = {"url": path, "file": match["file"] if match else None,
                              "download": bool(match and match["download"])}
    html = {"Content-Type": "text/html; charset=utf-8"}
    if not token or token != ws.bot_token:
        ws._record_call(Call(DOWNLOAD_METHOD, params, False, "not_authed" if not token else "invalid_auth"))
        return 200, sign_in_page(ws.team_name, ws.team_domain), html
    with ws._lock:
        try:
            if match is None or match["team"] != ws.team_id:
                raise ApiError("file_not_found")
            record = ws._file_for_bot(match["file"])
        except ApiError as exc:
            ws._record_call(Call(DOWNLOAD_METHOD, params, False, exc.code))
            return 404, b"<!DOCTYPE html><html><body><h1>File not found</h1></body></html>", html
        content, mimetype, name = record.content, record.mimetype, record.name
    headers = {"Content-Type": mimetype}
    if match["download"]:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    served = {"name": unquote(match["name"]), "size": len(content)}
    ws._record_call(Call(DOWNLOAD_METHOD, params, True, response=served))
    return 200, content, headers


def post_to_response_url(ws: LocalSlack, token: str, payload: Any) -> tuple[int, str]:
    """A POST to a response_url (what Bolt's respond() sends). Returns (HTTP status, body).

    Slack answers 200 "ok", or 404/400 with a bare error code as the body.
    """
    try:
        if not isinstance(payload, dict):
            raise ApiError("invalid_payload")
        with ws._lock:
            hook = ws._take_hook(token)
            _apply_response(ws, hook, payload)
        status, text, ok, error = 200, "ok", True, None
    except ApiError as exc:
        gone = exc.code in ("no_active_hooks", "expired_url", "used_url")
        status, text, ok, error = (404 if gone else 400), exc.code, False, exc.code
    recorded = copy.deepcopy(payload) if isinstance(payload, dict) else {"payload": payload}
    ws._record_call(Call("response_url", recorded, ok, error))
    return status, text


def _apply_response(ws: LocalSlack, hook: Any, payload: Params) -> None:
    original = None
    if hook.message_ts is not None and not hook.ephemeral:
        original = ws._find_message(hook.channel, hook.message_ts)
    ephemeral = None
    if hook.message_ts is not None and hook.ephemeral:
        ephemeral = next((e for e in ws._ephemerals if e.ts == hook.message_ts and e.user == hook.user), None)
    if _truthy(payload.get("delete_original")):
        if original is not None:
            ws._delete_message(original)
        elif ephemeral is not None:
            ws._ephemerals.remove(ephemeral)
            ws._record("message_deleted", hook.user, hook.channel, ephemeral.text, {"ts": ephemeral.ts, "ephemeral": True})
        else:
            raise ApiError("message_not_found")
        return
    text, blocks = check_message_content(payload.get("text"), payload.get("blocks"), ws._new_id, image_file=ws._image_file)
    if _truthy(payload.get("replace_original")):
        if original is not None:
            ws._update_message(original, text, blocks)
        elif ephemeral is not None:
            ephemeral.text, ephemeral.blocks = text, blocks
            ws._record("ephemeral", hook.user, hook.channel, text, {"text": text, "blocks": blocks, "replaced": ephemeral.ts})
        else:
            raise ApiError("message_not_found")
        return
    if payload.get("response_type") == "in_channel":
        ws._post_message(ws._channel_by_id(hook.channel), text, blocks, payload.get("thread_ts") or None)
    else:
        ws._post_ephemeral(hook.channel, hook.user, text, blocks, "response_url", payload.get("thread_ts") or None)
