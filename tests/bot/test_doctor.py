"""`outreach doctor`: one line per check, every problem with its fix, and nothing changed."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.config import Settings, read_settings
from bot.db import alembic_config, make_engine, upgrade
from bot.doctor import Check, State, run_checks
from bot.local.slack import LocalSlack
from tests import factories
from tests.conftest import BACKENDS, PG_URL, T0

HEAD = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()
KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def no_settings_from_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets reaches the checks in this process."""
    for field in Settings.model_fields.values():
        monkeypatch.delenv(str(field.validation_alias), raising=False)


def doctor(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, as an IT admin runs it."""
    return subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], env={"PATH": "/usr/bin:/bin", **env},
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def checks(**values: object) -> dict[str, Check]:
    found = run_checks(*read_settings(_env_file=None, **values))
    return {check.name: check for check in found if check.name != "setting"}


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under root (root included) with its size, modification time and content."""
    entries = {}
    for path in [root, *sorted(root.rglob("*"))]:
        stat = path.stat()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        entries[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, content)
    return entries


def test_on_a_fresh_directory_it_says_the_database_file_does_not_exist_and_creates_nothing(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    done = doctor(tmp_path)  # every setting at its default: DATABASE_URL=sqlite:///var/outreach.sqlite3
    assert snapshot(tmp_path) == before  # no var/, no database file
    assert done.returncode == 1
    assert (f"✗ database: database file {tmp_path / 'var' / 'outreach.sqlite3'} does not exist: run "
            "`outreach db upgrade` to create it") in done.stdout
    assert "Traceback" not in done.stderr and done.stderr == ""


def test_it_reads_a_migrated_sqlite_database_and_leaves_every_file_as_it_was(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "sqlite:///var/outreach.sqlite3"}
    assert subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env={"PATH": "/usr/bin:/bin", **env},
                          cwd=tmp_path, capture_output=True, timeout=60).returncode == 0
    before = snapshot(tmp_path)
    done = doctor(tmp_path, **env)
    assert snapshot(tmp_path) == before  # not a byte, not a timestamp, and no -wal or -shm file
    assert f"✓ database: SQLite {tmp_path / 'var' / 'outreach.sqlite3'}, schema up to date ({HEAD})" in done.stdout


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that exists and holds nothing: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        (tmp_path / "empty.sqlite3").touch()
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    schema = f"doctor_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_an_empty_database_has_no_schema_yet_and_doctor_leaves_it_empty(empty_database: str) -> None:
    database = checks(DATABASE_URL=empty_database)["database"]
    assert database.state is State.FAIL
    assert database.detail.endswith(" has no schema yet: run `outreach db upgrade`")
    assert "schema at nothing" not in database.detail
    engine = make_engine(empty_database)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []  # not even alembic_version
    engine.dispose()


def test_an_older_schema_is_named_with_the_newest_and_the_command_that_brings_it_there(empty_database: str) -> None:
    engine = make_engine(empty_database)
    upgrade(engine, "0007")
    engine.dispose()
    database = checks(DATABASE_URL=empty_database)["database"]
    assert database.state is State.FAIL
    assert database.detail.endswith(f" is at schema 0007, the newest is {HEAD}: run `outreach db upgrade` "
                                    "(serve also upgrades at start-up)")
    engine = make_engine(empty_database)
    upgrade(engine)
    engine.dispose()
    assert checks(DATABASE_URL=empty_database)["database"].state is State.OK


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = checks(DATABASE_URL=f"postgresql://rita:s3cret-Pa55@127.0.0.1:{port}/outreach")["database"]
    assert database.state is State.FAIL
    assert database.detail.startswith("cannot read the database at DATABASE_URL "
                                      f"(postgresql://rita:***@127.0.0.1:{port}/outreach): ")
    assert "Connection refused" in database.detail and "s3cret-Pa55" not in database.detail


def test_every_malformed_setting_is_reported_each_with_its_fix_and_no_value_is_shown(tmp_path: Path) -> None:
    secrets = {"DATABASE_URL": "mysql://bot:hunter2@db/outreach", "SLACK_BOT_TOKEN": "xoxp-user-s3cret",
               "OUTREACH_ENCRYPTION_KEYS": "not-a-key-but-s3cret", "OUTREACH_DISPATCH_CONCURRENCY": "0",
               "SLACK_SIGNING_SECRET": "signing-s3cret"}
    done = doctor(tmp_path, **secrets)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("✗ setting: ")] == [
        "✗ setting: DATABASE_URL is not valid: expected a SQLAlchemy URL such as sqlite:///var/outreach.sqlite3 or "
        "postgresql://user@host/db",
        "✗ setting: SLACK_BOT_TOKEN is not valid: expected a bot token starting with xoxb-",
        "✗ setting: OUTREACH_ENCRYPTION_KEYS is not valid: expected comma-separated Fernet keys (32 url-safe "
        "base64 bytes each); create one with: outreach keys new",
        "✗ setting: OUTREACH_DISPATCH_CONCURRENCY is not valid: expected a whole number from 1 to 256 (default 32)",
    ]
    # what depends on a malformed setting waits for it, rather than checking a default nobody asked for
    assert "– database: not checked until DATABASE_URL is fixed (above)" in lines
    assert "– slack: not checked until SLACK_BOT_TOKEN is fixed (above)" in lines
    assert "– encryption: not checked until OUTREACH_ENCRYPTION_KEYS is fixed (above)" in lines
    assert lines[-1] == "4 things to fix"
    for value in ("hunter2", "xoxp-user-s3cret", "not-a-key-but-s3cret", "signing-s3cret"):
        assert value not in done.stdout + done.stderr
    assert not (tmp_path / "var").exists()


