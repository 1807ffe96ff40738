"""`outreach plan`: placeholder, being written (registers nothing yet)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    return None
