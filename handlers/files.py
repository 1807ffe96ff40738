"""Reading a file someone shared with the bot or put in a modal's file input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from slack_sdk import WebClient

from bot.errors import UserError

MAX_BYTES = 5 * 1024 * 1024  # the candidate reader's own limit; larger files are refused before download


@dataclass(frozen=True)
class SharedFile:
    name: str
    size: int
    url: str | None
    filetype: str | None


def file_info(client: WebClient, file_id: str) -> SharedFile:
    """What Slack says of the file (files.info, files:read), before anything is downloaded."""
    info = client.files_info(file=file_id)["file"]
    return SharedFile(name=info.get("name") or "file", size=int(info.get("size") or 0),
                      url=info.get("url_private_download") or info.get("url_private"), filetype=info.get("filetype"))


def download(client: WebClient, file: SharedFile) -> bytes:
    """The file's bytes, read with the bot token. Slack answers a download without a valid token
    with its HTML sign-in page and status 200, so the type is checked."""
    if file.size > MAX_BYTES:
        raise UserError(f"{file.name} is larger than 5 MB: split it into smaller files.")
    if not file.url:
        raise UserError(f"Slack gave no way to read {file.name}: share it again, as a file.")
    response = requests.get(file.url, headers={"Authorization": f"Bearer {client.token}"}, timeout=20)
    response.raise_for_status()
    if response.headers.get("content-type", "").startswith("text/html") and file.filetype != "html":
        raise UserError(f"Slack did not let the bot read {file.name}. An admin may need to reinstall the app so it "
                        "has the files:read permission.")
    return response.content[:MAX_BYTES + 1]


def file_or_paste(client: WebClient, files: list[dict[str, Any]], pasted: str, *, what: str,
                  hint: str = "") -> tuple[str, str, bytes | str]:
    """A modal's file input or its paste box, exactly one: (its source as people read it, the field it
    came from, "file" or "paste", and what it holds). `what` names the rows in the refusals."""
    if files and pasted:
        raise UserError(f"Upload a file or paste {what}, not both.", field="paste")
    if files:
        shared = file_info(client, files[0]["id"])
        return shared.name, "file", download(client, shared)
    if pasted:
        return f"pasted {what}", "paste", pasted
    raise UserError(f"Upload a CSV file or paste {what}{hint}.", field="paste")
