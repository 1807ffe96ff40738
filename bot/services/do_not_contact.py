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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, exists, func, insert, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import transaction
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    Candidate,
    CandidateAddress,
    DoNotContact,
    DoNotContactSource,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    User,
)
from bot.services import transitions
from bot.services.addresses import check_address
from bot.services.campaigns import finish_if_done
from bot.services.candidate_rows import CandidateRow, ParsedRows, RowProblem

REASON_LIMIT = 500
ON_THE_LIST = "on the do-not-contact list"  # every refusal's reason, as the person reads it
LOOKUP_CHUNK = 5_000  # values per IN (...): few queries, far below SQLite's and PostgreSQL's limits


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
    that covers it. One query per LOOKUP_CHUNK values (an address and its domain), so a 10,000-row
    upload with several addresses a row stays within SQLite's limit on parameters."""
    wanted = {a for a in addresses if a}
    if not wanted:
        return {}
    values = sorted(wanted | {domain_of(a) for a in wanted})
    found = [row for start in range(0, len(values), LOOKUP_CHUNK) for row in session.execute(
        select(DoNotContact.value, DoNotContact.is_domain, DoNotContact.source, DoNotContact.reason)
        .where(DoNotContact.organisation_id == organisation_id,
               DoNotContact.value.in_(values[start:start + LOOKUP_CHUNK])))]
    by_address = {v: Entry(v, d, s, r) for v, d, s, r in found if not d}
    by_domain = {v: Entry(v, d, s, r) for v, d, s, r in found if d}
    return {a: entry for a in wanted if (entry := by_address.get(a) or by_domain.get(domain_of(a))) is not None}


class domain_part(FunctionElement[str]):
    """SQL: what follows the "@" of an address as kept (one "@", no quotes: bot.services.addresses)."""
    type = String()
    inherit_cache = True


@compiles(domain_part, "sqlite")
def _domain_part_sqlite(element: domain_part, compiler: Any, **kw: Any) -> str:
    address = compiler.process(element.clauses, **kw)
    return f"substr({address}, instr({address}, '@') + 1)"


@compiles(domain_part, "postgresql")
def _domain_part_postgresql(element: domain_part, compiler: Any, **kw: Any) -> str:
    return f"split_part({compiler.process(element.clauses, **kw)}, '@', 2)"


