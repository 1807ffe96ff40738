"""Files in the workspace: what people upload, and how Slack shows and serves them.

A mixin of LocalSlack. Slack's file object is rebuilt from the stored record on every read,
so its URLs always point at the running server and `channels`/`ims`/`shares` follow where
the file was shared. Downloads need the bot token in an Authorization header; without it
Slack answers 200 with its HTML sign-in page, which is what a bot that forgets the header gets.
"""
from __future__ import annotations

import hashlib
import mimetypes
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

from .model import ApiError, Call, Channel, File, User

MAX_FILE_INPUT_BYTES = 10 * 1024 * 1024  # file_input refuses larger files (Slack: 10 MB)

# extension -> (Slack filetype, pretty_type), for the types a recruiting bot meets
_TYPES = {
    "csv": ("csv", "CSV"), "tsv": ("tsv", "TSV"), "txt": ("text", "Plain Text"), "json": ("json", "JSON"),
    "yaml": ("yaml", "YAML"), "yml": ("yaml", "YAML"), "md": ("markdown", "Markdown (raw)"),
    "html": ("html", "HTML"), "xml": ("xml", "XML"), "pdf": ("pdf", "PDF"),
    "xls": ("xls", "Excel Spreadsheet"), "xlsx": ("xlsx", "Excel Spreadsheet"),
    "doc": ("doc", "Word Document"), "docx": ("docx", "Word Document"),
    "png": ("png", "PNG"), "jpg": ("jpg", "JPEG"), "jpeg": ("jpg", "JPEG"), "gif": ("gif", "GIF"),
    "zip": ("zip", "Zip"), "gz": ("gzip", "GZip"), "py": ("python", "Python"),
}
_PRETTY = {filetype: pretty for filetype, pretty in _TYPES.values()} | {"binary": "Binary"}


# Image blocks show Slack files of these types only
# (https://api.slack.com/reference/block-kit/composition-objects#slack_file: "png, jpg, jpeg, and gif").
IMAGE_FILETYPES = frozenset({"png", "jpg", "gif"})
UPLOAD_PATH = "/upload/v1/"  # Slack's upload URLs are https://files.slack.com/upload/v1/<opaque>
UPLOAD_METHOD = "upload_url"  # how a POST of a file's bytes shows in ws.calls (not a Web API method)


@dataclass
class PendingUpload:
    """Between files.getUploadURLExternal and files.completeUploadExternal: the file id handed out,
    the name and length declared, and the bytes once they were POSTed to the upload URL."""

    file_id: str
    filename: str
    length: int
    alt_txt: str
    token: str
    content: bytes | None = None


def extension(name: str) -> str:
    """"leads.CSV" -> "csv"; "" when the name has none."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def describe(name: str, content: bytes, filetype: str | None, mimetype: str | None) -> tuple[str, str, str]:
    """(filetype, pretty_type, mimetype) as Slack infers them from the name and the bytes."""
    if filetype is None:
        known = _TYPES.get(extension(name))
        if known is not None:
            filetype = known[0]
        else:
            try:
                content.decode("utf-8")
                filetype = "text"
            except UnicodeDecodeError:
                filetype = "binary"
    pretty = _PRETTY.get(filetype, filetype.upper())
    if mimetype is None:
        mimetype = mimetypes.guess_type(name)[0] or (
            "text/plain" if filetype == "text" else "application/octet-stream")
    return filetype, pretty, mimetype


def sign_in_page(team_name: str, team_domain: str) -> bytes:
    """What Slack serves for a private file URL requested without a valid token."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Sign in | {team_name} Slack</title></head>\n<body>"
        f"<h1>Sign in to {team_name}</h1><p>{team_domain}.slack.com</p>"
        "<form method=\"post\"><input type=\"email\" name=\"email\"><input type=\"password\" name=\"password\">"
        "<button type=\"submit\">Sign In</button></form></body></html>\n"
    ).encode("utf-8")


