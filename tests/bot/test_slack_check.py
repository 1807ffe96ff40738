from __future__ import annotations

from pathlib import Path

import pytest
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient

from bot.local.slack import LocalSlack
from bot.slack_check import SlackRefused, SlackUnreachable, check_slack, slack_failure
from tests.conftest import make_settings


def test_a_token_slack_takes_names_the_bot_and_its_workspace(tmp_path: Path) -> None:
    with LocalSlack() as ws:
        who = check_slack(make_settings(tmp_path, SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET="s",
                                        SLACK_API_URL=ws.api_url))
    assert (who.user, who.team) == (ws.user_name(ws.bot_user_id), ws.team_name)


def test_bolts_own_refusal_at_start_up_becomes_the_same_one_line(tmp_path: Path) -> None:
    """serve builds the Bolt app after its own check; should Slack refuse the token in between, Bolt's
    BoltError (which hides Slack's answer in its context) still becomes one line naming the variable."""
    with LocalSlack() as ws:
        settings = make_settings(tmp_path, SLACK_BOT_TOKEN="xoxb-wrong-s3cret", SLACK_SIGNING_SECRET="s",
                                 SLACK_API_URL=ws.api_url)
        with pytest.raises(BoltError) as raised:
            App(client=WebClient(token="xoxb-wrong-s3cret", base_url=ws.api_url), signing_secret="s")
        with pytest.raises(SlackRefused) as refused:
            check_slack(settings)
    mapped = slack_failure(settings, raised.value)
    assert isinstance(mapped, SlackRefused) and str(mapped) == str(refused.value)
    assert str(mapped).startswith("Slack refused SLACK_BOT_TOKEN (invalid_auth): ")
    assert "xoxb-wrong-s3cret" not in str(mapped)


def test_what_is_not_slacks_answer_is_left_alone_for_a_traceback(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
    bug = KeyError("a bug")
    assert slack_failure(settings, bug) is bug
    assert isinstance(slack_failure(settings, ConnectionResetError(104, "Connection reset by peer")), SlackUnreachable)
