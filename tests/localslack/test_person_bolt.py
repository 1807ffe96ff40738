"""People driving a real Bolt app through its real request path (signed requests, BoltTarget)."""
from __future__ import annotations

from typing import Any

import pytest
from slack_bolt import App

from bot.local.slack import BoltTarget, LocalSlack, Person

from .conftest import FakeMonotonic


def text(t: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": t}


def new_candidate_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "new_candidate",
        "title": text("New candidate"),
        "submit": text("Add"),
        "blocks": [
            {"type": "input", "block_id": "email", "label": text("Email"),
             "element": {"type": "plain_text_input", "action_id": "email_value", "max_length": 60}},
            {"type": "input", "block_id": "stage", "label": text("Stage"),
             "element": {"type": "static_select", "action_id": "stage_value",
                         "options": [{"text": text("Screen"), "value": "screen"}, {"text": text("Onsite"), "value": "onsite"}]}},
            {"type": "input", "block_id": "owner", "label": text("Owner"), "optional": True,
             "element": {"type": "users_select", "action_id": "owner_value"}},
            {"type": "input", "block_id": "notes", "label": text("Notes"), "optional": True,
             "element": {"type": "plain_text_input", "action_id": "notes_value", "multiline": True}},
            {"type": "actions", "elements": [{"type": "button", "action_id": "more_info", "text": text("More")}]},
        ],
    }


def review_blocks(email: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"New candidate *{email}*"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "approve", "text": text("Approve"), "value": email, "style": "primary"},
            {"type": "button", "action_id": "reject", "text": text("Reject"), "value": email},
        ]},
    ]


class Bot:
    """A tiny outreach bot: what the tests observe is only what Slack would show."""

    def __init__(self, app: App, clock: FakeMonotonic) -> None:
        self.submissions: list[dict[str, Any]] = []
        self.closed: list[dict[str, Any]] = []
        self.errors: list[str] = []

        @app.command("/outreach")
        def outreach(ack: Any, command: dict[str, Any], client: Any) -> None:
            verb = command["text"].strip()
            if verb == "help":
                ack(text="Usage: `/outreach new`")
            elif verb == "new":
                ack()
                client.views_open(trigger_id=command["trigger_id"], view=new_candidate_modal())
            elif verb == "survey":
                ack()
                client.views_open(trigger_id=command["trigger_id"], view={
                    "type": "modal", "callback_id": "survey", "title": text("Survey"), "notify_on_close": True,
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "How was it?"}}]})
            elif verb == "slow":
                clock.advance(4)  # the handler "takes" 4 seconds before it gets to views.open
                ack()
                try:
                    client.views_open(trigger_id=command["trigger_id"], view=new_candidate_modal())
                except Exception as exc:  # noqa: BLE001 - the test inspects the error code
                    self.errors.append(exc.response["error"])  # type: ignore[attr-defined]
            else:
                ack(text=f"Unknown command {verb!r}", response_type="ephemeral")

        @app.view("new_candidate")
        def submitted(ack: Any, view: dict[str, Any], body: dict[str, Any], client: Any) -> None:
            values = view["state"]["values"]
            self.submissions.append(values)
            email = values["email"]["email_value"]["value"]
            stage = values["stage"]["stage_value"]["selected_option"]["value"]
            if "@" not in email:
                ack(response_action="errors", errors={"email": "Enter an email address"})
            elif stage == "onsite":
                ack(response_action="push", view={"type": "modal", "title": text("Onsite details"),
                                                  "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pick a day"}}]})
            elif email.startswith("update"):
                ack(response_action="update", view={"type": "modal", "title": text("Saved"),
                                                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Done"}}]})
            else:
                ack()
                client.chat_postMessage(channel=body["user"]["id"], text=f"Review {email}", blocks=review_blocks(email))

        @app.view_closed("survey")
        def survey_closed(ack: Any, body: dict[str, Any]) -> None:
            ack()
            self.closed.append(body)

        @app.action("more_info")
        def more_info(ack: Any, body: dict[str, Any], client: Any) -> None:
            ack()
            client.views_push(trigger_id=body["trigger_id"], view={
                "type": "modal", "title": text("More"), "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Extra"}}]})

        @app.action("approve")
        def approve(ack: Any, action: dict[str, Any], respond: Any) -> None:
            ack()
            respond(text=f"Approved {action['value']}")  # ephemeral, via the response_url

        @app.action("reject")
        def reject(ack: Any, action: dict[str, Any], respond: Any) -> None:
            ack()
            respond(text=f"Rejected {action['value']}", replace_original=True)

        @app.event("app_home_opened")
        def home(event: dict[str, Any], client: Any) -> None:
            client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"Hi <@{event['user']}>"},
                 "accessory": {"type": "button", "action_id": "approve", "text": text("Approve"), "value": "home"}}]})


@pytest.fixture
def bot(app: App, clock: FakeMonotonic) -> Bot:
    return Bot(app, clock)


