"""The last look before a provider call, made per send, right before that call.

The claim checks that a row may go out, and the batch is looked at again before it is composed, but
a batch's sends leave over seconds: a reply, a pause or a revoke recorded meanwhile must stop every
send that has not yet reached the provider. One indexed read by primary key per send, outside any
transaction (autocommit on PostgreSQL; on SQLite the read's snapshot ends as it returns). What it
cannot close is the moment between this read and the provider's answer: no lock is held across a
network call.
"""
from __future__ import annotations

from sqlalchemy import Engine, bindparam, select

from bot.models import OutboundMessage, OutboundStatus
from scheduling.claims import may_send

O = OutboundMessage
_LOOK = select(O.id).where(O.id == bindparam("b_id"), O.status == OutboundStatus.SENDING,
                           O.claimed_by == bindparam("b_worker"), may_send())


class LastLook:
    def __init__(self, engine: Engine, worker_id: str) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self._options = {"isolation_level": "AUTOCOMMIT"} if engine.dialect.name == "postgresql" else {}

    def __call__(self, row_id: int) -> bool:
        """Whether the claimed row may still go out now."""
        with self.engine.connect().execution_options(**self._options) as connection:
            return connection.execute(_LOOK, {"b_id": row_id, "b_worker": self.worker_id}).first() is not None
