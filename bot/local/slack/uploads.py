"""The Web API methods behind slack_sdk's `WebClient.files_upload_v2`, and files.delete.

Slack's "Uploading files" flow (https://api.slack.com/methods/files.getUploadURLExternal, usage
info): files.getUploadURLExternal (filename and length required) answers an upload_url and a
file_id; the bytes are POSTed to upload_url (server.py hands that to FileStore.receive_upload);
files.completeUploadExternal (https://api.slack.com/methods/files.completeUploadExternal) takes
files=[{"id", "title"}] and optionally channel_id (or channels), initial_comment and thread_ts;
"If the channel_id is not specified, the file will remain private" (to the app that uploaded it),
and it "can only be called once". files.delete: https://api.slack.com/methods/files.delete.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .model import ApiError, Message

if TYPE_CHECKING:
    from .workspace import LocalSlack

Params = dict[str, Any]
MAX_ALT_TXT = 1000  # files.getUploadURLExternal: alt_txt_too_large beyond 1,000 characters


def _invalid(message: str) -> ApiError:
    return ApiError("invalid_arguments", f"[ERROR] {message}")


def get_upload_url_external(ws: LocalSlack, p: Params) -> dict[str, Any]:
    filename = p.get("filename")
    if not isinstance(filename, str) or not filename.strip() or "/" in filename:
        raise _invalid("filename must be a file name")
    try:
        length = int(str(p.get("length")))
    except ValueError:
        raise _invalid("length must be an integer") from None
    if length <= 0:  # "missing_argument ... Typically only occurs when the length provided is 0"
        raise ApiError("invalid_arguments", "[ERROR] length must be more than 0")
    alt_txt = str(p.get("alt_txt") or "")
    if len(alt_txt) > MAX_ALT_TXT:
        raise ApiError("alt_txt_too_large")
    upload_url, file_id = ws._start_upload(filename, length, alt_txt)
    return {"upload_url": upload_url, "file_id": file_id}


def _files_arg(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid("files must be a JSON array") from None
    if not isinstance(value, list) or not value or not all(isinstance(f, dict) and isinstance(f.get("id"), str)
                                                           for f in value):
        raise _invalid('files must be an array of {"id": ..., "title": ...}')
    return value


def complete_upload_external(ws: LocalSlack, p: Params) -> dict[str, Any]:
    files = _files_arg(p.get("files"))
    channels = [str(p["channel_id"])] if p.get("channel_id") else []
    channels += [c.strip() for c in str(p.get("channels") or "").split(",") if c.strip()]
    targets = []
    for ref in channels:
        channel = ws._resolve_channel(ref)  # a user id shares into the DM with them
        if ws.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
        targets.append(channel)
    for f in files:  # every id must be uploaded before anything is completed: all or nothing
        upload = ws._uploads.get(f["id"])
        if upload is None or upload.content is None:
            raise ApiError("file_not_found")
    records = [ws._complete_upload(f["id"], f.get("title")) for f in files]
    comment = str(p.get("initial_comment") or "")
    for channel in targets:  # one message a channel, carrying the files and the comment
        with ws._lock:
            ts = ws._next_ts()
            for record in records:
                ws._share_file(record.id, channel.id, ts)
            message = Message(channel.id, ts, comment, [], ws.bot_user_id, p.get("thread_ts") or None,
                              files=[ws._file_json(r) for r in records])
            ws._messages.append(message)
        ws._record("message", channel.im_user, channel.id, comment, {"message": ws._message_json(message)})
    return {"files": [ws._file_json(r) for r in records]}


def files_delete(ws: LocalSlack, p: Params) -> dict[str, Any]:
    ws._delete_file(p.get("file"))
    return {}
