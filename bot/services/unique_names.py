"""One live name per owner for sequences and campaigns, whatever its case (migration 0013 indexes
it): checked before writing so the refusal names the field, the index catching any race.

The race: two saves of "SRE" at once on PostgreSQL both pass ensure_free (neither sees the other's
uncommitted row); the second INSERT waits on the index, then fails when the first commits.
flush_named turns that failure into the same refusal ensure_free gives. (SQLite writers queue on
BEGIN IMMEDIATE, so there the check alone suffices.)"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Campaign, Sequence


def _taken(kind: type[Sequence] | type[Campaign], name: str, field: str) -> UserError:
    what = "sequence" if kind is Sequence else "campaign"
    return UserError(f"You already have a {what} called '{name.strip()[:60]}': pick another name.", field=field)


def ensure_free(session: Session, kind: type[Sequence] | type[Campaign], *, owner_id: int, name: str,
                exclude_id: int | None = None, field: str = "name") -> None:
    """A UserError on `field` when the owner already has a live sequence (or campaign) of that name."""
    # lower() on both sides, by the database: the same folding as the index (SQLite's is ASCII-only)
    query = select(kind.id).where(kind.owner_id == owner_id, kind.archived_at.is_(None),
                                  func.lower(kind.name) == func.lower(name.strip()))
    if exclude_id is not None:
        query = query.where(kind.id != exclude_id)
    if session.scalar(query.limit(1)) is not None:
        raise _taken(kind, name, field)


def flush_named(session: Session, kind: type[Sequence] | type[Campaign], *, name: str, field: str = "name") -> None:
    """Flush a new or renamed row; the unique index refusing it (a concurrent save of the same name)
    becomes ensure_free's refusal on `field`. The transaction is spoilt then: the caller's rolls back."""
    try:
        session.flush()
    except IntegrityError as exc:
        if f"uq_{kind.__tablename__}_owner_name" not in str(exc.orig):
            raise
        raise _taken(kind, name, field) from None
