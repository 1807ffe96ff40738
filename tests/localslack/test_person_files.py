"""People sharing files and typing into modals, with a real Bolt app on the other side."""
from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack import BoltTarget, LocalSlack, Person, SharedFile

CSV = b"email,name\nana@example.com,Ana\n"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def text(t: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": t}


def download(url: str, token: str | None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with OPENER.open(urllib.request.Request(url, headers=headers), timeout=5) as response:
        return response.read()


def import_modal(*, max_files: int | None = 1, optional: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "file_input", "action_id": "csv_file", "filetypes": ["csv"]}
    if max_files is not None:
        element["max_files"] = max_files
    return {
        "type": "modal", "callback_id": "import", "title": text("Import candidates"), "submit": text("Import"),
        "blocks": [
            {"type": "input", "block_id": "list_name", "label": text("List name"),
             "element": {"type": "plain_text_input", "action_id": "name_value", "max_length": 20}},
            {"type": "input", "block_id": "source", "label": text("Source"), "optional": True,
             "element": {"type": "static_select", "action_id": "source_value",
                         "options": [{"text": text("Referral"), "value": "referral"},
                                     {"text": text("Event"), "value": "event"}]}},
            {"type": "input", "block_id": "upload", "label": text("CSV file"), "optional": optional, "element": element},
            {"type": "actions", "block_id": "tools", "elements": [
                {"type": "button", "action_id": "preview", "text": text("Preview")}]},
        ],
    }


class Bot:
    """Reads what people share the way a careful bot does: files.info, then download with the token."""

    def __init__(self, app: App, token: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.downloads: list[bytes] = []
        self.submissions: list[dict[str, Any]] = []
        self.previews: list[dict[str, Any]] = []
        self.forget_token = False

        @app.event("file_shared")
        def file_shared(event: dict[str, Any], client: WebClient) -> None:
            self.events.append(event)
            info = client.files_info(file=event["file_id"])["file"]
            self.downloads.append(download(info["url_private_download"], None if self.forget_token else token))

        @app.command("/import")
        def open_import(ack: Any, command: dict[str, Any], client: WebClient) -> None:
            ack()
            client.views_open(trigger_id=command["trigger_id"], view=import_modal(max_files=int(command["text"] or 1)))

        @app.view("import")
        def submitted(ack: Any, view: dict[str, Any]) -> None:
            ack()
            self.submissions.append(view["state"]["values"])
            for file in view["state"]["values"]["upload"]["csv_file"]["files"]:
                self.downloads.append(download(file["url_private_download"], token))

        @app.action("preview")
        def preview(ack: Any, body: dict[str, Any]) -> None:
            ack()
            self.previews.append(body["view"]["state"]["values"])


@pytest.fixture
def bot(app: App, ws: LocalSlack) -> Bot:
    return Bot(app, ws.bot_token)


@pytest.fixture
def rita(ws: LocalSlack, app: App, bot: Bot) -> Person:
    return Person(ws, "U1", BoltTarget(app))


# ---- sharing a file in a channel --------------------------------------------------------
def test_upload_delivers_file_shared_and_the_bot_downloads_it(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    shared = rita.upload("leads.csv", CSV, comment="new leads")
    assert isinstance(shared, SharedFile) and shared.result is not None and shared.result.ok
    assert bot.events == [{"type": "file_shared", "channel_id": "DU1", "file_id": shared["id"], "user_id": "U1",
                           "file": {"id": shared["id"]}, "event_ts": shared.message.ts}]
    assert shared.result.payload["type"] == "event_callback"
    assert bot.downloads == [CSV]
    assert [c.method for c in ws.calls if c.method != "auth.test"] == ["files.info", "files.download"]


def test_upload_posts_the_persons_message_carrying_the_file(ws: LocalSlack, rita: Person) -> None:
    mark = ws.mark()
    shared = rita.upload("leads.csv", CSV, comment="new leads")
    (message,) = rita.dm_messages()
    assert (message.user, message.text, [f["id"] for f in message.files]) == ("U1", "new leads", [shared["id"]])
    assert shared.file == ws.file(shared["id"]) and shared["ims"] == ["DU1"] and shared["channels"] == []
    (upload,) = [a for a in ws.transcript_since(mark) if a.kind == "upload"]
    assert (upload.user, upload.channel, upload.data["file"]["id"]) == ("U1", "DU1", shared["id"])
    assert "rita shares a file:\n    [file: leads.csv (CSV, 31 bytes)]\n    new leads" in ws.render_transcript(mark)


def test_upload_to_a_public_channel_lists_it_in_channels(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    shared = rita.upload("leads.csv", CSV, channel="C1")
    assert shared["channels"] == ["C1"] and bot.events[0]["channel_id"] == "C1"
    assert ws.messages("C1")[0].files[0]["id"] == shared["id"]


def test_a_bot_that_forgets_the_token_gets_the_sign_in_page(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    bot.forget_token = True
    rita.upload("leads.csv", CSV)
    assert bot.downloads[0].lstrip().startswith(b"<!DOCTYPE html>") and CSV not in bot.downloads[0]
    assert ws.calls_to("files.download")[0].error == "not_authed"


def test_the_bot_is_not_told_about_files_in_channels_it_is_not_in(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    ws.add_channel("C2", "private-talk", members=["U1"], bot_is_member=False)
    shared = rita.upload("leads.csv", CSV, channel="C2")
    assert shared.result is None and bot.events == []
    sam = Person(ws, "U2", rita.target)
    with pytest.raises(AssertionError, match="not a member"):
        sam.upload("x.csv", CSV, channel="C2")


# ---- file_input in a modal ----------------------------------------------------------------
def test_submitted_file_input_carries_the_file_objects(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    rita.slash("/import")
    rita.submit({"list_name": "Q3 referrals", "csv_file": ("leads.csv", CSV)})
    (values,) = bot.submissions
    entry = values["upload"]["csv_file"]
    assert entry["type"] == "file_input" and [f["name"] for f in entry["files"]] == ["leads.csv"]
    assert entry["files"][0] == ws.file(entry["files"][0]["id"])
    assert bot.downloads == [CSV] and ws.open_views("U1") == []


def test_file_input_takes_stored_files_and_lists_of_them(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    one, two = ws.add_file("U1", "a.csv", b"email\n"), ws.add_file("U1", "b.CSV", b"email\n")
    rita.slash("/import", "2")
    rita.submit({"list_name": "two files", "upload": [one, two]})
    assert [f["id"] for f in bot.submissions[0]["upload"]["csv_file"]["files"]] == [one["id"], two["id"]]


def test_the_client_refuses_files_slack_would_refuse(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    rita.slash("/import")
    with pytest.raises(AssertionError, match="only accepts .csv"):
        rita.submit({"list_name": "x", "csv_file": ("leads.xlsx", b"PK")})
    with pytest.raises(AssertionError, match="at most 1 file"):
        rita.submit({"list_name": "x", "csv_file": [("a.csv", CSV), ("b.csv", CSV)]})
    with pytest.raises(AssertionError, match="required"):
        rita.submit({"list_name": "x"})
    with pytest.raises(AssertionError, match="no file"):
        rita.submit({"list_name": "x", "csv_file": {"id": "F404NOPE", "name": "gone.csv"}})
    assert bot.submissions == [] and len(ws.open_views("U1")) == 1
    assert ws.files() == []  # refused picks never reach Slack


def test_file_input_allows_ten_files_when_max_files_is_left_out(ws: LocalSlack, rita: Person, client: WebClient) -> None:
    client.views_open(trigger_id=ws._issue_trigger("U1"), view=import_modal(max_files=None, optional=True))
    with pytest.raises(AssertionError, match="at most 10 files"):
        rita.submit({"list_name": "x", "csv_file": [(f"{i}.csv", CSV) for i in range(11)]})


def test_views_accept_file_input_only_in_modal_input_blocks(ws: LocalSlack, client: WebClient) -> None:
    element = {"type": "file_input", "action_id": "f", "filetypes": ["csv"]}

    def error_of(call: Any, **kwargs: Any) -> str:
        with pytest.raises(SlackApiError) as caught:
            call(**kwargs)
        return " ".join(caught.value.response.get("response_metadata", {}).get("messages", []))

    modal = import_modal()
    modal["blocks"][2]["element"]["max_files"] = 11
    assert "max_files must be between 1 and 10" in error_of(client.views_open, trigger_id=ws._issue_trigger("U1"), view=modal)
    in_actions = {"type": "modal", "title": text("T"), "blocks": [{"type": "actions", "elements": [element]}]}
    assert "only be used as the element of an input block" in error_of(
        client.views_open, trigger_id=ws._issue_trigger("U1"), view=in_actions)
    home = {"type": "home", "blocks": [{"type": "input", "label": text("CSV"), "element": element}]}
    assert "only supported in modals" in error_of(client.views_publish, user_id="U1", view=home)
    message = [{"type": "input", "label": text("CSV"), "element": element}]
    assert "only supported in modals" in error_of(client.chat_postMessage, channel="C1", text="x", blocks=message)
    client.views_open(trigger_id=ws._issue_trigger("U1"), view=import_modal())
    assert ws.open_views("U1")[0]["blocks"][2]["element"]["type"] == "file_input"


# ---- typing before a click ----------------------------------------------------------------
def test_typed_values_reach_the_click_handler(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    rita.slash("/import")
    result = rita.click("preview", values={"list_name": "Q3", "source_value": "event", "csv_file": ("leads.csv", CSV)})
    assert result.ok
    (values,) = bot.previews
    assert values["list_name"]["name_value"] == {"type": "plain_text_input", "value": "Q3"}
    assert values["source"]["source_value"]["selected_option"]["value"] == "event"
    assert [f["name"] for f in values["upload"]["csv_file"]["files"]] == ["leads.csv"]
    assert ws.transcript_since(0)[-1].data["values"] == values


def test_a_click_may_leave_required_inputs_empty(rita: Person, bot: Bot) -> None:
    rita.slash("/import")
    rita.click("preview", values={"source": "referral"})
    assert bot.previews[0]["list_name"]["name_value"]["value"] is None
    assert bot.previews[0]["upload"]["csv_file"] == {"type": "file_input", "files": []}


def test_typed_values_are_checked_like_a_submission(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    rita.slash("/import")
    with pytest.raises(AssertionError, match="at most 20"):
        rita.click("preview", values={"list_name": "x" * 21})
    with pytest.raises(AssertionError, match="no option"):
        rita.click("preview", values={"source": "billboard"})
    with pytest.raises(AssertionError, match="no input"):
        rita.click("preview", values={"nmae": "x"})
    with pytest.raises(AssertionError, match="only accepts .csv"):
        rita.click("preview", values={"csv_file": ("leads.txt", b"x")})
    assert bot.previews == []


def test_typed_values_are_refused_for_message_clicks(ws: LocalSlack, rita: Person, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U1", text="Preview?", blocks=[{"type": "actions", "elements": [
        {"type": "button", "action_id": "preview", "text": text("Preview")}]}])
    with pytest.raises(AssertionError, match="values= only fills a view"):
        rita.click("preview", values={"list_name": "x"})
    with pytest.raises(AssertionError, match="carries no typed values"):
        rita.click("preview", in_message=posted["ts"], values={"list_name": "x"})
