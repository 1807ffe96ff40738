"""The last look before a provider call, made per send, right before that call.

The claim checks that a row may go out, and the batch is looked at again before it is composed, but
a batch's sends leave over seconds: a reply, a pause or a revoke recorded meanwhile must stop every
send that has not yet reached the provider. One read by primary key per send, outside any
transaction: autocommit on PostgreSQL; on SQLite (whose connections here run without an implicit
transaction) each read is its own snapshot. What it cannot close is the moment between this read and
the provider's answer: no lock is held across a network call.

It runs once per send on the hot path, so it skips SQLAlchemy's per-statement work: the query (the
claim's own `may_send`, so the rule is written once) is compiled to SQL text once, and run on DBAPI
connections borrowed from the engine's pool for one batch.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, literal_column, select

from bot.models import OutboundMessage, OutboundStatus
from scheduling.claims import may_send, one_off_may_send

O = OutboundMessage


def _sql(engine: Engine, one_off: bool = False) -> str:
    """The look as SQL text with two positional placeholders (row id, worker), constants inlined; for
    a one-off or preview row (`one_off`), its own condition (claims.one_off_may_send)."""
    row, worker = literal_column("__ROW_ID__"), literal_column("__WORKER__")
    query = select(literal_column("1")).select_from(O).where(
        O.id == row, O.status == OutboundStatus.SENDING, O.claimed_by == worker,
        one_off_may_send() if one_off else may_send())
    text = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return text.replace("__ROW_ID__", mark).replace("__WORKER__", mark)


class LastLook:
    def __init__(self, engine: Engine, worker_id: str) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.sql = _sql(engine)
        self.one_off_sql = _sql(engine, one_off=True)
        self._autocommit = engine.dialect.name == "postgresql"

    @contextmanager
    def batch(self) -> Iterator[_Looks]:
        looks = _Looks(self)
        try:
            yield looks
        finally:
            looks.close()


class _Looks:
    """Callable per row id, from any number of sending threads. A look takes about a tenth of a
    millisecond, so a few connections serve them all; more would take from the engine's pool the
    connections the batch's recording needs while the looks are still open."""

    CONNECTIONS = 2

    def __init__(self, owner: LastLook) -> None:
        self.owner = owner
        self._free: list[Any] = []
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.CONNECTIONS)

    def __call__(self, row_id: int, one_off: bool = False) -> bool:
        """Whether the claimed row (a one-off or preview row with `one_off`) may still go out now."""
        with self._slots:
            connection = self._take()
            try:
                cursor = connection.cursor()
                cursor.execute(self.owner.one_off_sql if one_off else self.owner.sql, (row_id, self.owner.worker_id))
                found = cursor.fetchone() is not None
                cursor.close()
            except BaseException:
                with self._lock:
                    self._all.remove(connection)
                connection.invalidate()
                raise
            with self._lock:
                self._free.append(connection)
        return found

    def _take(self) -> Any:
        with self._lock:
            if self._free:
                return self._free.pop()
        connection = self.owner.engine.raw_connection()
        if self.owner._autocommit:
            connection.driver_connection.autocommit = True  # type: ignore[union-attr]
        with self._lock:
            self._all.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._all:
            if self.owner._autocommit:
                connection.driver_connection.autocommit = False  # type: ignore[union-attr]
            connection.close()  # back to the pool
        self._all = self._free = []
