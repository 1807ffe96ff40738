"""New candidates and enrollments by the thousand: a few multi-row INSERTs instead of the ORM's
unit of work, which flushes (and on SQLite inserts) one row at a time. The campaign import writes
10,000 candidates this way; the CSV confirm (candidate_uploads) shares insert_returning_ids."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import AddressKind, Candidate, CandidateAddress, Enrollment, User
from bot.services.addresses import check_line, control_problem, valid_address

BATCH = 5_000  # rows a statement: few round trips, within SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class NewCandidate:
    name: str
    addresses: Sequence[tuple[str, AddressKind]]  # in relevancy order
    fields: dict[str, Any] = field(default_factory=dict)
    use_first: str | None = None  # the address that always wins, if any


def insert_returning_ids(session: Session, model: type[Candidate] | type[Enrollment],
                         rows: list[dict[str, Any]]) -> list[int]:
    """Insert in batches and return the new ids in the order of `rows`. PostgreSQL keeps the order
    itself (sort_by_parameter_order); SQLAlchemy can do that on SQLite only one row per statement,
    so there the ids are sorted instead: SQLite numbers a statement's rows upwards in the order given,
    and the write transaction (BEGIN IMMEDIATE) keeps anyone else from inserting in between."""
    if not rows:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    statement = insert(model).returning(model.id, sort_by_parameter_order=not sqlite)
    ids = list(session.scalars(statement, rows))
    return sorted(ids) if sqlite else ids


def add_candidates(session: Session, *, added_by: User, people: Sequence[NewCandidate], now: datetime,
                   checked: bool = False) -> list[int]:
    """Each person as candidates.add_candidate makes one (the same last-guard checks: one-line name,
    no control characters in fields, valid addresses, each address once), all in a few statements.
    `checked`: the caller already held every name, field and address to those rules (the campaign
    import's schema does, on its line), so they are not checked twice. Returns the ids in the order
    given. Nothing is merged with known candidates: that is the CSV confirm's job (candidate_uploads)."""
    candidates, addresses = [], []
    valid = (lambda address: address) if checked else valid_address
    for person in people:
        if not checked:
            check_line(person.name, what="the candidate's name")
            for key, value in person.fields.items():
                if isinstance(value, str) and (problem := control_problem(value, multiline=True)):
                    raise UserError(f"The field {key} of {person.name} contains {problem}: remove it.")
        candidates.append({"organisation_id": added_by.organisation_id, "name": person.name.strip(),
                           "fields": dict(person.fields), "created_by_id": added_by.id, "created_at": now})
        seen: dict[str, AddressKind] = {}
        for address, kind in person.addresses:
            seen.setdefault(valid(address), kind)
        first = valid(person.use_first) if person.use_first else None
        addresses.append([(address, kind, address == first) for address, kind in seen.items()])
    ids = insert_returning_ids(session, Candidate, candidates)
    rows = [{"candidate_id": candidate_id, "address": address, "kind": kind, "position": position,
             "use_first": use_first, "added_by_id": None}
            for candidate_id, own in zip(ids, addresses)
            for position, (address, kind, use_first) in enumerate(own, start=1)]
    for start in range(0, len(rows), BATCH):
        session.execute(insert(CandidateAddress), rows[start:start + BATCH])
    return ids


def enroll_candidates(session: Session, *, campaign_id: int, candidate_ids: Sequence[int], now: datetime) -> list[int]:
    """One enrollment each, as campaigns.enroll makes them; returns their ids in the order given.
    The caller marks the campaign's message stale."""
    return insert_returning_ids(session, Enrollment, [
        {"campaign_id": campaign_id, "candidate_id": candidate_id, "fields_override": {}, "tried_addresses": [],
         "created_at": now} for candidate_id in candidate_ids])