@pytest.fixture
def rita(ws: LocalSlack, app: App, bot: Bot) -> Person:
    return Person(ws, "U1", BoltTarget(app))


def test_slash_ack_text_is_shown_only_to_the_user(ws: LocalSlack, rita: Person) -> None:
    result = rita.slash("/outreach", "help")
    assert result.ok and result.body == "Usage: `/outreach new`"  # Bolt acks plain text for ack(text=...)
    assert [(e.text, e.source, e.channel) for e in rita.ephemerals()] == [("Usage: `/outreach new`", "slash_ack", "DU1")]
    assert ws.messages() == [] and ws.ephemerals(user="U2") == []


def test_slash_payload_is_what_slack_sends(ws: LocalSlack, rita: Person) -> None:
    result = rita.slash("/outreach", "help", channel="C1")
    sent = result.payload
    assert (sent["channel_id"], sent["channel_name"], sent["user_name"], sent["team_domain"]) == ("C1", "hiring-alerts", "rita", "local-workspace")
    assert sent["response_url"] == result.response_url and sent["trigger_id"] == result.trigger_id
    assert rita.ephemerals()[0].channel == "C1"


def test_slash_command_opens_a_modal_with_its_trigger_id(ws: LocalSlack, rita: Person) -> None:
    result = rita.slash("/outreach", "new")
    assert result.ok and result.body == ""
    (opened,) = ws.open_views("U1")
    assert opened["callback_id"] == "new_candidate"
    assert ws.calls_to("views.open")[0].params["trigger_id"] == result.trigger_id


