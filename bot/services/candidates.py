"""Candidates and their addresses."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import AddressKind, Candidate, CandidateAddress, User
from bot.services.addresses import check_line, control_problem, valid_address


def add_candidate(
    session: Session,
    *,
    added_by: User,
    name: str,
    addresses: Iterable[tuple[str, AddressKind]],
    fields: Mapping[str, Any] | None = None,
    clock: Clock,
) -> Candidate:
    """A candidate with addresses in relevancy order (the order given). Every way in checks its own
    input first, naming the line or field; these checks are the last guard, for callers that did not."""
    check_line(name, what="the candidate's name")
    for key, value in (fields or {}).items():
        if isinstance(value, str) and (problem := control_problem(value, multiline=True)):
            raise UserError(f"The field {key} of {name} contains {problem}: remove it.")
    candidate = Candidate(organisation_id=added_by.organisation_id, name=name.strip(),
                          fields=dict(fields or {}), created_by_id=added_by.id, created_at=clock.now())
    seen: set[str] = set()
    for address, kind in addresses:
        address = valid_address(address)
        if address in seen:
            continue
        seen.add(address)
        candidate.addresses.append(CandidateAddress(address=address, kind=kind, position=len(seen)))
    session.add(candidate)
    session.flush()
    return candidate
