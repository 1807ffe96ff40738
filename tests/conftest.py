"""Shared fixtures. Every test that touches the database runs on SQLite, and on PostgreSQL when
OUTREACH_TEST_DATABASE_URL is set (CI sets it). Each pytest-xdist worker gets its own PostgreSQL
schema, migrated once; tables are emptied between tests."""
from __future__ import annotations

import os
import random
import socket
import ssl
import threading
import traceback
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from bot.clock import FakeClock
from bot.config import Settings
from bot.db import in_write_transaction, make_engine, upgrade
from bot.models import Base
from bot.runtime import Runtime, build_runtime
from tests.standins.tls import TestCertificates, make_certificates

PG_URL = os.environ.get("OUTREACH_TEST_DATABASE_URL")
NETWORK_IN_WRITE = "network_in_write"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{NETWORK_IN_WRITE}(reason): this test makes a network call inside a "
                                       "database write transaction on purpose (the reason says why)")


class NetworkInWriteTransaction(AssertionError):
    """A Slack or provider call made while this thread holds a database write transaction."""


_CAUGHT: list[str] = []  # where a network call was made inside a write, for the running test


def _guarded(original: object) -> object:
    def call(self: socket.socket, *args: object, **kwargs: object) -> object:
        if in_write_transaction():
            where = "".join(traceback.format_list([f for f in traceback.extract_stack()[:-1] if _ours(f.filename)]))
            _CAUGHT.append(f"{getattr(original, '__name__', original)} to {_peer(self, args)} "
                           f"on {threading.current_thread().name}\n{where}")
            raise NetworkInWriteTransaction("a network call inside a database write transaction")
        return original(self, *args, **kwargs)  # type: ignore[operator]
    return call


ROOT = str(Path(__file__).resolve().parent.parent)


def _ours(filename: str) -> bool:
    return filename.startswith(ROOT) and "/.venv/" not in filename and not filename.endswith("tests/conftest.py")


def _peer(sock: socket.socket, args: tuple[object, ...]) -> object:
    try:
        return sock.getpeername()
    except OSError:
        return args[0] if args else "?"


@pytest.fixture(autouse=True)
def no_network_in_write_transactions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails any test in which this thread calls out over a socket (Slack, a mail provider, a
    stand-in) while it holds `transaction(write=True)`: on SQLite that write lock covers the whole
    database, so every network call follows the dispatcher's route instead (claim, call outside,
    record). Database traffic does not use Python sockets (libpq, sqlite), and in-process stand-ins
    answer on their own threads, which hold no transaction. A test that does it on purpose says so
    with @pytest.mark.network_in_write(reason=...)."""
    if request.node.get_closest_marker(NETWORK_IN_WRITE) is not None:
        yield
        return
    for cls, names in ((socket.socket, ("connect", "connect_ex", "send", "sendall", "sendto")),
                       (ssl.SSLSocket, ("send", "sendall", "write"))):
        for name in names:
            original = getattr(cls, name, None)
            if original is not None:
                monkeypatch.setattr(cls, name, _guarded(original))
    _CAUGHT.clear()
    yield
    caught, _CAUGHT[:] = list(_CAUGHT), []
    if caught:
        pytest.fail(f"{len(caught)} network call(s) inside a database write transaction; the first:\n{caught[0]}",
                    pytrace=False)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set OUTREACH_TEST_DATABASE_URL to run against PostgreSQL"))]

# A Monday morning in New York, far from any DST change unless a test asks for one.
T0 = datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc)


def _pg_engine(schema: str) -> Engine:
    admin = make_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})  # type: ignore[arg-type]


# The URL of each migrated engine, for tests that start worker processes on the same database.
PROCESS_URLS: dict[int, str] = {}


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        engine = make_engine(url)
        PROCESS_URLS[id(engine)] = url
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"t_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    engine = _pg_engine(schema)
    PROCESS_URLS[id(engine)] = f"{PG_URL}?options=-csearch_path%3D{schema}"
    upgrade(engine)
    yield engine
    engine.dispose()
    with make_engine(PG_URL).begin() as conn:  # type: ignore[arg-type]
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    yield migrated_engine
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with migrated_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "OUTREACH_SANDBOX_MAILBOXES": True,
        "OUTREACH_SANDBOX_DIR": str(tmp_path / "sandbox"),
        "OUTREACH_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def runtime(settings: Settings, engine: Engine, clock: FakeClock) -> Runtime:
    return build_runtime(settings, clock=clock, rng=random.Random(7), engine=engine)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """A throwaway CA and a server certificate for 127.0.0.1, shared by every stand-in and mail server."""
    return make_certificates(tmp_path_factory.mktemp("tls"))