class FileStore:
    # provided by LocalSlack
    _lock: threading.RLock
    _ids: Iterator[int]
    _channels: dict[str, Channel]
    team_id: str
    bot_user_id: str

    @property
    def base_url(self) -> str: ...
    def wallclock(self) -> float: ...
    def _require_user(self, user_id: Any) -> User: ...
    def _record_call(self, call: Call) -> None: ...
    def _channel_by_id(self, channel_id: Any) -> Channel: ...

    def _init_files(self) -> None:
        self._files: dict[str, File] = {}
        self._uploads: dict[str, PendingUpload] = {}  # by file id, until completed
        self.deleted_files: list[str] = []  # ids deleted with files.delete, oldest first

    def add_file(self, user_id: str, name: str, content: bytes, *, title: str | None = None,
                 filetype: str | None = None, mimetype: str | None = None) -> dict[str, Any]:
        """Store a file uploaded by `user_id` (not shared anywhere yet); returns Slack's file object."""
        if not isinstance(content, (bytes, bytearray)):
            raise TypeError(f"file content must be bytes, got {type(content).__name__}")
        if not name or "/" in name:
            raise ValueError(f"a file needs a name without '/', got {name!r}")
        kind, pretty, mime = describe(name, bytes(content), filetype, mimetype)
        with self._lock:
            self._require_user(user_id)
            file_id = "F" + hashlib.sha1(f"{self.team_id}:file:{next(self._ids)}".encode()).hexdigest()[:10].upper()
            record = File(file_id, name, title if title is not None else name, kind, pretty, mime, bytes(content),
                          user_id, int(self.wallclock()))
            self._files[file_id] = record
            return self._file_json(record)

    def file(self, file_id: str) -> dict[str, Any]:
        """The file object, as files.info shows it. KeyError for an unknown id."""
        with self._lock:
            record = self._files.get(file_id)
            if record is None:
                raise KeyError(f"no file {file_id!r} in the workspace")
            return self._file_json(record)

    def files(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._file_json(f) for f in self._files.values()]

    # ---- internals shared by webapi, server and person ---------------------------------
    def _file_json(self, record: File) -> dict[str, Any]:
        root = self._url_root()
        path = f"{self.team_id}-{record.id}"
        name = quote(record.name)
        public: dict[str, list[dict[str, Any]]] = {}
        private: dict[str, list[dict[str, Any]]] = {}
        for channel_id, ts in record.shares:
            channel = self._channels[channel_id]
            target = private if channel.is_im else public
            share: dict[str, Any] = {"ts": ts, "team_id": self.team_id, "reply_users": [], "reply_users_count": 0,
                                     "reply_count": 0}
            if not channel.is_im:
                share["channel_name"] = channel.name
            target.setdefault(channel_id, []).append(share)
        shares = {k: v for k, v in (("public", public), ("private", private)) if v}
        return {
            "id": record.id,
            "created": record.created,
            "timestamp": record.created,
            "name": record.name,
            "title": record.title,
            "mimetype": record.mimetype,
            "filetype": record.filetype,
            "pretty_type": record.pretty_type,
            "user": record.user,
            "user_team": self.team_id,
            "editable": False,
            "size": len(record.content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{root}files-pri/{path}/{name}",
            "url_private_download": f"{root}files-pri/{path}/download/{name}",
            "permalink": f"{root}files/{record.user}/{record.id}/{name}",
            # Slack lists public channels, private channels and DMs apart
            "channels": list(public),
            "groups": [],
            "ims": list(private),
            "shares": shares,
            "comments_count": 0,
            "has_rich_preview": False,
        }

    def _url_root(self) -> str:
        try:
            return self.base_url
        except RuntimeError:  # not started: the URLs are only useful once it is
            return "http://127.0.0.1:0/"

    def _share_file(self, file_id: str, channel_id: str, ts: str) -> None:
        with self._lock:
            self._files[file_id].shares.append((channel_id, ts))

    def _bot_can_see(self, record: File) -> bool:
        """A file shared only where the bot is not a member is invisible to it (file_not_found)."""
        if not record.shares:
            return True  # uploaded through the app (file_input) or seeded by a test
        return any(self.bot_user_id in self._channels[c].members for c, _ in record.shares)

    # ---- files_upload_v2: getUploadURLExternal, POST the bytes, completeUploadExternal ------
    # https://api.slack.com/methods/files.getUploadURLExternal ("Uploading files": 1. get a URL and
    # a file id, 2. POST the bytes to the URL, 3. files.completeUploadExternal; "If this method is
    # not called, the uploaded file and associated metadata will be discarded").
    def _start_upload(self, filename: str, length: int, alt_txt: str) -> tuple[str, str]:
        with self._lock:
            file_id = "F" + hashlib.sha1(f"{self.team_id}:file:{next(self._ids)}".encode()).hexdigest()[:10].upper()
            token = secrets.token_urlsafe(18)
            self._uploads[file_id] = PendingUpload(file_id, filename, length, alt_txt, token)
            return f"{self._url_root().rstrip('/')}{UPLOAD_PATH}{token}", file_id

    def receive_upload(self, path: str, body: bytes) -> tuple[int, str]:
        """The POST of a file's bytes to its upload URL: (HTTP status, body). An unknown URL is 404;
        bytes that are not the length declared are refused (400), so nothing half-sent is kept."""
        token = path[len(UPLOAD_PATH):] if path.startswith(UPLOAD_PATH) else ""
        # recorded with its bytes (as text), so tests see what a bot uploads as they see what it posts
        params = {"length": len(body), "content": body.decode("utf-8", "replace")}
        with self._lock:
            upload = next((u for u in self._uploads.values() if token and u.token == token), None)
            if upload is None:
                status, answer = 404, "upload_not_found"
            elif len(body) != upload.length:
                status, answer = 400, f"length_mismatch: declared {upload.length} bytes, received {len(body)}"
            else:
                upload.content = bytes(body)
                params["file"] = upload.file_id
                status, answer = 200, f"OK - {len(body)}"
        self._record_call(Call(UPLOAD_METHOD, params, status == 200, None if status == 200 else answer.split(":")[0]))
        return status, answer

    def _complete_upload(self, file_id: str, title: str | None) -> File:
        """The upload becomes a file the bot owns; file_not_found for an id never handed out, already
        completed, or whose bytes never arrived."""
        upload = self._uploads.get(file_id)
        if upload is None or upload.content is None:
            raise ApiError("file_not_found")
        del self._uploads[file_id]
        kind, pretty, mime = describe(upload.filename, upload.content, None, None)
        record = File(file_id, upload.filename, title or upload.filename, kind, pretty, mime, upload.content,
                      self.bot_user_id, int(self.wallclock()))
        self._files[file_id] = record
        return record

    def _delete_file(self, file_id: Any) -> None:
        """files.delete: a bot deletes the files it uploaded (cant_delete_file for anyone else's)."""
        record = self._file_for_bot(file_id)
        if record.user != self.bot_user_id:
            raise ApiError("cant_delete_file")
        del self._files[record.id]
        self.deleted_files.append(record.id)

    def _image_file(self, ref: Any) -> File | None:
        """The file a slack_file object names ({"id"} or {"url"}: its url_private or permalink),
        when it exists, the bot can see it, and it is an image; else None."""
        if not isinstance(ref, dict):
            return None
        record: File | None = None
        if isinstance(ref.get("id"), str):
            record = self._files.get(ref["id"])
        elif isinstance(ref.get("url"), str):
            path = urlsplit(ref["url"]).path
            record = next((f for f in self._files.values()
                           if path in (f"/files-pri/{self.team_id}-{f.id}/{quote(f.name)}",
                                       f"/files/{f.user}/{f.id}/{quote(f.name)}")), None)
        if record is None or not self._bot_can_see(record) or record.filetype not in IMAGE_FILETYPES:
            return None
        return record

    def _file_for_bot(self, file_id: Any) -> File:
        record = self._files.get(file_id) if isinstance(file_id, str) else None
        if record is None or not self._bot_can_see(record):
            raise ApiError("file_not_found")
        return record
