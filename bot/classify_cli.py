"""`outreach classify [--headers-only] [--own ADDRESS]... FILE.eml ...`: what kind of mail each file is.

Prints one JSON object per file, one a line, in the order given:
    {"file": "bounce.eml", "kind": "bounce", "recipients": ["ana@acme.example"], "permanent": true,
     "message_id": null}
`kind` is reply, auto_reply, bounce, complaint or other; `recipients` are the failing addresses of a
bounce, or the reported recipients of a complaint (an abuse or feedback report: someone marked the
email as spam); `permanent` is true (5.x.x), false (4.x.x, delayed, mailbox full) or null (not known);
`message_id` is the Message-ID of the message a complaint reports (null otherwise, or when the report
does not carry it). `--headers-only` reads only
each file's header block, as the bot does under basic permissions. `--own` names the mailbox's own
address (repeat it for aliases): mail from it is never a reply. No settings or database are needed.

A file that cannot be read gets one line on stderr naming it; the others are still classified, and
the command then exits 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.command import Command

PROG = "outreach classify"
EXIT_UNREADABLE = 2


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE.eml", help="raw RFC 5322 messages")
    parser.add_argument("--headers-only", action="store_true",
                        help="read only the header block of each file (what basic permissions allow)")
    parser.add_argument("--own", action="append", default=[], metavar="ADDRESS",
                        help="the mailbox's own address; mail from it is never a reply (repeatable)")


def run(args: argparse.Namespace, settings: Any) -> int:
    from providers.classify import classify, parse_message

    status = 0
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            print(f"{PROG}: {name}: cannot read it: {exc.strerror or exc}", file=sys.stderr)
            status = EXIT_UNREADABLE
            continue
        verdict = classify(parse_message(data, headers_only=args.headers_only), own_addresses=args.own,
                           headers_only=args.headers_only)
        print(json.dumps({"file": name, "kind": verdict.kind.value, "recipients": list(verdict.recipients),
                          "permanent": verdict.permanent, "message_id": verdict.message_id}), flush=True)
    return status


COMMAND = Command(
    "classify", "say whether .eml files are replies, auto-replies, bounces, complaints or other mail (JSON lines)", run,
    _arguments, needs_settings=False,
    parser={"description": "Classify inbound email files as reply, auto_reply, bounce, complaint or other: one JSON "
                           "object a line with the failing recipients of a bounce (or the reported ones of a "
                           "complaint), whether the failure is permanent, and the Message-ID a complaint reports."})
