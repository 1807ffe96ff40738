"""files_upload_v2 against LocalSlack as Slack documents it: files.getUploadURLExternal, the POST of
the bytes, files.completeUploadExternal, files.delete; and image blocks showing a Slack file
(bot/local/slack/uploads.py and validation.py name the pages)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack import LocalSlack
from bot.local.slack.ratelimits import TIERS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, data: bytes) -> tuple[int, str]:
    try:
        with OPENER.open(urllib.request.Request(url, data=data, method="POST"), timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def image(ref: dict[str, str], alt: str | None = "A chart") -> list[dict[str, object]]:
    block: dict[str, object] = {"type": "image", "slack_file": ref}
    if alt is not None:
        block["alt_text"] = alt
    return [block]


def test_files_upload_v2_to_no_channel_leaves_a_private_file_the_bot_owns(ws: LocalSlack, client: WebClient) -> None:
    answer = client.files_upload_v2(content=PNG, filename="chart.png", title="Results", alt_txt="bars")
    file = answer["file"]
    assert (file["name"], file["title"], file["filetype"], file["user"], file["size"]) == (
        "chart.png", "Results", "png", ws.bot_user_id, len(PNG))
    assert file["channels"] == [] and file["ims"] == [] and ws.messages() == []
    assert [c.method for c in ws.calls] == ["files.getUploadURLExternal", "upload_url", "files.completeUploadExternal"]
    assert ws.calls[1].params["length"] == len(PNG) and ws.calls[1].params["file"] == file["id"]
    client.files_delete(file=file["id"])
    assert ws.deleted_files == [file["id"]]
    with pytest.raises(SlackApiError) as again:
        client.files_delete(file=file["id"])
    assert again.value.response["error"] == "file_not_found"


def test_files_upload_v2_into_a_dm_posts_one_message_with_the_comment(ws: LocalSlack, client: WebClient) -> None:
    dm = ws.dm_channel("U1")
    answer = client.files_upload_v2(content=b"a,b\n1,2\n", filename="export.csv", channel=dm,
                                    initial_comment="Your export")
    [message] = ws.messages(dm)
    assert message.text == "Your export" and [f["id"] for f in message.files] == [answer["file"]["id"]]
    assert ws.file(answer["file"]["id"])["ims"] == [dm]


def test_the_upload_flow_refuses_what_slack_refuses(ws: LocalSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as zero:
        client.files_getUploadURLExternal(filename="x.png", length=0)
    assert zero.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as long_alt:
        client.files_getUploadURLExternal(filename="x.png", length=3, alt_txt="a" * 1001)
    assert long_alt.value.response["error"] == "alt_txt_too_large"
    started = client.files_getUploadURLExternal(filename="x.png", length=len(PNG))
    # not uploaded yet: completing is refused and nothing is kept
    with pytest.raises(SlackApiError) as early:
        client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}])
    assert early.value.response["error"] == "file_not_found"
    assert post(started["upload_url"], PNG[:-1])[0] == 400  # not the length declared
    assert post(started["upload_url"].rsplit("/", 1)[0] + "/nope", PNG)[0] == 404
    assert post(started["upload_url"], PNG) == (200, f"OK - {len(PNG)}")
    done = client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}])
    assert done["files"][0]["id"] == started["file_id"]
    with pytest.raises(SlackApiError) as twice:  # "can only be called once"
        client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}])
    assert twice.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as unknown:
        client.files_completeUploadExternal(files=[{"id": "FNOPE", "title": "x"}])
    assert unknown.value.response["error"] == "file_not_found"


def test_the_new_methods_have_their_documented_tiers() -> None:
    assert (TIERS["files.getUploadURLExternal"], TIERS["files.completeUploadExternal"], TIERS["files.delete"]) == (
        4, 4, 3)


def test_an_image_block_shows_an_image_file_the_bot_can_see(ws: LocalSlack, client: WebClient) -> None:
    file = client.files_upload_v2(content=PNG, filename="chart.png")["file"]
    dm = ws.dm_channel("U1")
    posted = client.chat_postMessage(channel=dm, text="chart", blocks=image({"id": file["id"]}))
    assert posted["message"]["blocks"][0]["slack_file"] == {"id": file["id"]}
    client.chat_postMessage(channel=dm, text="chart", blocks=image({"url": file["url_private"]}))
    client.views_publish(user_id="U1", view={"type": "home", "blocks": image({"id": file["id"]})})


@pytest.mark.parametrize(("blocks", "pointer"), [
    (image({"id": "FMISSING"}), "invalid slack file [json-pointer:/blocks/0/slack_file]"),
    (image({"id": "F1"}, alt=None), "missing required field: alt_text [json-pointer:/blocks/0/alt_text]"),
    (image({"id": "F1"}, alt="a" * 2001), "must be less than 2001 characters [json-pointer:/blocks/0/alt_text]"),
    ([{"type": "image", "alt_text": "x", "image_url": "https://example.com/a.png", "slack_file": {"id": "F1"}}],
     "must provide exactly one of image_url or slack_file [json-pointer:/blocks/0]"),
    (image({"id": "F1", "url": "https://example.com/x"}), "invalid slack file [json-pointer:/blocks/0/slack_file]"),
])
def test_a_bad_image_block_is_refused(ws: LocalSlack, client: WebClient, blocks: list[dict[str, object]],
                                      pointer: str) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=ws.dm_channel("U1"), text="chart", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert f"[ERROR] {pointer}" in refused.value.response["response_metadata"]["messages"]


def test_a_file_that_is_not_an_image_or_not_visible_cannot_be_shown(ws: LocalSlack, client: WebClient) -> None:
    csv = client.files_upload_v2(content=b"a,b\n", filename="rows.csv")["file"]
    hidden = ws.add_file("U2", "secret.png", PNG)
    ws.add_channel("C9", name="private", members=["U2"], bot_is_member=False)
    ws._share_file(hidden["id"], "C9", "1.0")
    for ref in ({"id": csv["id"]}, {"id": hidden["id"]}):
        with pytest.raises(SlackApiError) as refused:
            client.views_publish(user_id="U1", view=json.dumps({"type": "home", "blocks": image(ref)}))
        assert refused.value.response["error"] == "invalid_arguments"
