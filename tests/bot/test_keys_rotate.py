from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.cli import main
from bot.crypto import CredentialCipher
from bot.clock import FakeClock
from bot.db import make_engine, session_factory, transaction, upgrade
from bot.models import Mailbox, Provider
from tests.conftest import T0
from tests.factories import recruiter
from bot.services.mailboxes import connect_mailbox


def test_rotate_re_encrypts_every_credential_under_the_first_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    clock = FakeClock(T0)
    with transaction(session_factory(engine), write=True) as session:
        owner = recruiter(session, clock)
        connect_mailbox(session, owner=owner, provider=Provider.SMTP_IMAP, address="rita@acme.test",
                        credentials=CredentialCipher([old]).encrypt(b'{"password": "pw"}'), clock=clock)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("OUTREACH_ENCRYPTION_KEYS", f"{new},{old}")
    assert main(["keys", "rotate"]) == 0
    assert "re-encrypted the credentials of 1 mailbox(es)" in capsys.readouterr().out
    with transaction(session_factory(engine)) as session:
        stored = session.scalar(select(Mailbox.credentials))
    assert CredentialCipher([new]).decrypt(stored) == b'{"password": "pw"}'  # the old key is no longer needed

    monkeypatch.setenv("OUTREACH_ENCRYPTION_KEYS", Fernet.generate_key().decode())  # neither key: refuse, change nothing
    assert main(["keys", "rotate"]) == 1
    assert "cannot be decrypted with any configured key; nothing was changed" in capsys.readouterr().err
    with transaction(session_factory(engine)) as session:
        assert session.scalar(select(Mailbox.credentials)) == stored
