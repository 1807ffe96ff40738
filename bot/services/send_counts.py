"""The rolling 24-hour counter of each mailbox's sends: the only reader and writer of
MailboxSendCount. The claim adds what it takes and gives back what never reached the provider; the
forms and the App Home read how much room is left; the one-off sends read when room frees up.

Sends are counted per UTC hour: summing 25 small rows is constant work, where counting the sends
themselves grows with the mailbox's volume. The window is the hour now plus the 24 before it, so
whole hours count in full and an hour's sends stop counting 25 hours after the hour began: the cap
errs on the side of sending less, never more.
"""
from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.models import MailboxSendCount

C = MailboxSendCount
DAY = timedelta(hours=24)
KEEP = 2 * DAY  # hours older than this are forgotten


def hour_of(moment: datetime) -> datetime:
    """The counter a send at `moment` is added to."""
    return moment.replace(minute=0, second=0, microsecond=0)


def _window(now: datetime) -> datetime:
    """The first hour that still counts at `now`."""
    return hour_of(now) - DAY


@dataclass(frozen=True)
class LastDay:
    sends: int  # sends started in the window (by whole hours, so maybe a few more than in 24 h)
    oldest_hour: datetime | None  # the earliest hour in the window with a send

    @property
    def oldest_end(self) -> datetime | None:
        """Sends in the oldest counted hour are all a day old one hour after that hour began + 24 h."""
        return self.oldest_hour + timedelta(hours=1) if self.oldest_hour is not None else None


@functools.cache
def _add_statement(backend: str) -> Any:
    """Built once per backend with bound parameters, so it is compiled once: a VALUES list made from
    the counts was compiled anew at every claim."""
    insert = postgresql_insert if backend == "postgresql" else sqlite_insert
    statement = insert(C).values(mailbox_id=bindparam("b_mailbox"), hour=bindparam("b_hour", type_=C.hour.type),
                                 sends=bindparam("b_sends"))
    return statement.on_conflict_do_update(index_elements=[C.mailbox_id, C.hour],
                                           set_={"sends": C.sends + statement.excluded.sends})


def add(session: Session, counts: dict[int, int], hour: datetime) -> None:
    """Add to each mailbox's counter for the hour (negative counts give back; safe under concurrent
    claims; in mailbox order, so two writers never wait for each other's rows crosswise)."""
    if not counts:
        return
    connection = session.connection()
    connection.execute(_add_statement(connection.dialect.name),
                       [{"b_mailbox": m, "b_hour": hour, "b_sends": n} for m, n in sorted(counts.items())])


def give_back(session: Session, started: Iterable[tuple[int, datetime]]) -> None:
    """Sends that surely never reached the provider stop counting: one per (mailbox id, when it was
    counted), each taken from the hour it was added to."""
    by_hour: dict[tuple[int, datetime], int] = {}
    for mailbox_id, at in started:
        key = (mailbox_id, hour_of(at))
        by_hour[key] = by_hour.get(key, 0) - 1
    for (mailbox_id, hour), count in sorted(by_hour.items()):
        add(session, {mailbox_id: count}, hour)


def forget_old(session: Session, now: datetime) -> None:
    """Hours long past the window are deleted."""
    session.execute(delete(C).where(C.hour < hour_of(now) - KEEP))


def last_day(session: Session, mailbox_ids: Collection[int], now: datetime) -> dict[int, LastDay]:
    """Each mailbox's sends in the window, and its oldest counted hour (for when room frees up)."""
    found = {row[0]: LastDay(int(row[1] or 0), row[2]) for row in session.execute(
        select(C.mailbox_id, func.sum(C.sends), func.min(C.hour)).where(
            C.mailbox_id.in_(mailbox_ids), C.hour >= _window(now), C.sends > 0)
        .group_by(C.mailbox_id)).all()}
    return {m: found.get(m, LastDay(0, None)) for m in mailbox_ids}


def sends_last_day(session: Session, mailbox_ids: Collection[int], now: datetime) -> dict[int, int]:
    """Sends counted against each mailbox's daily cap now."""
    return {m: day.sends for m, day in last_day(session, mailbox_ids, now).items()}


def hours_last_day(session: Session, mailbox_id: int, now: datetime) -> list[tuple[datetime, int]]:
    """The window's hours with sends, oldest first: when each hour's sends stop counting."""
    return [(hour, int(n)) for hour, n in session.execute(select(C.hour, C.sends).where(
        C.mailbox_id == mailbox_id, C.hour >= _window(now), C.sends > 0).order_by(C.hour)).all()]