def listed(organisation_id: ColumnElement[int], address: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: the address (a column) is on the organisation's list, by itself or by its domain; for a
    WHERE clause, so a batch is checked in the statement that reads it. Two lookups on the list's
    unique (organisation, value) index whatever its size: an address entry holds an "@" and a domain
    entry none, so the two values cannot be confused."""
    D = DoNotContact
    return exists(select(literal(1)).where(D.organisation_id == organisation_id,
                                           D.value.in_([address, domain_part(address)])))


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
    return len(_end(session, enrollments, clock))


def _end(session: Session, enrollments: Iterable[Enrollment], clock: Clock) -> list[Enrollment]:
    """End these enrollments as "Do not contact", their planned sends cancelled; those ended."""
    ended = [e for e in enrollments if transitions.end(session, e, EnrollmentStatus.DO_NOT_CONTACT,
                                                         ended_at=clock.now(), status_reason=ON_THE_LIST)]
    for enrollment in ended:
        transitions.cancel_planned(session, enrollment.id)
    finish_if_done(session, {e.campaign_id for e in ended})  # the last one left: its campaign finishes
    return ended


def _covered_enrollments(organisation_id: int):  # type: ignore[no-untyped-def]
    """Open enrollments of the organisation's candidates with an address the list covers (a query to narrow)."""
    A = CandidateAddress
    return (select(Enrollment).join(Candidate, Candidate.id == Enrollment.candidate_id)
            .where(Candidate.organisation_id == organisation_id, Enrollment.status.in_(transitions.OPEN),
                   exists().where(A.candidate_id == Enrollment.candidate_id,
                                  listed(literal(organisation_id), A.address))))


def stop_listed(session: Session, *, campaign_id: int, organisation_id: int, actor: User | None, where: str,
                clock: Clock, enrollment_id: int | None = None) -> int:
    """Before anything is planned (Start, resume, a candidate resumed): the campaign's candidates the
    list covers end as "Do not contact", audited as a refusal. One query; how many ended."""
    query = _covered_enrollments(organisation_id).where(Enrollment.campaign_id == campaign_id)
    if enrollment_id is not None:
        query = query.where(Enrollment.id == enrollment_id)
    ended = _end(session, session.scalars(query).all(), clock)
    if ended:
        A = CandidateAddress
        addresses = session.scalars(select(A.address).where(A.candidate_id.in_({e.candidate_id for e in ended}),
                                                            listed(literal(organisation_id), A.address))).all()
        audit_refusal(session, organisation_id=organisation_id, actor=actor, where=where, addresses=addresses,
                      clock=clock)
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


# ---- upload: candidates the list covers are skipped and named ---------------------------------------
@dataclass
class Screened:
    """What the list let through of some candidate rows, and a problem naming each row it kept out."""
    rows: list[CandidateRow]
    skipped: list[RowProblem] = dataclass_field(default_factory=list)


def screen_rows(session: Session, *, organisation_id: int, rows: Sequence[CandidateRow], actor: User | None,
                where: str, clock: Clock) -> Screened:
    """Rows of an upload, less the candidates the list covers: a candidate with ANY covered address is
    skipped whole (an address entry is the person's objection, a domain entry their employer's), as
    `add` and Start end them. One query (`matches`) for all the rows; the refusal is audited."""
    covered = matches(session, organisation_id=organisation_id,
                      addresses=[address for row in rows for address, _ in row.addresses])
    if not covered:
        return Screened(list(rows))
    screened = Screened([])
    for row in rows:
        hit = next((address for address, _ in row.addresses if address in covered), None)
        if hit is None:
            screened.rows.append(row)
        else:
            entry = covered[hit]
            why = f"{hit} is {ON_THE_LIST}" if not entry.is_domain else f"{entry.value} is {ON_THE_LIST}"
            screened.skipped.append(RowProblem(row.line, f"{row.name[:80]} was not added: {why}"))
    audit_refusal(session, organisation_id=organisation_id, actor=actor, where=where, addresses=covered, clock=clock)
    return screened


def screen_upload(session: Session, *, organisation_id: int, parsed: ParsedRows, actor: User | None,
                  clock: Clock) -> ParsedRows:
    """A read file, less the candidates the list covers, each named among its problems by line."""
    screened = screen_rows(session, organisation_id=organisation_id, rows=parsed.rows, actor=actor, where="upload",
                           clock=clock)
    if not screened.skipped:
        return parsed
    return ParsedRows(rows=screened.rows, problems=sorted(parsed.problems + screened.skipped, key=lambda p: p.line),
                      merged=parsed.merged, encoding=parsed.encoding)


# ---- a one-off send --------------------------------------------------------------------------------
class Listed(UserError):
    """A refusal because of the list. Raising it rolls the caller's transaction back, audit and all:
    the caller writes the audit afterwards with `audit_listed`."""

    def __init__(self, message: str, *, field: str | None, organisation_id: int, actor: User, where: str,
                 addresses: Sequence[str]) -> None:
        super().__init__(message, field=field)
        self.organisation_id, self.actor_id, self.where, self.addresses = (organisation_id, actor.id, where,
                                                                           list(addresses))


def refuse_listed(session: Session, *, user: User, address: str, where: str, field: str | None = None) -> None:
    """Raise Listed when the list covers the address (one query)."""
    entry = matches(session, organisation_id=user.organisation_id, addresses=[address]).get(address)
    if entry is not None:
        what = address if not entry.is_domain else f"{address} (the whole domain {entry.value})"
        raise Listed(f"{what} is {ON_THE_LIST}, so no email may go to it. `/outreach dnc list` shows why.",
                     field=field, organisation_id=user.organisation_id, actor=user, where=where, addresses=[address])


def audit_listed(sessions: sessionmaker[Session], refusal: Listed, *, clock: Clock) -> None:
    """The audit of a Listed refusal, in a short transaction of its own (the refused one rolled back)."""
    with transaction(sessions, write=True) as session:
        audit_refusal(session, organisation_id=refusal.organisation_id, actor=session.get(User, refusal.actor_id),
                      where=refusal.where, addresses=refusal.addresses, clock=clock)


# ---- a CSV of addresses ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Imported:
    added: int  # new entries
    already: int  # values already on the list (or twice in the file), kept as they were
    stopped: int  # open enrollments the new entries ended
    problems: list[RowProblem]  # the lines that are neither an address nor a domain


def add_many(session: Session, *, organisation_id: int, cells: Sequence[tuple[int, str]], reason: str,
             added_by: User | None, clock: Clock, source: DoNotContactSource = DoNotContactSource.CSV) -> Imported:
    """Put many values on the list in the caller's one transaction: each bad line reported by number
    (a first line that is no value is taken for a header), the entries already there found with a
    query per LOOKUP_CHUNK values, the new ones inserted and audited in one statement each, then the
    open enrollments they cover ended with one query."""
    problems: list[RowProblem] = []
    values: dict[str, bool] = {}
    good = 0
    for index, (line, cell) in enumerate(cells):
        try:
            value, is_domain = parse(cell)
        except UserError as error:
            if index > 0 or "@" in cell:  # a first line that is no value and has no "@" is a header
                problems.append(RowProblem(line, error.message))
            continue
        good += 1
        values.setdefault(value, is_domain)
    ordered = sorted(values)
    existing: set[str] = set()
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        existing.update(session.scalars(select(DoNotContact.value).where(
            DoNotContact.organisation_id == organisation_id,
            DoNotContact.value.in_(ordered[start:start + LOOKUP_CHUNK]))))
    new = [v for v in ordered if v not in existing]
    now, kept = clock.now(), reason.strip()[:REASON_LIMIT]
    if new:
        ids = session.execute(insert(DoNotContact).returning(DoNotContact.id, DoNotContact.value), [
            {"organisation_id": organisation_id, "value": v, "is_domain": values[v], "source": source,
             "reason": kept, "added_by_id": added_by.id if added_by else None, "created_at": now}
            for v in new]).all()
        actor = added_by.slack_user_id if added_by else "system"
        session.execute(insert(AuditEntry), [
            {"organisation_id": organisation_id, "actor": actor, "action": "dnc.added", "subject_type": "do_not_contact",
             "subject_id": entry_id, "detail": {"value": value, "domain": values[value], "source": source.value,
                                                "reason": kept}, "created_at": now}
            for entry_id, value in ids])
    stopped = len(_end(session, session.scalars(_covered_enrollments(organisation_id)).all(), clock)) if new else 0
    return Imported(added=len(new), already=good - len(new), stopped=stopped, problems=problems)


# ---- the last look: a claimed send the list covers ------------------------------------------------------
def listed_sends(organisation_id: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL, correlated to OutboundMessage: the row's recipient is on the list (for the last look)."""
    return listed(organisation_id, OutboundMessage.to_address)


def end_withdrawn(session: Session, *, row_ids: Sequence[int], clock: Clock) -> int:
    """Rows the last look withdrew: those whose recipient the list covers end their enrollment as
    "Do not contact" (the row is then cancelled by its release), audited as refusals. One query for
    the rows, run only when a look withdrew some."""
    O = OutboundMessage
    rows = session.execute(select(O.enrollment_id, O.to_address, Candidate.organisation_id)
                           .join(Enrollment, Enrollment.id == O.enrollment_id)
                           .join(Candidate, Candidate.id == Enrollment.candidate_id)
                           .where(O.id.in_(row_ids), listed(Candidate.organisation_id, O.to_address))).all()
    if not rows:
        return 0
    ended = _end(session, session.scalars(select(Enrollment).where(Enrollment.id.in_({r[0] for r in rows}))).all(),
                 clock)
    for organisation_id in {r[2] for r in rows}:
        audit_refusal(session, organisation_id=organisation_id, actor=None, where="last look",
                      addresses=[r[1] for r in rows if r[2] == organisation_id], clock=clock)
    return len(ended)


# ---- what the commands show ----------------------------------------------------------------------
@dataclass(frozen=True)
class Added:
    value: str
    is_domain: bool
    new: bool  # False: it was on the list already, kept as it was
    stopped: int  # open enrollments it ended


def add_one(session: Session, *, user: User, text: str, reason: str, clock: Clock,
            source: DoNotContactSource = DoNotContactSource.COMMAND) -> Added:
    """`add` for a person (anyone of the organisation may), saying whether the entry is new."""
    value, is_domain = parse(text)
    known = session.scalar(select(DoNotContact.id).where(DoNotContact.organisation_id == user.organisation_id,
                                                         DoNotContact.value == value))
    _, stopped = add(session, organisation_id=user.organisation_id, text=text, reason=reason, source=source,
                     added_by=user, clock=clock)
    return Added(value, is_domain, known is None, stopped)


@dataclass(frozen=True)
class Shown:
    """One entry as the list shows it."""
    value: str
    is_domain: bool
    added_by: str | None  # the name of who added it; None: the bot (an opt-out, a complaint)
    created_at: datetime
    source: DoNotContactSource
    reason: str


@dataclass(frozen=True)
class ListPage:
    entries: list[Shown]
    page: int  # 1-based
    pages: int
    total: int


PAGE_SIZE = 20


def list_page(session: Session, *, user: User, page: int = 1) -> ListPage:
    """A page of the organisation's list, newest first, with who added each entry."""
    page = max(1, page)
    found, total = entries(session, organisation_id=user.organisation_id, offset=(page - 1) * PAGE_SIZE,
                           limit=PAGE_SIZE)
    names = dict(session.execute(select(User.id, User.name).where(
        User.id.in_({e.added_by_id for e in found if e.added_by_id is not None}))).all())
    return ListPage([Shown(e.value, e.is_domain, names.get(e.added_by_id) if e.added_by_id else None, e.created_at,
                           e.source, e.reason) for e in found],
                    page, max(1, -(-total // PAGE_SIZE)), total)


def refused_one_off(session: Session, row: OutboundMessage, *, clock: Clock) -> bool:
    """A one-off or preview row the last look withdrew: whether because its recipient is on the list
    (listed since the send was checked), audited as a refusal. One query, only for withdrawn rows."""
    sender = session.get(User, row.sender_id) if row.sender_id is not None else None
    if sender is None or not matches(session, organisation_id=sender.organisation_id, addresses=[row.to_address]):
        return False
    audit_refusal(session, organisation_id=sender.organisation_id, actor=sender, where="last look (one-off)",
                  addresses=[row.to_address], clock=clock)
    return True
