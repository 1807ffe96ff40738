"""The `outreach` command line. Each sub-command loads settings itself, so a bad setting stops it
with one line naming the variable, never a traceback. Exit codes: 1 a check or command failed,
2 a setting is missing or malformed, 3 the database cannot be reached, 4 Slack refused a token,
5 Slack cannot be reached."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.command import Command
from bot.config import ConfigError, Settings, load_settings
from bot.crypto import CredentialsUnreadable, new_key
from bot.wording import counted

log = logging.getLogger("outreach")

EXIT_CONFIG = 2
EXIT_DATABASE = 3
EXIT_SLACK_REFUSED = 4
EXIT_SLACK_UNREACHABLE = 5


GROUPS = {"db": "database commands", "keys": "encryption keys",
          "campaign": "campaign commands (import a campaign from a file)"}


def database_unreachable(url: str, error: Exception) -> str:
    """One line naming DATABASE_URL (its password hidden) and the driver's first line of what failed."""
    from bot.db import describe_failure

    shown, what = describe_failure(url, error)
    return f"outreach: cannot reach the database at DATABASE_URL ({shown}): {what}"


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import upgrade
    from bot.oauth_web import OAuthRoutes, build_connectors
    from bot.runtime import build_runtime
    from bot.slack_app import build_app
    from bot.slack_check import check_slack
    from bot.web import favour_acks, wsgi_app
    from handlers.home import home_refresher
    from bot.jobs import start_scheduler, tracking_pixels, unsubscribe_links
    from bot.pixel_web import PixelRoutes
    from bot.unsubscribe_web import UnsubscribeRoutes

    settings.require_slack()
    if settings.google_client() or settings.microsoft_client():
        settings.require_encryption()
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    check_slack(settings)  # a refused token or no Slack stops start-up in one line, before anything listens
    app = build_app(runtime)  # makes no call: the token was checked just above
    oauth = OAuthRoutes(runtime, build_connectors(runtime), on_connected=home_refresher(runtime, app.client))
    opt_out = UnsubscribeRoutes(runtime, unsubscribe_links(runtime))
    pixel = PixelRoutes(runtime, tracking_pixels(runtime))
    timer = start_scheduler(runtime, slack_client=app.client)
    favour_acks()
    try:
        from waitress import serve

        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            # Slack events arrive over the socket; browsers still need the OAuth pages.
            threading.Thread(target=serve, args=(wsgi_app(app, oauth, opt_out, pixel),), daemon=True,
                             kwargs={"host": args.host, "port": args.port}).start()
            log.info("connecting to Slack over Socket Mode; OAuth pages on port %s", args.port)
            SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
        else:
            log.info("serving /slack/events and the OAuth pages on port %s", args.port)
            serve(wsgi_app(app, oauth, opt_out, pixel), host=args.host, port=args.port)
    finally:
        timer.shutdown()
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import upgrade
    from bot.runtime import build_runtime
    from bot.jobs import start_scheduler

    stop = threading.Event()  # first: a SIGTERM during start-up stops the worker cleanly once it is up
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    timer = start_scheduler(runtime)
    log.info("worker running; SIGTERM stops it")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        timer.shutdown()
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.local.demo import run_demo

    return run_demo(workdir=args.workdir, verbose=args.verbose)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import make_engine, upgrade

    upgrade(make_engine(settings.database_url))
    print("database is at the newest schema")
    return 0


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Reads the settings itself: every malformed one is reported, not only the first."""
    from bot.doctor import State, run_checks

    marks = {State.OK: "✓", State.FAIL: "✗", State.INFO: "–"}
    try:
        "".join(marks.values()).encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):  # a terminal that cannot show them (nor the arrows in the fixes)
        marks = {State.OK: "ok", State.FAIL: "XX", State.INFO: "--"}
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="replace")
    checks = run_checks()
    for check in checks:
        print(f"{marks[check.state]} {check.name}: {check.detail}")
    problems = sum(not check.ok for check in checks)
    print("everything looks right" if not problems else f"{counted(problems, 'thing')} to fix")
    return 0 if not problems else 1


def _keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Put a new key first in OUTREACH_ENCRYPTION_KEYS (keep the old ones after it), run this, then
    the old keys can be removed."""
    from bot.db import transaction
    from bot.models import Mailbox
    from bot.runtime import build_runtime
    from sqlalchemy import select

    settings.require_encryption()
    runtime = build_runtime(settings)
    assert runtime.cipher is not None
    try:
        with transaction(runtime.sessions, write=True) as session:  # all or nothing
            mailboxes = list(session.scalars(select(Mailbox).where(Mailbox.credentials.is_not(None))))
            for mailbox in mailboxes:
                current = mailbox.address
                mailbox.credentials = runtime.cipher.rotate(mailbox.credentials)  # type: ignore[arg-type]
    except CredentialsUnreadable:
        print(f"outreach: the credentials of {current} cannot be decrypted with any configured key; nothing was "
              "changed. Add the key they were encrypted with to OUTREACH_ENCRYPTION_KEYS.", file=sys.stderr)
        return 1
    print(f"re-encrypted the credentials of {len(mailboxes)} mailbox(es) under the first key")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    """The newest audit entries, one JSON line each, oldest first (for an IT admin or on-call)."""
    import json

    from sqlalchemy import select

    from bot.db import make_engine, session_factory, transaction
    from bot.models import AuditEntry

    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(args.limit)
    if args.action:
        query = query.where(AuditEntry.action.startswith(args.action))
    with transaction(session_factory(make_engine(settings.database_url))) as session:
        entries = list(session.scalars(query))
        for entry in reversed(entries):
            print(json.dumps({"at": entry.created_at.isoformat(), "actor": entry.actor, "action": entry.action,
                              "subject": f"{entry.subject_type}:{entry.subject_id}" if entry.subject_type else None,
                              "detail": entry.detail}, sort_keys=True))
    return 0


