"""bench/_same_work.py must do the bot's per-message work, byte for byte: the same MIME as
OutgoingEmail.to_bytes() and the same files as the sandbox provider, else the floor and the peer
queue of the dispatch benchmark would be measured doing less than the bot."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bench._same_work import BODY, SUBJECT, SameWork
from bot import templates
from providers.base import OutgoingEmail
from providers.sandbox import SandboxProvider, SandboxStore

NOW = datetime(2026, 12, 5, 6, 48, 37, tzinfo=timezone.utc)

CASES = [
    # the bench's own rows
    ("box7@bench.example", "Bench", "c7@work.example", "Cand 7", {"company": "Acme"}, "<abc123@bench.example>"),
    # no sender name; a one-word name (last_name empty)
    ("Box1@Bench.Example", "", "c1@work.example", "Cher", {"company": "Acme"}, "<x@bench.example>"),
    # non-ASCII everywhere: encoded headers, quoted-printable body, the generator's path
    ("box2@bench.example", "Zoë Ångström", "c2@work.example", "Łukasz Żółć", {"company": "Société Générale"},
     "<y@bench.example>"),
    # a long subject that must be folded, and a body line longer than quoted-printable allows
    ("box3@bench.example", "Bench", "c3@work.example", "A" * 90, {"company": "B" * 120 + " = ?"},
     "<z@bench.example>"),
    # a name that must be quoted in To:
    ("box4@bench.example", "Bench", "c4@work.example", "Pat O'Brien, Jr.", {"company": "Acme"}, "<q@bench.example>"),
]


def _bot_email(from_address: str, from_name: str, to_address: str, name: str, fields: dict, message_id: str) -> OutgoingEmail:
    values = templates.candidate_values(name, fields)
    return OutgoingEmail(from_address=from_address, from_name=from_name or None, to_address=to_address,
                         subject=templates.render(SUBJECT, values), body=templates.render(BODY, values),
                         message_id=message_id, date=NOW, to_name=name)


@pytest.mark.parametrize("case", CASES)
def test_mime_bytes_equal_the_bots(case, tmp_path) -> None:
    from_address, from_name, to_address, name, fields, message_id = case
    work = SameWork(tmp_path)
    subject, body = work.render(name, fields)
    email = _bot_email(*case)
    assert (subject, body) == (email.subject, email.body)
    assert work.mime(from_address, from_name, to_address, name, subject, body, message_id, NOW) == email.to_bytes()


def test_sandbox_files_equal_the_providers(tmp_path) -> None:
    ours, bots = tmp_path / "ours", tmp_path / "bot"
    work, store = SameWork(ours), SandboxStore(bots)
    for case in CASES * 2:  # twice: the counter goes on from the lock file, not from 1 again
        work.send(*case[:6], now=NOW)
        SandboxProvider(store, case[0]).send(_bot_email(*case))
    work.close()
    store.close()
    files = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(bots) for p in bots.rglob("*") if p.is_file())
    assert len([f for f in files if f.suffix == ".eml"]) == len(CASES) * 2
    assert not [f for f in files if f.suffix == ".tmp"]
    for relative in files:
        assert (ours / relative).read_bytes() == (bots / relative).read_bytes(), relative
