"""Inbound classifier: messages classified per second, against parsing alone measured in the same run.

The inbound fixtures (tests/providers/fixtures/inbound/*.eml: bounces from Postfix, Exim, Exchange,
Office 365 and Gmail, auto-replies, human replies, list mail, receipts) are repeated to --messages
messages. For each mode it prints one JSON line:
  headers_only  providers.classify.parse_message(data, headers_only=True) + classify(headers_only=True),
                against the floor of the email package parsing the same header blocks (policy.default),
                which any provider must do to read a message at all
  full          parse_message(data) + classify(), against the floor of message_from_bytes over the
                same bytes (policy.default)
Each line holds the seconds for all messages (best of a few runs), messages_per_s, floor_per_s,
ratio = messages_per_s / floor_per_s, classify_only_per_s (classify alone on messages parsed
beforehand) and the slowest fixture in that mode with its microseconds per message.

Usage: python bench/classify.py [--messages 5000]
"""
from __future__ import annotations

import argparse
import json
import sys
from email import message_from_bytes, policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._timing import best  # noqa: E402
from providers.classify import classify, parse_message  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "providers" / "fixtures" / "inbound"
OWN = ("rita@recruit.example", "rita.recruiter@gmail.example")


def header_block(data: bytes) -> bytes:
    end = data.find(b"\n\n")
    return data if end < 0 else data[:end + 2]


def bench_mode(mode: str, fixtures: dict[str, bytes], count: int) -> None:
    headers_only = mode == "headers_only"
    names = list(fixtures)
    batch = [fixtures[names[i % len(names)]] for i in range(count)]
    floor_input = [header_block(d) for d in batch] if headers_only else batch

    def bot() -> None:
        for data in batch:
            classify(parse_message(data, headers_only=headers_only), own_addresses=OWN, headers_only=headers_only)

    def floor() -> None:
        for data in floor_input:
            message_from_bytes(data, policy=policy.default)

    parsed = [parse_message(d, headers_only=headers_only) for d in batch]

    def classify_only() -> None:
        for message in parsed:
            classify(message, own_addresses=OWN, headers_only=headers_only)

    seconds, floor_seconds, classify_seconds = best(bot), best(floor), best(classify_only)
    slowest, slowest_us = max(((name, _per_message_us(fixtures[name], headers_only)) for name in names),
                              key=lambda item: item[1])
    print(json.dumps({
        "bench": "classify", "mode": mode, "messages": count, "fixtures": len(names),
        "seconds": round(seconds, 4), "floor_seconds": round(floor_seconds, 4),
        "messages_per_s": round(count / seconds, 1), "floor_per_s": round(count / floor_seconds, 1),
        "ratio": round(floor_seconds / seconds, 3), "classify_only_per_s": round(count / classify_seconds, 1),
        "slowest": slowest, "slowest_us": round(slowest_us, 1),
    }), flush=True)


def _per_message_us(data: bytes, headers_only: bool, rounds: int = 200) -> float:
    def run() -> None:
        for _ in range(rounds):
            classify(parse_message(data, headers_only=headers_only), own_addresses=OWN, headers_only=headers_only)

    return best(run) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    fixtures = {p.name: p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))}
    for mode in ("headers_only", "full"):
        bench_mode(mode, fixtures, args.messages)


if __name__ == "__main__":
    main()
