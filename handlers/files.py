"""Reading a file someone shared with the bot or put in a modal's file input."""
from __future__ import annotations

import requests
from slack_sdk import WebClient

from bot.errors import UserError

MAX_BYTES = 5 * 1024 * 1024  # the candidate reader's own limit; larger files are refused before download


def download(client: WebClient, file_id: str) -> tuple[str, bytes]:
    """The file's name and bytes, read with the bot token (files:read). Slack answers a download
    without a valid token with its HTML sign-in page and status 200, so the type is checked."""
    info = client.files_info(file=file_id)["file"]
    name = info.get("name") or "file"
    if int(info.get("size") or 0) > MAX_BYTES:
        raise UserError(f"{name} is larger than 5 MB: split it into smaller files.")
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise UserError(f"Slack gave no way to read {name}: share it again, as a file.")
    response = requests.get(url, headers={"Authorization": f"Bearer {client.token}"}, timeout=20)
    response.raise_for_status()
    if response.headers.get("content-type", "").startswith("text/html") and info.get("filetype") != "html":
        raise UserError(f"Slack did not let the bot read {name}. An admin may need to reinstall the app so it "
                        "has the files:read permission.")
    return name, response.content[:MAX_BYTES + 1]
