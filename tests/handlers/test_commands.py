from __future__ import annotations

import logging
from pathlib import Path

import pytest
from slack_bolt import App
from sqlalchemy import Engine

from bot.clock import FakeClock
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.slack_app import build_app
from handlers.commands import COMMAND
from tests.handlers.conftest import RITA, runtime_with


def _shown(ws: LocalSlack, user: str = RITA) -> str:
    last = ws.ephemerals(user)[-1]
    return render_blocks(last.blocks) if last.blocks else last.text


def test_help_lists_every_subcommand_with_its_description(rita: Person, workspace: LocalSlack, app: App) -> None:
    result = rita.slash(COMMAND, "help")
    assert result.ok
    shown = _shown(workspace)
    for name, description in [("help", "list every command"), ("connect", "connect the mailbox"),
                              ("mailboxes", "your mailboxes")]:
        assert f"/outreach {name}` — {description}" in shown


@pytest.mark.parametrize("text", ["frobnicate", "Connectt now"])
def test_an_unknown_subcommand_answers_with_the_help_naming_it(rita: Person, workspace: LocalSlack, text: str) -> None:
    rita.slash(COMMAND, text)
    shown = _shown(workspace)
    assert f"I don't know `/outreach {text.split()[0]}`" in shown
    assert "/outreach connect" in shown


def test_an_empty_command_shows_the_help(rita: Person, workspace: LocalSlack) -> None:
    rita.slash(COMMAND, "")
    assert "/outreach help" in _shown(workspace)
    assert "I don't know" not in _shown(workspace)


def test_a_forged_signature_is_refused_and_nothing_happens(workspace: LocalSlack, app: App) -> None:
    forger = Person(workspace, RITA, BoltTarget(app), signing_secret="not-the-secret")
    result = forger.slash(COMMAND, "help")
    assert result.status == 401
    assert workspace.ephemerals(RITA) == []


def test_a_replayed_old_request_is_refused(workspace: LocalSlack, app: App) -> None:
    import time

    replay = Person(workspace, RITA, BoltTarget(app), timestamp=int(time.time()) - 10 * 60)
    assert replay.slash(COMMAND, "help").status == 401


def test_a_domain_error_becomes_a_clear_ephemeral(tmp_path: Path, workspace: LocalSlack, engine: Engine,
                                                   clock: FakeClock) -> None:
    runtime = runtime_with(tmp_path, workspace, engine, clock, OUTREACH_SANDBOX_MAILBOXES=False,
                           OUTREACH_ENCRYPTION_KEYS="")  # no provider configured, nothing to keep secrets with
    rita = Person(workspace, RITA, BoltTarget(build_app(runtime, process_before_response=True)))
    rita.slash(COMMAND, "connect")
    shown = _shown(workspace)
    assert shown.startswith(":warning: No mail provider is configured on this bot yet")
    assert workspace.open_views(RITA) == []


def test_an_unexpected_error_is_an_apology_with_a_reference_never_a_trace(
        rita: Person, workspace: LocalSlack, runtime, caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("internal detail: db password=hunter2")

    monkeypatch.setattr("handlers.mailboxes.mailbox_summaries", broken)
    with caplog.at_level(logging.ERROR, logger="outreach.errors"):
        rita.slash(COMMAND, "mailboxes")
    shown = _shown(workspace)
    assert "Something went wrong on our side, and nothing was changed" in shown
    assert "hunter2" not in shown and "Traceback" not in shown
    reference = shown.rsplit("reference: ", 1)[1].rstrip(".")
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)
