from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings

SECRET = "s3cr3t-signing-value"


def _outreach(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={"PATH": "/usr/bin:/bin", **env},
                          cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("value", ["nonsense", "mysql://u@h/db", "postgresql://:::"])
def test_malformed_database_url_stops_start_up_with_one_line(value: str, tmp_path: Path) -> None:
    result = _outreach("serve", env={"DATABASE_URL": value}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("outreach: DATABASE_URL is not valid: expected a SQLAlchemy URL")
    assert value not in result.stderr  # named, never echoed: a URL can carry a password


def test_missing_signing_secret_stops_serve_and_points_to_the_demo(tmp_path: Path) -> None:
    result = _outreach("serve", env={"SLACK_BOT_TOKEN": "xoxb-123-abc"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "outreach: SLACK_SIGNING_SECRET is not set: expected the Signing Secret from the Slack app's "
        "Basic Information page. To try the bot without a Slack workspace, run: outreach demo"
    ]
    assert "xoxb-123-abc" not in result.stderr + result.stdout


def test_bad_encryption_key_stops_start_up_without_echoing_it(tmp_path: Path) -> None:
    bad = "not-a-real-key-but-a-secret"
    result = _outreach("serve", env={"OUTREACH_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{bad}"},
                       cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "outreach: OUTREACH_ENCRYPTION_KEYS is not valid: expected comma-separated Fernet keys "
        "(32 url-safe base64 bytes each); create one with: outreach keys new"
    ]
    assert bad not in result.stderr


def test_wrong_token_prefix_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    with pytest.raises(ConfigError, match="^SLACK_BOT_TOKEN is not valid: expected a bot token starting with xoxb-$"):
        load_settings(_env_file=None)


def test_secrets_are_hidden_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-visible-nowhere")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("OUTREACH_ENCRYPTION_KEYS", key)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:hunter2@db.internal/outreach")
    shown = repr(load_settings(_env_file=None))
    for secret in ("xoxb-visible-nowhere", SECRET, key, "hunter2"):
        assert secret not in shown


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("OUTREACH_SANDBOX_MAILBOXES=true\nPUBLIC_URL=https://bot.example.com\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.sandbox_mailboxes is True
    assert settings.public_url == "https://bot.example.com"


def test_default_database_is_sqlite_under_var() -> None:
    assert load_settings(_env_file=None).database_url == "sqlite:///var/outreach.sqlite3"


def test_the_reply_watch_is_30_days_unless_set_and_a_negative_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(_env_file=None).reply_watch_days == 30
    monkeypatch.setenv("OUTREACH_REPLY_WATCH_DAYS", "45")
    assert load_settings(_env_file=None).reply_watch_days == 45
    monkeypatch.setenv("OUTREACH_REPLY_WATCH_DAYS", "-1")
    with pytest.raises(ConfigError, match="^OUTREACH_REPLY_WATCH_DAYS is not valid: expected a whole number of days"):
        load_settings(_env_file=None)


def test_every_malformed_setting_is_named_at_once_and_the_others_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import read_settings

    monkeypatch.setenv("DATABASE_URL", "mysql://bot:hunter2@db/outreach")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-s3cret")
    monkeypatch.setenv("OUTREACH_REPLY_WATCH_DAYS", "-1")
    monkeypatch.setenv("OUTREACH_SANDBOX_MAILBOXES", "true")
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com")
    settings, problems = read_settings(_env_file=None)
    assert problems == {
        "DATABASE_URL": "DATABASE_URL is not valid: expected a SQLAlchemy URL such as sqlite:///var/outreach.sqlite3 "
                        "or postgresql://user@host/db",
        "SLACK_BOT_TOKEN": "SLACK_BOT_TOKEN is not valid: expected a bot token starting with xoxb-",
        "OUTREACH_REPLY_WATCH_DAYS": "OUTREACH_REPLY_WATCH_DAYS is not valid: expected a whole number of days, 0 or "
                                     "more (default 30)",
    }
    # the malformed ones are at their defaults, never at the bad value; the well-formed ones are read
    assert (settings.database_url, settings.slack_bot_token, settings.reply_watch_days) == (
        "sqlite:///var/outreach.sqlite3", None, 30)
    assert settings.sandbox_mailboxes is True and settings.public_url == "https://bot.example.com"


def test_start_up_names_the_first_malformed_setting_and_counts_the_others(tmp_path: Path) -> None:
    result = _outreach("serve", env={"SLACK_BOT_TOKEN": "xoxp-user-s3cret", "OUTREACH_REPLY_WATCH_DAYS": "soon",
                                     "OUTREACH_DISPATCH_CONCURRENCY": "0"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "outreach: SLACK_BOT_TOKEN is not valid: expected a bot token starting with xoxb- "
        "(2 more settings malformed: run `outreach doctor`)"]
    assert "xoxp-user-s3cret" not in result.stderr
