"""The organisation's do-not-contact list: addresses and whole domains no email may start to.

The one owner of the list. Entries come from `/outreach dnc add`, a reply's "Do not contact" button,
a CSV of addresses, an opt-out reply (with the organisation's setting), the unsubscribe link, and
complaints; each records who added it, when, why and how, and is audited. Adding one ends, as
"Do not contact", every open enrollment of a candidate with a matching address in the organisation
(their planned sends cancelled). Everywhere an email could start asks `matches` (one query for any
number of addresses) or puts `listed(organisation_id, address)` in its WHERE clause (the claim's
last look), so a send already claimed never leaves.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    Candidate,
    CandidateAddress,
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    User,
)
from bot.services import transitions
from bot.services.addresses import check_address
from bot.services.campaigns import finish_if_done

REASON_LIMIT = 500


@dataclass(frozen=True)
class Entry:
    """What an entry says, for a refusal or a list: the value, whether a domain, and how and why it got there."""
    value: str
    is_domain: bool
    source: DoNotContactSource
    reason: str


def parse(text: str, *, field: str | None = None) -> tuple[str, bool]:
    """(the value as kept, is_domain): "ana@acme.example" is an address; "acme.example" or
    "@acme.example" a whole domain. A UserError on `field` says what to fix."""
    typed = text.strip()
    domain = typed[1:] if typed.startswith("@") else (typed if "@" not in typed else None)
    if domain is not None:
        address, problem = check_address(f"x@{domain}")
        if address is None or "." not in domain:
            raise UserError(f'"{typed[:60]}" is not a domain or an address: write acme.example or ana@acme.example.',
                            field=field)
        return address.partition("@")[2], True
    address, problem = check_address(typed)
    if address is None:
        raise UserError(problem or "not an email address", field=field)
    return address, False


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def matches(session: Session, *, organisation_id: int, addresses: Iterable[str]) -> dict[str, Entry]:
    """Each of `addresses` (as kept) that the list covers, by itself or by its domain, with the entry
    that covers it. One query, whatever the number of addresses."""
    wanted = {a for a in addresses if a}
    if not wanted:
        return {}
    values = wanted | {domain_of(a) for a in wanted}
    found = session.execute(select(DoNotContact.value, DoNotContact.is_domain, DoNotContact.source, DoNotContact.reason)
                            .where(DoNotContact.organisation_id == organisation_id,
                                   DoNotContact.value.in_(sorted(values)))).all()
    by_address = {v: Entry(v, d, s, r) for v, d, s, r in found if not d}
    by_domain = {v: Entry(v, d, s, r) for v, d, s, r in found if d}
    return {a: entry for a in wanted if (entry := by_address.get(a) or by_domain.get(domain_of(a))) is not None}


def listed(organisation_id: ColumnElement[int], address: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: the address (a column) is on the organisation's list, by itself or by its domain; for a
    WHERE clause, so a batch is checked in the statement that reads it."""
    D = DoNotContact
    return exists(select(literal(1)).where(
        D.organisation_id == organisation_id,
        or_(and_(D.is_domain.is_(False), D.value == address),
            and_(D.is_domain.is_(True), address.like(literal("%@") + D.value)))))


def add(session: Session, *, organisation_id: int, text: str, reason: str, source: DoNotContactSource,
        added_by: User | None, clock: Clock, field: str | None = None) -> tuple[DoNotContact, int]:
    """Put an address or a domain on the list (an entry already there is kept as it was) and end the
    open enrollments it covers. Returns the entry and how many enrollments it ended."""
    value, is_domain = parse(text, field=field)
    entry = session.scalar(select(DoNotContact).where(DoNotContact.organisation_id == organisation_id,
                                                      DoNotContact.value == value))
    if entry is None:
        entry = DoNotContact(organisation_id=organisation_id, value=value, is_domain=is_domain, source=source,
                             reason=reason.strip()[:REASON_LIMIT], added_by_id=added_by.id if added_by else None,
                             created_at=clock.now())
        session.add(entry)
        session.flush()
        _audit(session, organisation_id, added_by, "dnc.added", entry, clock)
    return entry, end_covered(session, organisation_id=organisation_id, value=value, is_domain=is_domain, clock=clock)


def end_covered(session: Session, *, organisation_id: int, value: str, is_domain: bool, clock: Clock) -> int:
    """End, as "Do not contact", every open enrollment of a candidate with an address the value covers."""
    A = CandidateAddress
    covered = A.address.like(f"%@{value}") if is_domain else A.address == value
    enrollments = session.scalars(
        select(Enrollment).join(Candidate, Candidate.id == Enrollment.candidate_id)
        .where(Candidate.organisation_id == organisation_id, Enrollment.status.in_(transitions.OPEN),
               Enrollment.candidate_id.in_(select(A.candidate_id).where(covered)))).all()
    ended = [e for e in enrollments if transitions.end(session, e, EnrollmentStatus.DO_NOT_CONTACT,
                                                         ended_at=clock.now(), status_reason="on the do-not-contact list")]
    for enrollment in ended:
        transitions.cancel_planned(session, enrollment.id)
    finish_if_done(session, {e.campaign_id for e in ended})  # the last one left: its campaign finishes
    return len(ended)


def remove(session: Session, *, user: User, text: str, clock: Clock) -> Entry:
    """Take an entry off the list: admins only. What it ended stays ended."""
    if not user.is_admin:
        raise UserError("Only a workspace admin can take an address off the do-not-contact list.")
    value, _ = parse(text)
    entry = session.scalar(select(DoNotContact).where(DoNotContact.organisation_id == user.organisation_id,
                                                      DoNotContact.value == value))
    if entry is None:
        raise NotFound(f"{value} is not on the do-not-contact list.")
    shown = Entry(entry.value, entry.is_domain, entry.source, entry.reason)
    _audit(session, user.organisation_id, user, "dnc.removed", entry, clock)
    session.delete(entry)
    session.flush()
    return shown


def entries(session: Session, *, organisation_id: int, offset: int = 0, limit: int = 20) -> tuple[list[DoNotContact], int]:
    """A page of the list, newest first, and how many entries there are."""
    query = select(DoNotContact).where(DoNotContact.organisation_id == organisation_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(DoNotContact.created_at.desc(), DoNotContact.id.desc())
                           .offset(max(0, offset)).limit(limit)).all()
    return list(page), total


def audit_refusal(session: Session, *, organisation_id: int, actor: User | None, where: str, addresses: Iterable[str],
                  clock: Clock) -> None:
    """A refusal because of the list (an upload's skipped rows, a Start, a one-off, a claimed send) is audited."""
    session.add(AuditEntry(organisation_id=organisation_id, actor=actor.slack_user_id if actor else "system",
                           action="dnc.refused", subject_type="do_not_contact", subject_id=None,
                           detail={"where": where, "addresses": sorted(set(addresses))[:100]}, created_at=clock.now()))


def _audit(session: Session, organisation_id: int, actor: User | None, action: str, entry: DoNotContact,
           clock: Clock) -> None:
    session.add(AuditEntry(organisation_id=organisation_id, actor=actor.slack_user_id if actor else "system",
                           action=action, subject_type="do_not_contact", subject_id=entry.id,
                           detail={"value": entry.value, "domain": entry.is_domain, "source": entry.source.value,
                                   "reason": entry.reason}, created_at=clock.now()))