def test_half_an_oauth_client_names_the_missing_half_and_where_to_find_it(tmp_path: Path) -> None:
    found = checks(GOOGLE_CLIENT_ID="123-abc.apps.googleusercontent.com",
                   MICROSOFT_CLIENT_SECRET="ms-s3cret-value", OUTREACH_ENCRYPTION_KEYS=KEY)
    assert found["Gmail"] == Check("Gmail", State.FAIL, (
        "GOOGLE_CLIENT_ID is set but GOOGLE_CLIENT_SECRET is not: set it to the client secret of that Google OAuth "
        "client (Google Cloud console → APIs & Services → Credentials)"))
    assert found["Office 365"] == Check("Office 365", State.FAIL, (
        "MICROSOFT_CLIENT_SECRET is set but MICROSOFT_CLIENT_ID is not: set it to the Application (client) ID of "
        "the Entra ID app registration (Entra admin center → App registrations)"))
    assert all("ms-s3cret-value" not in check.detail for check in found.values())


def test_configured_providers_are_reported_ready_none_as_not_built(tmp_path: Path) -> None:
    found = checks(GOOGLE_CLIENT_ID="123-abc.apps.googleusercontent.com", GOOGLE_CLIENT_SECRET="g-s3cret",
                   MICROSOFT_CLIENT_ID="0d0b7c1e-app", MICROSOFT_CLIENT_SECRET="ms-s3cret",
                   OUTREACH_ENCRYPTION_KEYS=KEY, PUBLIC_URL="https://outreach.acme.example",
                   OUTREACH_SANDBOX_MAILBOXES=True, OUTREACH_SANDBOX_DIR=str(tmp_path / "mail"))
    assert found["Gmail"] == Check("Gmail", State.OK, (
        "ready: 'Sign in with Google' is offered (client 123-abc.apps.googleusercontent.com); the client must list "
        "the redirect URI https://outreach.acme.example/oauth/google/callback"))
    assert found["Office 365"].state is State.OK
    assert found["Office 365"].detail.endswith("https://outreach.acme.example/oauth/microsoft/callback")
    assert found["SMTP/IMAP"].state is State.OK and found["SMTP/IMAP"].detail.startswith("ready: ")
    assert found["sandbox"].state is State.OK
    assert found["encryption"].state is State.OK
    for check in found.values():
        assert "not built" not in check.detail
        assert "g-s3cret" not in check.detail and "ms-s3cret" not in check.detail and KEY not in check.detail
    assert not (tmp_path / "mail").exists()


def test_a_provider_left_unset_is_off_with_what_turns_it_on_and_is_no_failure() -> None:
    found = checks(OUTREACH_ENCRYPTION_KEYS=KEY)
    assert found["Gmail"] == Check("Gmail", State.INFO, (
        "off: to offer 'Sign in with Google', set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (a Google Cloud OAuth "
        "client of type Web application, redirect URI http://localhost:3000/oauth/google/callback)"))
    assert found["Office 365"].state is State.INFO and found["SMTP/IMAP"].state is State.OK
    without_keys = checks()
    assert without_keys["encryption"].state is State.FAIL
    assert without_keys["SMTP/IMAP"] == Check("SMTP/IMAP", State.INFO, (
        "off until OUTREACH_ENCRYPTION_KEYS is set (app passwords are kept encrypted)"))


@pytest.mark.parametrize(("values", "expected"), [
    ({"PUBLIC_URL": "http://outreach.acme.example"},
     "PUBLIC_URL (http://outreach.acme.example) is not https: Google accepts http redirect URIs for localhost only; "
     "set PUBLIC_URL to the bot's https address"),
    ({"OUTREACH_ENCRYPTION_KEYS": ""},
     "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are set, but sign-ins cannot be stored without "
     "OUTREACH_ENCRYPTION_KEYS (and `outreach serve` will not start): create a key with `outreach keys new`"),
])
def test_a_full_client_pair_still_fails_on_what_its_sign_in_needs(values: dict[str, str], expected: str) -> None:
    found = checks(**{"GOOGLE_CLIENT_ID": "123-abc.apps.googleusercontent.com", "GOOGLE_CLIENT_SECRET": "g-s3cret",
                      "OUTREACH_ENCRYPTION_KEYS": KEY, **values})
    assert found["Gmail"] == Check("Gmail", State.FAIL, expected)


