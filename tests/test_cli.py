from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.cli import main
from bot.local.demo import run_demo


def test_demo_walks_the_main_job_and_every_expectation_holds(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(workdir=str(tmp_path), out=out) == 0, out.getvalue()
    transcript = out.getvalue()
    assert "rita runs `/outreach help`" in transcript
    assert "✉ email sent" in transcript
    assert "Demo complete: all" in transcript
    assert (tmp_path / "demo.sqlite3").exists()


def test_demo_names_an_expectation_that_did_not_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.rules.when.BEST_DAY_SEND", __import__("datetime").time(15, 0))  # a broken rule
    out = io.StringIO()
    assert run_demo(workdir=str(tmp_path), out=out) == 1
    assert "DEMO FAILED" in out.getvalue()
    assert "- no email leaves before the 16:00 best-time window" in out.getvalue()


def test_keys_new_prints_a_usable_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new"]) == 0
    Fernet(capsys.readouterr().out.strip())


def test_db_upgrade_then_doctor_reports_what_to_fix(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    before = run("doctor")
    assert before.returncode == 1
    assert "does not exist: run `outreach db upgrade`" in before.stdout
    assert not (tmp_path / "x.sqlite3").exists()  # doctor looks, and creates nothing
    assert run("db", "upgrade").returncode == 0
    after = run("doctor")
    assert after.returncode == 1
    assert f"✓ database: SQLite {tmp_path / 'x.sqlite3'}, schema up to date" in after.stdout
    assert "✗ slack: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set: `outreach serve` needs them" in after.stdout
    assert "create a key with `outreach keys new`" in after.stdout


def test_serve_migrates_and_answers_signed_slack_requests_over_http(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    from bot.local.slack import HttpTarget, LocalSlack, Person

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalSlack() as ws:
        ws.add_user("U0RITA", name="rita", tz="America/New_York")
        env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
               "SLACK_BOT_TOKEN": ws.bot_token, "SLACK_SIGNING_SECRET": ws.signing_secret,
               "SLACK_API_URL": ws.api_url, "OUTREACH_SANDBOX_MAILBOXES": "true"}
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                                   "--port", str(port)], env=env, cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:  # wait for the port: start-up runs the migrations first
                try:
                    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read() == b"ok"
                    break
                except OSError:
                    assert server.poll() is None, server.stdout.read()  # type: ignore[union-attr]
                    assert time.monotonic() < deadline, "serve did not start within 30 s"
                    time.sleep(0.1)
            rita = Person(ws, "U0RITA", HttpTarget(f"http://127.0.0.1:{port}/slack/events"))
            assert rita.slash("/outreach", "connect").ok
            # serve acknowledges first and runs the listener after (Slack's 3-second rule): wait for it.
            while not ws.open_views("U0RITA") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ws.open_views("U0RITA")[-1]["title"]["text"] == "Connect a mailbox"
        finally:
            server.terminate()
            output = server.communicate(timeout=30)[0]
    assert ws.bot_token not in output and ws.signing_secret not in output


def test_audit_prints_the_newest_entries_as_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import json
    from datetime import datetime, timezone

    from bot.db import make_engine, session_factory, transaction, upgrade
    from bot.models import AuditEntry

    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine), write=True) as session:
        for n, action in enumerate(["delegation.requested", "direct_send", "delegation.refused_click"]):
            session.add(AuditEntry(actor=f"U{n}", action=action, subject_type="delegation", subject_id=7,
                                   detail={"n": n}, created_at=datetime(2026, 11, 23, 9, n, tzinfo=timezone.utc)))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["audit", "--action", "delegation."]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["action"] for line in lines] == ["delegation.requested", "delegation.refused_click"]  # oldest first
    assert lines[1] == {"at": "2026-11-23T09:02:00+00:00", "actor": "U2", "action": "delegation.refused_click",
                        "subject": "delegation:7", "detail": {"n": 2}}
    assert main(["audit", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_an_unreachable_database_is_one_line_naming_database_url_without_its_password(
        tmp_path: Path, command: str) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on: connecting is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"postgresql://rita:s3cret-Pa55@127.0.0.1:{port}/outreach",
           "SLACK_BOT_TOKEN": "xoxb-local", "SLACK_SIGNING_SECRET": "local-secret", "SLACK_API_URL": "http://127.0.0.1:9/"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", command],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "s3cret-Pa55" not in output and "Traceback" not in output, output
    [line] = output.strip().splitlines()
    assert line.startswith("outreach: cannot reach the database at DATABASE_URL "
                           f"(postgresql://rita:***@127.0.0.1:{port}/outreach): "), line
    assert "Connection refused" in line  # the driver's own words for what failed


def _closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_once(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`outreach serve` as an operator starts it; it must stop by itself (a failure at start-up)."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "SLACK_SIGNING_SECRET": "signing-s3cret-value", **env}
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                           "--port", str(_closed_port())], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


def _one_line(done: subprocess.CompletedProcess[str], *secrets: str) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    for secret in ("signing-s3cret-value", *secrets):
        assert secret not in output
    assert done.stdout == "", done.stdout
    [line] = done.stderr.strip().splitlines()
    return line


def test_serve_with_a_token_slack_refuses_stops_in_one_line_naming_slack_bot_token(tmp_path: Path) -> None:
    from bot.local.slack import LocalSlack

    with LocalSlack() as ws:
        done = _serve_once(tmp_path, SLACK_BOT_TOKEN="xoxb-wrong-but-s3cret", SLACK_API_URL=ws.api_url)
        assert [call.error for call in ws.calls_to("auth.test")] == ["invalid_auth"]  # Slack was asked
    assert done.returncode == 4
    line = _one_line(done, "xoxb-wrong-but-s3cret")
    assert line == ("outreach: Slack refused SLACK_BOT_TOKEN (invalid_auth): Slack does not know this token (a typo, "
                    "or a token of another app or workspace): copy the Bot User OAuth Token (xoxb-…) from the app's "
                    "OAuth & Permissions page")


def test_serve_with_slack_unreachable_stops_in_one_line_naming_slack_api_url_and_why(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    done = _serve_once(tmp_path, SLACK_BOT_TOKEN="xoxb-good-s3cret", SLACK_API_URL=url)
    assert done.returncode == 5
    assert _one_line(done, "xoxb-good-s3cret") == (
        f"outreach: cannot reach Slack at SLACK_API_URL ({url}): Connection refused; check the network, a proxy or "
        "firewall, and SLACK_API_URL")


def test_serve_against_an_address_that_is_not_the_web_api_says_so(tmp_path: Path) -> None:
    from bot.local.slack import LocalSlack

    with LocalSlack() as ws:  # the workspace answers 404 outside /api/
        url = ws.base_url + "not-the-api/"
        done = _serve_once(tmp_path, SLACK_BOT_TOKEN=ws.bot_token, SLACK_API_URL=url)
    assert done.returncode == 5
    assert _one_line(done, ws.bot_token).startswith(
        f"outreach: SLACK_API_URL ({url}) answered auth.test with HTTP 404 and no Slack Web API reply")


def test_serve_in_socket_mode_with_an_app_token_slack_refuses_names_slack_app_token(tmp_path: Path) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Slack(BaseHTTPRequestHandler):  # takes the bot token, refuses every app-level token
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            method = self.path.rsplit("/", 1)[-1]
            asked.append(method)
            body = ({"ok": True, "user": "outreach", "team": "Acme"} if method == "auth.test"
                    else {"ok": False, "error": "invalid_auth"})
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = _serve_once(tmp_path, SLACK_BOT_TOKEN="xoxb-good-s3cret", SLACK_APP_TOKEN="xapp-wrong-s3cret",
                           SLACK_API_URL=f"http://127.0.0.1:{server.server_port}/api/")
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["auth.test", "apps.connections.open"]
    assert done.returncode == 4
    assert _one_line(done, "xoxb-good-s3cret", "xapp-wrong-s3cret").startswith(
        "outreach: Slack refused SLACK_APP_TOKEN (invalid_auth): Slack does not know this token: create an "
        "app-level token with the connections:write scope")


def test_worker_never_calls_slack_so_a_wrong_token_does_not_stop_it(tmp_path: Path) -> None:
    import signal
    import threading

    from bot.local.slack import LocalSlack

    with LocalSlack() as ws:
        env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
               "SLACK_BOT_TOKEN": "xoxb-wrong-s3cret", "SLACK_SIGNING_SECRET": "x", "SLACK_API_URL": ws.api_url}
        worker = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env, cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        killer = threading.Timer(60, worker.kill)  # a worker that never says it runs fails the test, not CI
        killer.start()
        try:
            seen = []
            for line in worker.stdout:  # type: ignore[union-attr]
                seen.append(line)
                if "worker running" in line:  # migrated, scheduler started, SIGTERM handled
                    break
            assert worker.poll() is None, "".join(seen)
        finally:
            killer.cancel()
            worker.send_signal(signal.SIGTERM)
            output = worker.communicate(timeout=30)[0]
        assert ws.calls == []
    assert worker.returncode == 0, output
