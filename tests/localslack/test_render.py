"""Plain-text rendering for the demo transcript."""
from __future__ import annotations

from bot.local.slack import render_blocks, render_view
from bot.local.slack.render import render_mrkdwn

NAMES = {"U1": "rita"}.get


def pt(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def test_mrkdwn_links_and_mentions() -> None:
    text = "Hi <@U1>, see <https://x.io/c/1|the candidate> or <https://x.io> in <#C1|hiring> <!here> a &amp; b"
    assert render_mrkdwn(text, NAMES) == "Hi @rita, see the candidate (https://x.io/c/1) or https://x.io in #hiring @here a & b"
    assert render_mrkdwn("<@U9> *bold*", NAMES) == "<@U9> *bold*"  # unknown users and mrkdwn stay as they are
    assert render_mrkdwn("<@U1>") == "<@U1>"  # no lookup given


def test_message_blocks() -> None:
    blocks = [
        {"type": "header", "text": pt("Weekly digest")},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*3* replies for <@U1>"},
         "fields": [{"type": "mrkdwn", "text": "Sent: 10"}, {"type": "mrkdwn", "text": "Opened: 7"}],
         "accessory": {"type": "button", "text": pt("Open"), "action_id": "open"}},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "updated today"}]},
        {"type": "actions", "elements": [{"type": "button", "text": pt("Approve"), "action_id": "a"},
                                         {"type": "button", "text": pt("Reject"), "action_id": "r"}]},
    ]
    assert render_blocks(blocks, NAMES) == "\n".join([
        "# Weekly digest",
        "*3* replies for @rita",
        "  Sent: 10",
        "  Opened: 7",
        "  [ Open ]",
        "-" * 40,
        "  updated today",
        "[ Approve ]  [ Reject ]",
    ])


def test_modal_with_inputs() -> None:
    view = {
        "type": "modal", "title": pt("New sequence"), "submit": pt("Create"),
        "blocks": [
            {"type": "input", "label": pt("Subject"), "element": {"type": "plain_text_input", "action_id": "s", "initial_value": "Hello"}},
            {"type": "input", "label": pt("Body"), "optional": True,
             "element": {"type": "plain_text_input", "action_id": "b", "multiline": True, "placeholder": pt("Write...")}},
            {"type": "input", "label": pt("Send at"), "element": {"type": "static_select", "action_id": "t",
             "options": [{"text": pt("9:00"), "value": "9"}, {"text": pt("14:00"), "value": "14"}],
             "initial_option": {"text": pt("14:00"), "value": "14"}}},
        ],
    }
    assert render_view(view) == "\n".join([
        "=== New sequence (modal) ===",
        "Subject:",
        '  [plain_text_input] "Hello"',
        "Body (optional):",
        "  [plain_text_input multiline] (placeholder: Write...)",
        "Send at:",
        "  [ 14:00 v ]",
        "      ( ) 9:00",
        "      (*) 14:00",
        "[ Cancel ]  [ Create ]",
    ])


def test_home_view() -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Welcome <@U1>"}}]}
    assert render_view(home, NAMES) == "=== Home ===\nWelcome @rita"


def test_file_input_says_what_it_accepts() -> None:
    view = {"type": "modal", "title": pt("Import"), "submit": pt("Import"), "blocks": [
        {"type": "input", "label": pt("CSV file"),
         "element": {"type": "file_input", "action_id": "f", "filetypes": ["csv", "tsv"], "max_files": 1}},
        {"type": "input", "label": pt("Attachments"), "optional": True, "element": {"type": "file_input", "action_id": "g"}},
    ]}
    assert render_view(view).splitlines()[1:5] == [
        "CSV file:",
        "  [file_input] (accepts .csv, .tsv; up to 1 file)",
        "Attachments (optional):",
        "  [file_input] (accepts any file; up to 10 files)",
    ]
