"""Files in the workspace: the file object, files.info, and downloads of url_private(_download)."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack import LocalSlack

CSV = b"email,name\nana@example.com,Ana\nbo@example.com,Bo\n"
# never route loopback traffic through a proxy from the environment
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def test_a_stored_file_looks_like_slacks_file_object(ws: LocalSlack) -> None:
    file = ws.add_file("U1", "leads.csv", CSV)
    assert file["id"].startswith("F") and file == ws.file(file["id"])
    assert (file["name"], file["title"], file["filetype"], file["pretty_type"], file["mimetype"]) == (
        "leads.csv", "leads.csv", "csv", "CSV", "text/csv")
    assert (file["size"], file["user"], file["is_public"], file["channels"]) == (len(CSV), "U1", False, [])
    assert file["url_private"] == f"{ws.base_url}files-pri/T0LOCAL-{file['id']}/leads.csv"
    assert file["url_private_download"] == f"{ws.base_url}files-pri/T0LOCAL-{file['id']}/download/leads.csv"
    assert file["permalink"].startswith(ws.base_url) and file["created"] == int(ws.wallclock())


def test_file_types_come_from_the_name_unless_given(ws: LocalSlack) -> None:
    text = ws.add_file("U1", "notes", b"plain words")
    blob = ws.add_file("U1", "dump.bin", b"\xff\xfe\x00")
    sheet = ws.add_file("U1", "export", b"a,b\n", title="Export", filetype="csv", mimetype="text/csv")
    assert (text["filetype"], text["mimetype"]) == ("text", "text/plain")
    assert (blob["filetype"], blob["mimetype"]) == ("binary", "application/octet-stream")
    assert (sheet["title"], sheet["filetype"], sheet["pretty_type"], sheet["mimetype"]) == ("Export", "csv", "CSV", "text/csv")
    with pytest.raises(TypeError):
        ws.add_file("U1", "leads.csv", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        ws.file("F404")


def test_files_info_returns_the_file_and_knows_unknown_ids(ws: LocalSlack, client: WebClient) -> None:
    file = ws.add_file("U1", "leads.csv", CSV)
    data = client.files_info(file=file["id"]).data
    assert data["ok"] is True and data["file"] == file
    with pytest.raises(SlackApiError) as missing:
        client.files_info(file="F404NOPE")
    assert missing.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as unauthorised:
        WebClient(token="xoxb-wrong", base_url=ws.api_url).files_info(file=file["id"])
    assert unauthorised.value.response["error"] == "invalid_auth"
    assert [(c.ok, c.error) for c in ws.calls_to("files.info")] == [(True, None), (False, "file_not_found"),
                                                                   (False, "invalid_auth")]


def test_download_with_the_bot_token_gets_the_bytes(ws: LocalSlack) -> None:
    file = ws.add_file("U1", "leads.csv", CSV)
    status, body, headers = fetch(file["url_private_download"], {"Authorization": f"Bearer {ws.bot_token}"})
    assert (status, body, headers["Content-Type"]) == (200, CSV, "text/csv")
    assert "attachment" in headers["Content-Disposition"]
    status, body, headers = fetch(file["url_private"], {"Authorization": f"Bearer {ws.bot_token}"})
    assert (status, body) == (200, CSV) and "Content-Disposition" not in headers
    (first, second) = ws.calls_to("files.download")
    assert (first.ok, first.params["file"], first.params["download"], second.params["download"]) == (
        True, file["id"], True, False)


@pytest.mark.parametrize("headers, error", [({}, "not_authed"), ({"Authorization": "Bearer xoxb-wrong"}, "invalid_auth")])
def test_download_without_a_valid_token_gets_the_sign_in_page(ws: LocalSlack, headers: dict[str, str], error: str) -> None:
    file = ws.add_file("U1", "leads.csv", CSV)
    status, body, response_headers = fetch(file["url_private_download"], headers)
    assert status == 200  # like Slack: a page, not an error status
    assert response_headers["Content-Type"].startswith("text/html")
    assert b"<html" in body and b"Sign in" in body and CSV not in body
    (call,) = ws.calls_to("files.download")
    assert (call.ok, call.error, call.params["file"]) == (False, error, file["id"])


def test_download_of_an_unknown_file_is_not_found(ws: LocalSlack) -> None:
    status, body, _ = fetch(f"{ws.base_url}files-pri/T0LOCAL-F404NOPE/download/x.csv",
                            {"Authorization": f"Bearer {ws.bot_token}"})
    assert status == 404 and b"not found" in body.lower()
    assert ws.calls_to("files.download")[0].error == "file_not_found"


def test_files_shared_only_where_the_bot_is_not_are_invisible_to_it(ws: LocalSlack, client: WebClient) -> None:
    ws.add_channel("C2", "private-talk", members=["U1", "U2"], bot_is_member=False)
    message, file = ws._post_upload(ws._channel_by_id("C2"), "U1", ws.add_file("U1", "secret.csv", CSV)["id"], "")
    assert file["channels"] == ["C2"] and file["shares"]["public"]["C2"][0]["ts"] == message.ts
    with pytest.raises(SlackApiError) as hidden:
        client.files_info(file=file["id"])
    assert hidden.value.response["error"] == "file_not_found"
    status, body, _ = fetch(file["url_private_download"], {"Authorization": f"Bearer {ws.bot_token}"})
    assert status == 404 and CSV not in body
