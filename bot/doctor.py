"""`outreach doctor`: what is wrong with this installation and how to fix it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.db import alembic_config, make_engine
from bot.slack_app import bot_client


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _database(settings: Settings) -> Check:
    try:
        engine = make_engine(settings.database_url)
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    except SQLAlchemyError as exc:
        return Check("database", False, f"cannot connect ({type(exc.orig or exc).__name__}); check DATABASE_URL")
    if current != head:
        return Check("database", False, f"schema at {current or 'nothing'}, newest is {head}: run `outreach db upgrade`")
    return Check("database", True, f"{engine.dialect.name}, schema up to date ({head})")


def _slack(settings: Settings) -> Check:
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        return Check("slack", False, "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are needed to serve a real "
                                     "workspace (see README: 'Run it in your Slack workspace'); "
                                     "`outreach demo` needs neither")
    try:
        auth = bot_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url, timeout=10).auth_test()
    except SlackApiError as exc:
        return Check("slack", False, f"auth.test refused the bot token ({exc.response.get('error')}): "
                                     "reinstall the app and copy the new Bot User OAuth Token")
    except OSError as exc:
        return Check("slack", False, f"cannot reach {settings.slack_api_url} ({type(exc).__name__})")
    mode = "Socket Mode" if settings.slack_app_token else "HTTP (/slack/events)"
    return Check("slack", True, f"signed in as {auth.get('user')} in {auth.get('team')}; {mode}")


def _providers(settings: Settings) -> Iterator[Check]:
    if not settings.encryption_keys:
        yield Check("encryption", False, "OUTREACH_ENCRYPTION_KEYS is not set: mailbox credentials cannot be "
                                         "stored; create a key with `outreach keys new`")
    else:
        yield Check("encryption", True, f"{len(settings.encryption_keys)} key(s); the first encrypts")
    if settings.sandbox_mailboxes:
        yield Check("providers", True, f"sandbox mailboxes on (mail kept in {settings.sandbox_dir})")
    else:
        yield Check("providers", False, "no mail provider is available: Gmail, Office 365 and SMTP/IMAP are "
                                        "not built yet; set OUTREACH_SANDBOX_MAILBOXES=true to try the bot")


def run_checks(settings: Settings) -> list[Check]:
    return [_database(settings), _slack(settings), *_providers(settings)]
