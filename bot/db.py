"""Engine, sessions and migrations: the same code on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with SQLite set up for concurrent use: WAL, a busy timeout, foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
        if parsed.get_backend_name() == "postgresql":
            @event.listens_for(engine, "connect")
            def _no_jit(dbapi_connection: Any, _record: Any) -> None:
                # Every query here is a short index lookup or a batch of a few hundred rows; JIT
                # compiling a plan whose estimate crosses jit_above_cost cost ~16 ms a claim.
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET jit = off")
                dbapi_connection.commit()
        return engine

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # pysqlite's own transaction handling is off (isolation_level=None) so that we issue BEGIN
    # ourselves: BEGIN IMMEDIATE for writers takes the write lock up front instead of failing
    # later with "database is locked" on a read-to-write upgrade.
    engine = create_engine(
        parsed,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def describe_failure(url: str, error: BaseException) -> tuple[str, str]:
    """(the URL with its password hidden, the driver's first line of what failed, password hidden)."""
    try:
        parsed = make_url(url)
        shown, password = parsed.render_as_string(hide_password=True), parsed.password
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot read shows nothing of itself
        shown, password = "unreadable", None
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    what = lines[0] if lines else type(cause).__name__
    if password:
        what = what.replace(str(password), "***")
    return shown, what


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


_writing = threading.local()


def in_write_transaction() -> bool:
    """Whether this thread is inside `transaction(write=True)`. No network call (Slack, a mail
    provider) may be made then: on SQLite the write lock covers the whole database, on PostgreSQL
    row locks wait on the call. tests/conftest.py fails any test that makes one."""
    return getattr(_writing, "depth", 0) > 0


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
    """One unit of work, committed on success. write=True takes SQLite's write lock at BEGIN
    (BEGIN IMMEDIATE), so two writers queue on the busy timeout instead of one failing mid-way;
    keep it short and make no network call inside it (claim, call outside, record)."""
    with factory() as session:
        if write:
            session.connection(execution_options={"sqlite_immediate": True})
            _writing.depth = getattr(_writing, "depth", 0) + 1
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            if write:
                _writing.depth -= 1


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "bot:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations (run by `outreach db upgrade` and at `outreach serve` start-up)."""
    command.upgrade(alembic_config(engine), revision)
