"""The last look before a provider call: no row leaves unless a read, at most FRESH_SECONDS old when
its provider call starts, found it still claimed by us and still allowed to go out.

The claim checks that a row may go out, and the batch is looked at again before it is composed, but
a batch's sends leave over seconds: a reply, a pause or a revoke recorded meanwhile must stop every
send that has not yet reached the provider. A read per send cost a round trip per send (a third of
a send's time on PostgreSQL), so one read looks at the next rows of the batch together (up to
GROUP, in the order they will be sent), and a send uses that answer only while it is fresh; an
older one is read again. What no look can close is the moment between the read and the provider's
answer: no lock is held across a network call. FRESH_SECONDS adds at most that much to it, against
the minutes a reply takes to reach the bot (the inbound poll).

Reads run outside any transaction: autocommit on PostgreSQL; on SQLite (whose connections here run
without an implicit transaction) each read is its own snapshot. The query is the claim's own
`may_send` (the rule is written once), compiled to SQL text once and run on a DBAPI connection
borrowed from the engine's pool for one batch of sends. It also refuses a recipient on the
do-not-contact list (an entry added after the claim): no extra statement per send.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, literal_column, select

from bot.models import Mailbox, OutboundMessage, OutboundStatus
from bot.services.do_not_contact import listed_sends
from scheduling.claims import may_send, one_off_may_send

O = OutboundMessage
FRESH_SECONDS = 0.02
GROUP = 64


def _sql(engine: Engine, one_off: bool = False) -> str:
    """The look as SQL text with two positional placeholders (the row ids, the worker), constants
    inlined: the ids as an array (PostgreSQL) or a JSON list (SQLite). For one-off or preview rows
    (`one_off`), their own condition (claims.one_off_may_send). Either way a recipient on the
    do-not-contact list is refused here, in the same statement (scheduling.outcomes ends the enrollment)."""
    rows, worker = literal_column("__ROW_IDS__"), literal_column("__WORKER__")
    organisation = select(Mailbox.organisation_id).where(Mailbox.id == O.mailbox_id).correlate_except(Mailbox) \
        .scalar_subquery()
    query = select(O.id).where(
        O.id.in_([rows]), O.status == OutboundStatus.SENDING, O.claimed_by == worker,
        one_off_may_send() if one_off else may_send(), ~listed_sends(organisation))
    text = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    if engine.dialect.paramstyle == "qmark":
        return text.replace("(__ROW_IDS__)", "(SELECT value FROM json_each(?))").replace("__WORKER__", "?")
    return text.replace("IN (__ROW_IDS__)", "= ANY(%s)").replace("__WORKER__", "%s")


class LastLook:
    def __init__(self, engine: Engine, worker_id: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.monotonic = monotonic  # injected: a test moves it to age a look
        self.sql = _sql(engine)
        self.one_off_sql = _sql(engine, one_off=True)
        self._autocommit = engine.dialect.name == "postgresql"

    def ids_param(self, ids: list[int]) -> Any:
        return ids if self._autocommit else json.dumps(ids)

    @contextmanager
    def batch(self, order: Iterable[int] = ()) -> Iterator[Looks]:
        """Looks for one batch of sends; `order`: the rows in the order they will be sent, so one
        read answers for the next ones too."""
        looks = Looks(self, order)
        try:
            yield looks
        finally:
            looks.close()


class Looks:
    """Callable per row id, from any number of sending threads; one read at a time."""

    def __init__(self, owner: LastLook, order: Iterable[int]) -> None:
        self.owner = owner
        self._upcoming = dict.fromkeys(order)  # rows not yet sent, in sending order
        self._seen: dict[int, tuple[bool, float]] = {}  # row id → (may go out, when read)
        self._lock = threading.Lock()  # guards the two dicts
        self._reading = threading.Lock()  # one read at a time, on one connection
        self._connection: Any = None
        self.reads = 0

    def expect(self, order: Iterable[int]) -> None:
        """More rows to be sent after those already expected, in this order."""
        with self._lock:
            self._upcoming.update(dict.fromkeys(order))

    def __call__(self, row_id: int, one_off: bool = False) -> bool:
        """Whether the claimed row (a one-off or preview row with `one_off`) may still go out now."""
        if one_off:  # a few at a time, each sent after the one before: one read each
            with self._reading:
                return row_id in self._read([row_id], self.owner.one_off_sql)
        answer = self._fresh(row_id)
        if answer is None:
            with self._reading:
                answer = self._fresh(row_id)  # another thread's read may have answered meanwhile
                if answer is None:
                    with self._lock:
                        group = [row_id] + [i for i in self._upcoming if i != row_id
                                            and not self._is_fresh(i)][:GROUP - 1]
                    found = self._read(group, self.owner.sql)
                    at = self.owner.monotonic()
                    with self._lock:
                        self._seen.update((i, (i in found, at)) for i in group)
                    answer = row_id in found
        with self._lock:
            self._upcoming.pop(row_id, None)
            self._seen.pop(row_id, None)  # used once: a second call for the row reads again
        return answer

    def _is_fresh(self, row_id: int) -> bool:
        seen = self._seen.get(row_id)
        return seen is not None and self.owner.monotonic() - seen[1] <= FRESH_SECONDS

    def _fresh(self, row_id: int) -> bool | None:
        with self._lock:
            return self._seen[row_id][0] if self._is_fresh(row_id) else None

    def _read(self, ids: list[int], sql: str) -> set[int]:
        connection = self._take()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, (self.owner.ids_param(ids), self.owner.worker_id))
            found = {row[0] for row in cursor.fetchall()}
            cursor.close()
        except BaseException:
            self._connection = None
            connection.invalidate()
            raise
        self.reads += 1
        return found

    def _take(self) -> Any:
        if self._connection is None:
            self._connection = self.owner.engine.raw_connection()
            if self.owner._autocommit:
                self._connection.driver_connection.autocommit = True
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            if self.owner._autocommit:
                self._connection.driver_connection.autocommit = False
            self._connection.close()  # back to the pool
            self._connection = None
