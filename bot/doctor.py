"""`outreach doctor`: what is wrong with this installation and how to fix it, one line per check.

Every check looks and changes nothing: no file, directory or table is created (a SQLite database is
opened read-only, and only when its file exists), and every malformed setting is reported, each with
what it expects, so one bad value hides no other. A check that depends on a malformed setting is not
run ("not checked"): the setting's own line is the failure to fix first.

| check                 | fails when                                                                   |
|-----------------------|------------------------------------------------------------------------------|
| settings              | a variable is malformed (one line each)                                      |
| database              | cannot connect; SQLite file missing; no schema; schema older or unknown      |
| slack                 | token or signing secret missing; Slack refuses a token; Slack not reachable  |
| encryption            | OUTREACH_ENCRYPTION_KEYS not set                                             |
| Gmail / Office 365    | half of the client ID + secret pair set; no encryption key; http PUBLIC_URL  |
| SMTP/IMAP, sandbox    | never (on or off, and what turns them on)                                    |
| open tracking         | an organisation allows it, but no encryption key (no image) or http PUBLIC_URL |
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.config import EXPECTS, Settings, read_settings
from bot.db import alembic_config, describe_failure, make_engine
from bot.slack_check import SlackProblem, check_slack
from bot.wording import counted


class State(Enum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"  # off by choice, or not checked because of a failure reported on its own line


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    detail: str

    @property
    def ok(self) -> bool:
        return self.state is not State.FAIL


def run_checks(settings: Settings | None = None, problems: dict[str, str] | None = None) -> list[Check]:
    """Read the settings (every malformed one becomes a failed check) and check the rest with them."""
    if settings is None:
        settings, problems = read_settings()
    problems = problems or {}
    database = _database(settings, problems)
    return [*_settings(settings, problems), database, _slack(settings, problems),
            *_mail(settings, problems), _open_tracking(settings, problems, database.state is State.OK)]


def _settings(settings: Settings, problems: dict[str, str]) -> Iterator[Check]:
    for problem in problems.values():
        yield Check("setting", State.FAIL, problem)
    if not problems:
        fields = Settings.model_fields
        named = sorted(str(fields[name].validation_alias) for name in settings.model_fields_set)
        yield Check("settings", State.OK, f"{len(named)} set ({', '.join(named)}), every one well-formed" if named
                    else "none set: every setting at its default")


def _not_checked(name: str, problems: dict[str, str], *variables: str) -> Check | None:
    bad = [v for v in variables if v in problems]
    return Check(name, State.INFO, f"not checked until {' and '.join(bad)} is fixed (above)") if bad else None


def _database(settings: Settings, problems: dict[str, str]) -> Check:
    if (skipped := _not_checked("database", problems, "DATABASE_URL")) is not None:
        return skipped
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return Check("database", State.FAIL, "DATABASE_URL names an in-memory SQLite database: nothing is kept "
                                                 "when the bot stops; name a file, e.g. sqlite:///var/outreach.sqlite3")
        path = Path(url.database).absolute()
        if not path.exists():
            return Check("database", State.FAIL, f"database file {path} does not exist: run `outreach db upgrade` to "
                                                 "create it (a relative DATABASE_URL path starts in the directory "
                                                 "the bot runs in)")
        if not path.is_file():
            return Check("database", State.FAIL, f"{path} is not a file: check DATABASE_URL")
        where, engine = f"SQLite {path}", _read_only_sqlite(path)
    else:
        where, engine = f"PostgreSQL {url.render_as_string(hide_password=True)}", make_engine(
            settings.database_url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        shown, what = describe_failure(settings.database_url, exc)
        return Check("database", State.FAIL, f"cannot read the database at DATABASE_URL ({shown}): {what}")
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    if current == head:
        return Check("database", State.OK, f"{where}, schema up to date ({head})")
    if current is None and not tables:
        return Check("database", State.FAIL, f"{where} has no schema yet: run `outreach db upgrade`")
    if current is None:
        return Check("database", State.FAIL, f"{where} has {counted(len(tables), 'table')} but none of this bot's migrations: "
                                             "is DATABASE_URL this bot's database?")
    try:
        known = script.get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        return Check("database", State.FAIL, f"{where} is at schema {current}, which this version of the bot does "
                                             f"not know (its newest is {head}): is a newer version deployed on it?")
    return Check("database", State.FAIL, f"{where} is at schema {current}, the newest is {head}: run "
                                         "`outreach db upgrade` (serve also upgrades at start-up)")


def _open_tracking(settings: Settings, problems: dict[str, str], database_ok: bool) -> Check:
    """Where an organisation allows open tracking: an image needs a key to make its token, and an https
    address (mail apps and image proxies may refuse to fetch an http image)."""
    if (skipped := _not_checked("open tracking", problems, "OUTREACH_ENCRYPTION_KEYS", "PUBLIC_URL")) is not None:
        return skipped
    if not database_ok:
        return Check("open tracking", State.INFO, "not checked until the database is fixed (above)")
    url = make_url(settings.database_url)
    engine = (_read_only_sqlite(Path(str(url.database)).absolute()) if url.get_backend_name() == "sqlite" else
              make_engine(settings.database_url, poolclass=NullPool, connect_args={"connect_timeout": 10}))
    try:
        with engine.connect() as conn:
            allowing = conn.execute(text("SELECT count(*) FROM organisations WHERE open_tracking")).scalar_one()
    except SQLAlchemyError as exc:
        return Check("open tracking", State.INFO, f"not checked: {describe_failure(settings.database_url, exc)[1]}")
    finally:
        engine.dispose()
    if not allowing:
        return Check("open tracking", State.INFO, "off: no organisation allows it (`/outreach admin tracking`)")
    who = f"{counted(allowing, 'organisation')} {'allows' if allowing == 1 else 'allow'} open tracking"
    if not settings.encryption_keys:
        return Check("open tracking", State.FAIL, f"{who}, but OUTREACH_ENCRYPTION_KEYS is not set: emails go "
                                                  "without the tracking image (its token needs a key); create "
                                                  "one with `outreach keys new`")
    if urlsplit(settings.public_url).scheme != "https":
        return Check("open tracking", State.FAIL, f"{who}, but PUBLIC_URL ({settings.public_url}) is not https: mail "
                                                  "apps and image proxies may refuse to fetch an http image; set "
                                                  "PUBLIC_URL to the bot's https address")
    return Check("open tracking", State.OK, f"{who}: images served at {settings.public_url.rstrip('/')}/o/")


def _read_only_sqlite(path: Path) -> Engine:
    """An engine that can only read `path` and creates nothing next to it. A WAL database opened
    read-only still creates its -wal and -shm files when they are missing; they are missing only when
    no process has the database open, and then nothing can change under us: `immutable=1` reads the
    file alone. When they exist (the bot is running), `mode=ro` reads through them."""
    wal_open = Path(f"{path}-wal").exists()
    uri = path.as_uri() + ("?mode=ro" if wal_open else "?mode=ro&immutable=1")
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
                         poolclass=NullPool)


def _slack(settings: Settings, problems: dict[str, str]) -> Check:
    variables = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL")
    if (skipped := _not_checked("slack", problems, *variables)) is not None:
        return skipped
    missing = [name for name, value in (("SLACK_BOT_TOKEN", settings.slack_bot_token),
                                        ("SLACK_SIGNING_SECRET", settings.slack_signing_secret)) if value is None]
    if missing:
        them = "them" if len(missing) > 1 else "it"
        return Check("slack", State.FAIL, f"{' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} not set: "
                                          f"`outreach serve` needs {them} (README: 'Run it in your Slack workspace'); "
                                          "`outreach demo` needs none")
    try:
        who = check_slack(settings)
    except SlackProblem as exc:
        return Check("slack", State.FAIL, str(exc))
    mode = "Socket Mode (SLACK_APP_TOKEN accepted)" if settings.slack_app_token else "HTTP (/slack/events)"
    return Check("slack", State.OK, f"signed in as {who.user} in {who.team}; {mode}")


def _mail(settings: Settings, problems: dict[str, str]) -> Iterator[Check]:
    keys_bad = "OUTREACH_ENCRYPTION_KEYS" in problems
    if keys_bad:
        yield Check("encryption", State.INFO, "not checked until OUTREACH_ENCRYPTION_KEYS is fixed (above)")
    elif not settings.encryption_keys:
        yield Check("encryption", State.FAIL, "OUTREACH_ENCRYPTION_KEYS is not set: mailbox sign-ins cannot be "
                                              "stored, so no real mailbox can be connected; create a key with "
                                              "`outreach keys new`")
    else:
        yield Check("encryption", State.OK, f"{counted(len(settings.encryption_keys), 'key')}; the first encrypts")
    keys = bool(settings.encryption_keys) and not keys_bad
    yield _oauth(settings, problems, keys, label="Gmail", vendor="Google", path="google",
                 id_var="GOOGLE_CLIENT_ID", secret_var="GOOGLE_CLIENT_SECRET",
                 client_id=settings.google_client_id, has_secret=settings.google_client_secret is not None,
                 what="a Google Cloud OAuth client of type Web application",
                 where="Google Cloud console → APIs & Services → Credentials")
    yield _oauth(settings, problems, keys, label="Office 365", vendor="Microsoft", path="microsoft",
                 id_var="MICROSOFT_CLIENT_ID", secret_var="MICROSOFT_CLIENT_SECRET",
                 client_id=settings.microsoft_client_id, has_secret=settings.microsoft_client_secret is not None,
                 what="an Entra ID app registration with delegated Graph permissions",
                 where="Entra admin center → App registrations")
    if keys:
        yield Check("SMTP/IMAP", State.OK, "ready: 'Other (SMTP + IMAP)' is offered; each mailbox's servers and "
                                           "app password are checked when its owner connects it")
    elif keys_bad:
        yield Check("SMTP/IMAP", State.INFO, "not checked until OUTREACH_ENCRYPTION_KEYS is fixed (above)")
    else:
        yield Check("SMTP/IMAP", State.INFO, "off until OUTREACH_ENCRYPTION_KEYS is set (app passwords are kept "
                                             "encrypted)")
    if settings.sandbox_mailboxes:
        yield Check("sandbox", State.OK, f"sandbox mailboxes on: mail is kept in {settings.sandbox_dir} and never "
                                         "leaves this machine (OUTREACH_SANDBOX_MAILBOXES=false turns them off)")
    else:
        yield Check("sandbox", State.INFO, "sandbox mailboxes off (OUTREACH_SANDBOX_MAILBOXES=true offers them, to "
                                           "try the bot without a real mailbox)")


def _oauth(settings: Settings, problems: dict[str, str], keys: bool, *, label: str, vendor: str, path: str,
           id_var: str, secret_var: str, client_id: str | None, has_secret: bool, what: str, where: str) -> Check:
    """A sign-in provider: ready, off (neither half set), or what is missing to turn it on."""
    if (skipped := _not_checked(label, problems, id_var, secret_var, "PUBLIC_URL")) is not None:
        return skipped
    redirect = f"{settings.public_url.rstrip('/')}/oauth/{path}/callback"
    if not client_id and not has_secret:
        return Check(label, State.INFO, f"off: to offer 'Sign in with {vendor}', set {id_var} and {secret_var} "
                                        f"({what}, redirect URI {redirect})")
    if not has_secret:
        return Check(label, State.FAIL, f"{id_var} is set but {secret_var} is not: set it to {EXPECTS[secret_var]} ({where})")
    if not client_id:
        return Check(label, State.FAIL, f"{secret_var} is set but {id_var} is not: set it to {EXPECTS[id_var]} ({where})")
    if not keys:
        return Check(label, State.FAIL, f"{id_var} and {secret_var} are set, but sign-ins cannot be stored without "
                                        "OUTREACH_ENCRYPTION_KEYS (and `outreach serve` will not start): create a "
                                        "key with `outreach keys new`")
    public = urlsplit(settings.public_url)
    if public.scheme != "https" and public.hostname not in ("localhost", "127.0.0.1", "::1"):
        return Check(label, State.FAIL, f"PUBLIC_URL ({settings.public_url}) is not https: {vendor} accepts http "
                                        "redirect URIs for localhost only; set PUBLIC_URL to the bot's https address")
    return Check(label, State.OK, f"ready: 'Sign in with {vendor}' is offered (client {client_id}); the client "
                                  f"must list the redirect URI {redirect}")
