"""The rolling 24-hour counter: how many sends each mailbox started in each whole UTC hour
(`mailbox_send_counts`). The claim adds to it in the transaction that takes rows, a released claim
subtracts, and a direct send reserves its emails in it; the daily cap counts the hour now plus the
24 before it."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.models import MailboxSendCount

C = MailboxSendCount


def hour_of(moment: datetime) -> datetime:
    """The counter a send at `moment` is added to."""
    return moment.replace(minute=0, second=0, microsecond=0)


@functools.cache
def _add_sends_statement(backend: str) -> Any:
    """Built once per backend with bound parameters, so it is compiled once: a VALUES list made from
    the counts was compiled anew at every claim."""
    insert = postgresql_insert if backend == "postgresql" else sqlite_insert
    statement = insert(C).values(mailbox_id=bindparam("b_mailbox"), hour=bindparam("b_hour", type_=C.hour.type),
                                 sends=bindparam("b_sends"))
    return statement.on_conflict_do_update(index_elements=[C.mailbox_id, C.hour],
                                           set_={"sends": C.sends + statement.excluded.sends})


def add_sends(session: Session, counts: dict[int, int], hour: datetime) -> None:
    """Add to each mailbox's counter for the hour (safe under concurrent claims; in mailbox order, so
    two writers never wait for each other's rows crosswise)."""
    connection = session.connection()
    connection.execute(_add_sends_statement(connection.dialect.name),
                       [{"b_mailbox": m, "b_hour": hour, "b_sends": n} for m, n in sorted(counts.items())])
