"""How every `outreach` sub-command is declared (bot/cli.py lists them), wherever its body lives."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command:
    """One `outreach` sub-command, declared the same way wherever it lives: its name ("db upgrade" for
    a member of a group), its help, its arguments, and what runs it. `needs_settings=False` runs it
    without loading settings first (it needs none, or reads them itself to report every problem).
    `run` returns the exit code; main() turns a bad setting, an unreachable database or a refused
    Slack token into one line on stderr."""

    name: str
    help: str
    run: Callable[[argparse.Namespace, Any], int]
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    needs_settings: bool = True
    parser: dict[str, Any] = field(default_factory=dict)  # more for add_parser: description, epilog, ...
    parser_class: type[argparse.ArgumentParser] | None = None  # a parser that reports its own usage errors
