"""One live name per owner for sequences and campaigns, whatever its case (migration 0013 indexes
it): checked before writing so the refusal names the field, the index catching any race."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Campaign, Sequence


def ensure_free(session: Session, kind: type[Sequence] | type[Campaign], *, owner_id: int, name: str,
                exclude_id: int | None = None, field: str = "name") -> None:
    """A UserError on `field` when the owner already has a live sequence (or campaign) of that name."""
    query = select(kind.id).where(kind.owner_id == owner_id, kind.archived_at.is_(None),
                                  func.lower(kind.name) == name.strip().lower())
    if exclude_id is not None:
        query = query.where(kind.id != exclude_id)
    if session.scalar(query.limit(1)) is not None:
        what = "sequence" if kind is Sequence else "campaign"
        raise UserError(f"You already have a {what} called '{name.strip()[:60]}': pick another name.", field=field)
