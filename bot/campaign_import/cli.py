"""`outreach campaign import FILE [--start] [--dry-run]`: the command line over import_campaign."""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bot import yaml_limits
from bot.campaign_import.problems import ImportProblems
from bot.campaign_import.schema import example
from bot.campaign_import.writing import import_campaign, import_campaign_text
from bot.command import Command
from bot.config import Settings
from bot.errors import UserError

EXIT_OK = 0
EXIT_PROBLEMS = 2
monotonic: Callable[[], float] = time.monotonic  # a test puts its own clock here


class _Progress:
    """A large import's phases on stderr, each with the seconds since the command began (stdout keeps
    only the summary, for scripts)."""

    def __init__(self) -> None:
        self.began = monotonic()

    def __call__(self, phase: str) -> None:
        print(f"outreach: {phase} ({monotonic() - self.began:.1f} s)", file=sys.stderr, flush=True)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the YAML file, or - to read standard input")
    parser.add_argument("--start", action="store_true", help="start the campaign right after the import")
    parser.add_argument("--dry-run", action="store_true",
                        help="check everything (database included), then write nothing")


def _run_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import upgrade
    from bot.runtime import build_runtime

    progress = _Progress()
    runtime = build_runtime(settings)
    try:
        upgrade(runtime.engine)
        if args.file == "-":
            text = sys.stdin.read(yaml_limits.MAX_BYTES + 1)  # enough to know it is too large
            result = import_campaign_text(runtime, text, file="<stdin>", start=args.start,
                                          dry_run=args.dry_run, progress=progress)
        else:
            result = import_campaign(runtime, args.file, start=args.start, dry_run=args.dry_run, progress=progress)
    except ImportProblems as exc:
        if len(exc.problems) == 1 and exc.problems[0].line is None:  # about the file as a whole: one line
            print(f"outreach: {exc.problems[0]}; nothing was imported", file=sys.stderr)
            return EXIT_PROBLEMS
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"outreach: {count} problem{'s' if count != 1 else ''} in {exc.file}; nothing was imported",
              file=sys.stderr)
        return EXIT_PROBLEMS
    except UserError as exc:
        print(f"outreach: {exc.message}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        runtime.engine.dispose()
    print(result.summary())
    return EXIT_OK


COMMAND = Command(
    "campaign import", "create a campaign from a YAML file, without Slack", _run_import, _arguments,
    parser={"description": "Create a campaign (owner, mailbox, sequence, settings, candidates) from a YAML file. "
                           "Every problem is reported as FILE:LINE: field: message, and a bad file writes "
                           "nothing (exit 2).",
            "epilog": example(), "formatter_class": argparse.RawDescriptionHelpFormatter})
