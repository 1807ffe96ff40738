"""Candidates and their addresses."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import AddressKind, Candidate, CandidateAddress, User
from bot.services.mailboxes import normalise_address


def add_candidate(
    session: Session,
    *,
    added_by: User,
    name: str,
    addresses: Iterable[tuple[str, AddressKind]],
    fields: Mapping[str, Any] | None = None,
    clock: Clock,
) -> Candidate:
    """A candidate with addresses in relevancy order (the order given)."""
    candidate = Candidate(organisation_id=added_by.organisation_id, name=name.strip(),
                          fields=dict(fields or {}), created_by_id=added_by.id, created_at=clock.now())
    seen: set[str] = set()
    for address, kind in addresses:
        address = normalise_address(address)
        if address in seen:
            continue
        seen.add(address)
        candidate.addresses.append(CandidateAddress(address=address, kind=kind, position=len(seen)))
    session.add(candidate)
    session.flush()
    return candidate