def test_submission_with_errors_keeps_the_modal_open(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    result = rita.submit({"email": "not-an-email", "stage": "screen"})
    assert result.errors == {"email": "Enter an email address"}
    assert [v["callback_id"] for v in ws.open_views("U1")] == ["new_candidate"]


def test_submission_state_has_slacks_shape(rita: Person, bot: Bot) -> None:
    rita.slash("/outreach", "new")
    rita.submit({"email_value": "ana@example.com", "stage": "screen", "owner": "U2"})
    assert bot.submissions == [{
        "email": {"email_value": {"type": "plain_text_input", "value": "ana@example.com"}},
        "stage": {"stage_value": {"type": "static_select", "selected_option": {"text": text("Screen"), "value": "screen"}}},
        "owner": {"owner_value": {"type": "users_select", "selected_user": "U2"}},
        "notes": {"notes_value": {"type": "plain_text_input", "value": None}},  # untouched optional input
    }]


def test_good_submission_closes_the_modal_and_the_bot_dms_a_review(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    result = rita.submit({"email": "ana@example.com", "stage": "screen"})
    assert result.ok and result.errors is None and ws.open_views("U1") == []
    (review,) = rita.dm_messages()
    assert review.text == "Review ana@example.com" and review.user == "U0BOT"


def test_button_click_respond_posts_an_ephemeral(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    rita.submit({"email": "ana@example.com", "stage": "screen"})
    result = rita.click("approve")
    assert result.ok
    action = result.payload["actions"][0]
    assert (action["type"], action["value"], result.payload["container"]["type"]) == ("button", "ana@example.com", "message")
    assert result.payload["message"]["ts"] == rita.dm_messages()[0].ts
    assert [e.text for e in rita.ephemerals()] == ["Approved ana@example.com"]


def test_respond_with_replace_original_edits_the_clicked_message(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    rita.submit({"email": "ana@example.com", "stage": "screen"})
    rita.click("reject", in_message=rita.dm_messages()[0])
    (message,) = rita.dm_messages()
    assert (message.text, message.blocks) == ("Rejected ana@example.com", [])


def test_click_in_the_modal_pushes_a_view(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    result = rita.click("more_info")
    assert result.payload["container"]["type"] == "view" and "response_url" not in result.payload
    assert [v["title"]["text"] for v in ws.open_views("U1")] == ["New candidate", "More"]


def test_response_actions_update_push_and_close(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    rita.submit({"email": "update@example.com", "stage": "screen"})
    assert [v["title"]["text"] for v in ws.open_views("U1")] == ["Saved"]
    rita.slash("/outreach", "new")
    rita.submit({"email": "ana@example.com", "stage": "onsite"})
    assert [v["title"]["text"] for v in ws.open_views("U1")] == ["New candidate", "Onsite details"]
    assert rita.close_view() is None  # no notify_on_close: nothing is sent
    assert [v["title"]["text"] for v in ws.open_views("U1")] == ["New candidate"]


def test_closing_a_modal_that_asks_to_be_told(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    rita.slash("/outreach", "survey")
    result = rita.close_view()
    assert result is not None and result.ok
    assert bot.closed[0]["type"] == "view_closed" and bot.closed[0]["view"]["callback_id"] == "survey"
    assert ws.open_views("U1") == []


def test_home_is_published_when_the_user_opens_it(ws: LocalSlack, rita: Person) -> None:
    assert ws.home("U1") is None
    assert rita.open_home().ok
    home = ws.home("U1")
    assert home is not None and home["blocks"][0]["text"]["text"] == "Hi <@U1>"
    result = rita.click("approve", in_home=True)
    assert result.payload["container"] == {"type": "view", "view_id": home["id"]}


def test_forged_signature_and_replayed_request_are_refused(ws: LocalSlack, app: App, bot: Bot) -> None:
    forged = Person(ws, "U1", BoltTarget(app), signing_secret="not-the-secret").slash("/outreach", "help")
    replayed = Person(ws, "U1", BoltTarget(app), timestamp=1_600_000_000).slash("/outreach", "help")
    assert (forged.status, replayed.status) == (401, 401)
    assert ws.ephemerals() == [] and ws.calls == [c for c in ws.calls if c.method == "auth.test"]


def test_people_only_click_what_they_can_see(ws: LocalSlack, app: App, rita: Person) -> None:
    rita.slash("/outreach", "new")
    rita.submit({"email": "ana@example.com", "stage": "screen"})
    sam = Person(ws, "U2", BoltTarget(app))
    with pytest.raises(AssertionError, match="cannot see"):
        sam.click("approve")
    with pytest.raises(AssertionError, match="cannot see"):
        sam.click("approve", in_message=rita.dm_messages()[0])
    with pytest.raises(AssertionError, match="cannot see"):
        rita.click("no_such_button")


def test_the_client_enforces_the_form_rules(ws: LocalSlack, rita: Person) -> None:
    rita.slash("/outreach", "new")
    with pytest.raises(AssertionError, match="required"):
        rita.submit({"email": "ana@example.com"})
    with pytest.raises(AssertionError, match="no option"):
        rita.submit({"email": "ana@example.com", "stage": "offer"})
    with pytest.raises(AssertionError, match="at most 60"):
        rita.submit({"email": "a" * 61, "stage": "screen"})
    with pytest.raises(AssertionError, match="no user"):
        rita.submit({"email": "ana@example.com", "stage": "screen", "owner": "U404"})
    with pytest.raises(AssertionError, match="no input"):
        rita.submit({"emial": "ana@example.com", "stage": "screen"})
    assert len(ws.open_views("U1")) == 1


def test_ambiguous_clicks_need_a_value(ws: LocalSlack, rita: Person, client: Any) -> None:
    client.chat_postMessage(channel="U1", text="two", blocks=review_blocks("a@x.io")[1:] + [
        {"type": "actions", "elements": [{"type": "button", "action_id": "approve", "text": text("Approve"), "value": "b@x.io"}]}])
    with pytest.raises(AssertionError, match="several"):
        rita.click("approve")
    assert rita.click("approve", value="b@x.io").payload["actions"][0]["value"] == "b@x.io"


def test_a_slow_handler_times_out_and_its_trigger_expires(ws: LocalSlack, rita: Person, bot: Bot) -> None:
    result = rita.slash("/outreach", "slow")
    assert result.timed_out and not result.ok
    assert bot.errors == ["expired_trigger_id"] and ws.open_views("U1") == []


def test_transcript_tells_what_each_person_saw(ws: LocalSlack, rita: Person) -> None:
    mark = ws.mark()
    rita.slash("/outreach", "new")
    rita.submit({"email": "ana@example.com", "stage": "screen"})
    kinds = [a.kind for a in ws.transcript_since(mark)]
    # process_before_response: the DM is posted before the ack (which closes the modal) returns
    assert kinds == ["command", "view_opened", "submit", "message", "view_closed"]
    transcript = ws.render_transcript(mark)
    assert "rita runs `/outreach new`" in transcript
    assert "[ Add ]" in transcript and "New candidate *ana@example.com*" in transcript
    assert "[ Approve ]  [ Reject ]" in transcript


def test_picking_from_a_select_in_a_message(ws: LocalSlack, app: App, rita: Person, client: Any) -> None:
    @app.action("pick_stage")
    def pick(ack: Any, action: dict[str, Any], respond: Any) -> None:
        ack()
        respond(text=f"Stage: {action['selected_option']['value']}")

    options = [{"text": text("Screen"), "value": "screen"}, {"text": text("Onsite"), "value": "onsite"}]
    client.chat_postMessage(channel="C1", text="Stage?", blocks=[{"type": "actions", "elements": [
        {"type": "static_select", "action_id": "pick_stage", "placeholder": text("Stage"), "options": options}]}])
    with pytest.raises(AssertionError, match="selected_option_value"):
        rita.click("pick_stage")
    with pytest.raises(AssertionError, match="no option"):
        rita.click("pick_stage", selected_option_value="hired")
    result = rita.click("pick_stage", selected_option_value="onsite")
    assert result.payload["actions"][0]["selected_option"] == options[1]
    assert result.payload["channel"] == {"id": "C1", "name": "hiring-alerts"}
    assert [(e.text, e.channel) for e in rita.ephemerals()] == [("Stage: onsite", "C1")]