def _keys_new(args: argparse.Namespace, settings: Settings) -> int:
    print(new_key())
    return 0


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="0.0.0.0")


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", default=None, help="where the demo keeps its files (default: a fresh temp dir)")


def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")
    parser.add_argument("--action", default="", help="only actions starting with this, e.g. delegation.")


def commands() -> list[Command]:
    """Every sub-command, in the order `outreach --help` lists them."""
    from bot import classify_cli, plan_cli
    from bot.campaign_import import cli as campaign_import_cli

    return [
        Command("serve", "run the bot (Socket Mode with SLACK_APP_TOKEN, else HTTP) and its scheduler", _serve,
                _serve_arguments),
        Command("worker", "run only the scheduler and dispatcher (scale-out)", _worker),
        Command("demo", "a scripted offline walk through the bot's main job", _demo, _demo_arguments,
                needs_settings=False),
        Command("db upgrade", "apply migrations", _db_upgrade),
        Command("doctor", "check settings, database, Slack and providers; changes nothing", _doctor,
                needs_settings=False),
        Command("audit", "print the newest audit entries (delegation answers, refused clicks, ...)", _audit,
                _audit_arguments),
        plan_cli.COMMAND,
        campaign_import_cli.COMMAND,
        classify_cli.COMMAND,
        Command("keys new", "print a new Fernet key for OUTREACH_ENCRYPTION_KEYS", _keys_new, needs_settings=False),
        Command("keys rotate", "re-encrypt every stored credential under the first key", _keys_rotate),
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outreach", description="Recruiting outreach from Slack.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, Any] = {}
    for command in commands():
        group, _, name = command.name.rpartition(" ")
        where = sub
        if group:
            if group not in groups:
                members = sub.add_parser(group, help=GROUPS[group])
                groups[group] = members.add_subparsers(dest=f"{group}_command", required=True,
                                                       metavar=f"{group.upper()}_COMMAND")
            where = groups[group]
        kind = where._parser_class  # argparse offers no other way to choose one sub-command's parser class
        where._parser_class = command.parser_class or kind
        try:
            one = where.add_parser(name, help=command.help, **command.parser)
        finally:
            where._parser_class = kind
        command.arguments(one)
        one.set_defaults(run=command.run, no_settings=not command.needs_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # migrations and the scheduler narrate every step at INFO
        for noisy in ("alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    run: Callable[[argparse.Namespace, Settings], int] = args.run
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.slack_check import SlackRefused, SlackUnreachable

    settings = None
    try:
        settings = None if getattr(args, "no_settings", False) else load_settings()
        return run(args, settings)  # type: ignore[arg-type]
    except ConfigError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (OperationalError, InterfaceError) as exc:  # at start-up (migrations): the database is not there
        if settings is None:
            raise
        print(database_unreachable(settings.database_url, exc), file=sys.stderr)
        return EXIT_DATABASE
    except SlackRefused as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return EXIT_SLACK_REFUSED
    except SlackUnreachable as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return EXIT_SLACK_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