def test_slack_signed_in_refused_or_unreachable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/"
    with LocalSlack() as ws:
        good = checks(SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET="signing-s3cret", SLACK_API_URL=ws.api_url)
        refused = checks(SLACK_BOT_TOKEN="xoxb-wrong-s3cret", SLACK_SIGNING_SECRET="signing-s3cret",
                         SLACK_API_URL=ws.api_url)
    unreachable = checks(SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET="signing-s3cret", SLACK_API_URL=closed)
    missing = checks(SLACK_BOT_TOKEN=ws.bot_token)
    assert good["slack"] == Check("slack", State.OK, f"signed in as {ws.user_name(ws.bot_user_id)} in "
                                                     f"{ws.team_name}; HTTP (/slack/events)")
    assert refused["slack"].state is State.FAIL
    assert refused["slack"].detail.startswith("Slack refused SLACK_BOT_TOKEN (invalid_auth): ")
    assert unreachable["slack"].detail == (f"cannot reach Slack at SLACK_API_URL ({closed}): Connection refused; "
                                           "check the network, a proxy or firewall, and SLACK_API_URL")
    assert missing["slack"] == Check("slack", State.FAIL, (
        "SLACK_SIGNING_SECRET is not set: `outreach serve` needs it (README: 'Run it in your Slack workspace'); "
        "`outreach demo` needs none"))
    for found in (good, refused, unreachable, missing):
        assert all("s3cret" not in check.detail and ws.bot_token not in check.detail for check in found.values())


def test_a_ready_installation_passes_every_check_one_line_each_and_exits_0(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}", "OUTREACH_ENCRYPTION_KEYS": KEY}
    assert subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env={"PATH": "/usr/bin:/bin", **env},
                          cwd=tmp_path, capture_output=True, timeout=60).returncode == 0
    with LocalSlack() as ws:
        done = doctor(tmp_path, **env, SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET="signing-s3cret",
                      SLACK_API_URL=ws.api_url)
    assert done.returncode == 0, done.stdout
    *lines, verdict = done.stdout.splitlines()
    assert verdict == "everything looks right"
    assert [line.split(":")[0] for line in lines] == [
        "✓ settings", "✓ database", "✓ slack", "✓ encryption", "– Gmail", "– Office 365", "✓ SMTP/IMAP", "– sandbox",
        "– open tracking"]
    assert lines[0] == ("✓ settings: 5 set (DATABASE_URL, OUTREACH_ENCRYPTION_KEYS, SLACK_API_URL, SLACK_BOT_TOKEN, "
                        "SLACK_SIGNING_SECRET), every one well-formed")
    assert ws.bot_token not in done.stdout and KEY not in done.stdout and "signing-s3cret" not in done.stdout


def test_it_falls_back_to_plain_marks_where_the_terminal_cannot_show_them(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], cwd=tmp_path, capture_output=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0",
                               "LC_ALL": "C", "GOOGLE_CLIENT_ID": "123-abc.apps.googleusercontent.com"})
    assert done.returncode == 1, done.stderr
    assert b"XX database: database file " in done.stdout and b"Traceback" not in done.stderr
    assert b"XX Gmail: GOOGLE_CLIENT_ID is set but GOOGLE_CLIENT_SECRET is not" in done.stdout  # its fix has an arrow
    assert os.listdir(tmp_path) == []


# ---- open tracking: off while no organisation allows it; else a key and an https PUBLIC_URL -----


def test_open_tracking_is_checked_where_an_organisation_allows_it(empty_database: str) -> None:
    engine = make_engine(empty_database)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        factories.recruiter(session, FakeClock(T0))  # their organisation, as first contact creates it
    https = {"DATABASE_URL": empty_database, "PUBLIC_URL": "https://outreach.example.com"}
    off = checks(**https, OUTREACH_ENCRYPTION_KEYS=KEY)["open tracking"]
    assert off.state is State.INFO and off.detail.startswith("off: no organisation allows it")
    with engine.begin() as conn:
        conn.execute(text("UPDATE organisations SET open_tracking = true"))
    engine.dispose()
    keyless = checks(**https)["open tracking"]
    assert keyless.state is State.FAIL and "1 organisation allows open tracking, but OUTREACH_ENCRYPTION_KEYS is not " \
                                           "set: emails go without the tracking image" in keyless.detail
    plain = checks(DATABASE_URL=empty_database, PUBLIC_URL="http://outreach.example.com",
                   OUTREACH_ENCRYPTION_KEYS=KEY)["open tracking"]
    assert plain.state is State.FAIL and "is not https: mail apps and image proxies may refuse" in plain.detail
    ready = checks(**https, OUTREACH_ENCRYPTION_KEYS=KEY)["open tracking"]
    assert ready.state is State.OK and ready.detail.endswith("images served at https://outreach.example.com/o/")


def test_open_tracking_is_not_checked_while_the_database_is_broken(empty_database: str) -> None:
    found = checks(DATABASE_URL=empty_database)["open tracking"]  # no schema yet
    assert found.state is State.INFO and found.detail == "not checked until the database is fixed (above)"
