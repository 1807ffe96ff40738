"""Confirmed candidate rows written into a campaign: the good rows of an upload wait in a
CandidateUpload (`stage_upload`) until the person who uploaded them confirms (`confirm_upload`),
which writes them in bulk in the caller's transaction; duplicates merge with candidates the
organisation already has (fields that differ become this campaign's overrides).

Rows wait a day (UPLOAD_TTL): after that they cannot be confirmed (UploadExpired), and the
scheduler's periodic job deletes them (`delete_expired_uploads`), so names and addresses nobody
added are not kept."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    CandidateUpload,
    Enrollment,
    User,
)
from bot.services import planner

from bot.services.candidate_rows import PASTED, CandidateRow, ParsedRows
from bot.services.campaign_marks import mark_stale


# --- Writing --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfirmResult:
    added: int  # candidates newly enrolled in the campaign (new people and people already known)
    merged_with_existing: int  # rows that matched a candidate the organisation already had
    already_enrolled: int  # rows whose candidate was already in this campaign: not enrolled twice

    def describe(self) -> str:
        """E.g. "Added 3 candidates (2 already known; 1 was already in the campaign)"."""
        text = f"Added {self.added or 'no'} candidate{'' if self.added == 1 else 's'}"
        notes = []
        if self.merged_with_existing:
            notes.append(f"{self.merged_with_existing} already known")
        if self.already_enrolled:
            notes.append(f"{self.already_enrolled} {'was' if self.already_enrolled == 1 else 'were'} already in "
                         "the campaign")
        return f"{text} ({'; '.join(notes)})" if notes else text


UPLOAD_TTL = timedelta(days=1)  # staged rows not confirmed within this are refused, then deleted
LOOKUP_CHUNK = 5_000  # addresses per IN (...): few queries, far below SQLite's and PostgreSQL's limits


def _campaign_takes_candidates(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.FINISHED:
        raise UserError(f"'{campaign.name}' has finished, so it cannot take new candidates: "
                        "start a new campaign for them.")


def _check_campaign(campaign: Campaign, user: User) -> None:
    if campaign.organisation_id != user.organisation_id:
        raise NotFound("That campaign was not found.")
    _campaign_takes_candidates(campaign)


def stage_upload(session: Session, *, campaign: Campaign | None, user: User, parsed: ParsedRows, source: str,
                 clock: Clock) -> CandidateUpload:
    """Keep the parsed rows and problems until the uploader confirms; nothing else is written.
    `campaign` may be None (a file shared with the bot): the campaign is then named at confirmation."""
    if campaign is not None:
        _check_campaign(campaign, user)
    upload = CandidateUpload(
        organisation_id=user.organisation_id, user_id=user.id, campaign_id=campaign.id if campaign else None,
        source=(source.strip() or PASTED)[:200], rows=[row.to_json() for row in parsed.rows],
        problems=[problem.to_json() for problem in parsed.problems], created_at=clock.now(),
    )
    session.add(upload)
    session.flush()
    return upload


class UploadExpired(NotFound):
    """The rows waited longer than UPLOAD_TTL (or were deleted): nothing was added."""

    def __init__(self) -> None:
        super().__init__("This upload expired: rows that are not added within a day are deleted, and none of "
                         "these was added. Share the file again (or paste the rows again) to add them.")


def _find_upload(session: Session, upload_id: int, user: User) -> CandidateUpload | None:
    """The upload, locked against a second click confirming it at the same time; None when it is
    gone (discarded, or deleted as expired) or belongs to another organisation."""
    upload = session.scalar(select(CandidateUpload).where(CandidateUpload.id == upload_id).with_for_update())
    if upload is None or upload.organisation_id != user.organisation_id:
        return None
    if upload.user_id != user.id:
        raise UserError("Only the person who uploaded these rows can add them to a campaign.")
    if upload.confirmed_at is not None:
        raise UserError("These rows were already added to the campaign.")
    return upload


def _pending_upload(session: Session, upload_id: int, user: User, now: datetime) -> CandidateUpload:
    """An upload that may still be confirmed: its uploader's, not confirmed, younger than UPLOAD_TTL."""
    upload = _find_upload(session, upload_id, user)
    if upload is None or upload.created_at <= now - UPLOAD_TTL:
        raise UploadExpired()
    return upload


def confirm_upload(session: Session, *, upload_id: int, user: User, clock: Clock, campaign: Campaign | None = None,
                   rng: random.Random | None = None) -> ConfirmResult:
    """Write a staged upload's rows into its campaign (or `campaign`, for an upload staged without
    one): new candidates are created, known ones (an address this user can see already belongs to
    them) are reused. In a started campaign each new enrollment gets step 1 planned as at Start; in a
    paused one, resume_campaign plans it. `rng` picks send times (the runtime's, in the bot)."""
    now = clock.now()
    upload = _pending_upload(session, upload_id, user, now)
    if campaign is None:
        campaign = session.get(Campaign, upload.campaign_id) if upload.campaign_id is not None else None
        if campaign is None:
            raise UserError("Pick the campaign to add these candidates to.", field="campaign")
    elif upload.campaign_id not in (None, campaign.id):
        raise UserError("These rows were uploaded for another campaign: add them there, or upload them again.")
    _check_campaign(campaign, user)
    rows = [CandidateRow.from_json(r) for r in upload.rows]
    if not rows:
        raise UserError("There are no good rows to add: fix the problems and upload the file again.")
    result, enrollment_ids = _Writer(session, campaign=campaign, user=user, now=now).write(rows)
    if enrollment_ids and campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
        _plan_first_steps(session, enrollment_ids, rng=rng or random.Random(), now=now)
    upload.campaign_id, upload.confirmed_at = campaign.id, now
    mark_stale(session, [campaign.id])  # its message lists the new candidates
    session.flush()
    return result


def discard_upload(session: Session, *, upload_id: int, user: User) -> None:
    """Drop rows waiting for confirmation (only their uploader may); nothing else changes. Rows
    already gone (discarded, or deleted as expired) need nothing more: that is not an error."""
    upload = _find_upload(session, upload_id, user)
    if upload is not None:
        session.delete(upload)
        session.flush()


def delete_expired_uploads(session: Session, *, clock: Clock) -> int:
    """Delete staged rows nobody confirmed within UPLOAD_TTL (the scheduler runs this periodically);
    confirmed uploads stay. Returns how many uploads were deleted."""
    result = session.execute(delete(CandidateUpload).where(
        CandidateUpload.confirmed_at.is_(None), CandidateUpload.created_at <= clock.now() - UPLOAD_TTL)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class _Known:
    """A candidate the organisation already has, as far as this upload changes it."""

    id: int
    name: str
    fields: dict[str, Any]
    addresses: set[str]
    next_position: int
    fields_changed: bool = False


class _Writer:
    """One confirm: a few bulk reads, then bulk inserts; no query per row."""

    def __init__(self, session: Session, *, campaign: Campaign, user: User, now: datetime) -> None:
        self.session, self.campaign, self.user, self.now = session, campaign, user, now

    def write(self, rows: list[CandidateRow]) -> tuple[ConfirmResult, list[int]]:
        owners = self._owners_of([a for row in rows for a, _ in row.addresses])
        known = self._load_known(set(owners.values()))
        enrolled_before = self._enrolled(list(known))
        new_candidates: list[CandidateRow] = []
        enrollments: dict[int, dict[str, Any]] = {}  # known candidate id → its new enrollment's overrides
        new_addresses: list[dict[str, Any]] = []
        merged = already = 0
        for row in rows:
            match = next((owners[a] for a, _ in row.addresses if a in owners), None)
            if match is None:
                new_candidates.append(row)
                continue
            merged += 1
            candidate = known[match]
            for address, kind in row.addresses:
                if address not in candidate.addresses and owners.get(address, match) == match:
                    new_addresses.append({"candidate_id": candidate.id, "address": address, "kind": kind,
                                          "position": candidate.next_position, "use_first": False,
                                          "added_by_id": None})
                    candidate.addresses.add(address)
                    candidate.next_position += 1
            overrides = self._absorb_fields(candidate, row)
            if candidate.id in enrolled_before:
                already += 1
            elif candidate.id in enrollments:  # two rows of the file are the same known person
                for key, value in overrides.items():
                    enrollments[candidate.id].setdefault(key, value)
            else:
                enrollments[candidate.id] = overrides
        new_ids = self._insert_candidates(new_candidates)
        for candidate_id, row in zip(new_ids, new_candidates):
            enrollments[candidate_id] = {}
            new_addresses.extend({"candidate_id": candidate_id, "address": address, "kind": kind,
                                  "position": position, "use_first": False, "added_by_id": None}
                                 for position, (address, kind) in enumerate(row.addresses, start=1))
        changed = [c for c in known.values() if c.fields_changed]
        if changed:
            self.session.execute(update(Candidate), [{"id": c.id, "fields": c.fields} for c in changed])
        for chunk in _chunks(new_addresses, LOOKUP_CHUNK):
            self.session.execute(insert(CandidateAddress), list(chunk))
        enrollment_ids = self._insert_enrollments(enrollments)
        self._forget_stale({c.id for c in changed} | {a["candidate_id"] for a in new_addresses})
        return ConfirmResult(added=len(enrollment_ids), merged_with_existing=merged, already_enrolled=already), \
            enrollment_ids

    def _owners_of(self, addresses: list[str]) -> dict[str, int]:
        """Address → the candidate of this organisation it belongs to, among addresses this user may
        see (SPEC: one added by hand is seen only by who added it); the oldest candidate on a tie."""
        owners: dict[str, int] = {}
        unique = sorted(set(addresses))
        for chunk in _chunks(unique, LOOKUP_CHUNK):
            found = self.session.execute(
                select(CandidateAddress.address, CandidateAddress.candidate_id)
                .join(Candidate, Candidate.id == CandidateAddress.candidate_id)
                .where(Candidate.organisation_id == self.user.organisation_id,
                       CandidateAddress.address.in_(chunk),
                       or_(CandidateAddress.added_by_id.is_(None), CandidateAddress.added_by_id == self.user.id))
                .order_by(CandidateAddress.candidate_id.desc()))
            owners.update({address: candidate_id for address, candidate_id in found})  # lowest id written last
        return owners

    def _load_known(self, ids: set[int]) -> dict[int, _Known]:
        known: dict[int, _Known] = {}
        ordered = sorted(ids)
        for chunk in _chunks(ordered, LOOKUP_CHUNK):
            for id_, name, fields in self.session.execute(
                    select(Candidate.id, Candidate.name, Candidate.fields).where(Candidate.id.in_(chunk))):
                known[id_] = _Known(id_, name, dict(fields or {}), set(), 1)
            # Every address, hidden ones included: they fix the next position and may not be added twice.
            for id_, address, position in self.session.execute(
                    select(CandidateAddress.candidate_id, CandidateAddress.address, CandidateAddress.position)
                    .where(CandidateAddress.candidate_id.in_(chunk))):
                known[id_].addresses.add(address)
                known[id_].next_position = max(known[id_].next_position, position + 1)
        return known

    def _enrolled(self, candidate_ids: list[int]) -> set[int]:
        enrolled: set[int] = set()
        for chunk in _chunks(sorted(candidate_ids), LOOKUP_CHUNK):
            enrolled.update(self.session.scalars(select(Enrollment.candidate_id).where(
                Enrollment.campaign_id == self.campaign.id, Enrollment.candidate_id.in_(chunk))))
        return enrolled

    @staticmethod
    def _absorb_fields(candidate: _Known, row: CandidateRow) -> dict[str, Any]:
        """New keys go on the candidate; values that differ stay in this campaign (fields_override),
        so other campaigns do not change (SPEC, seed 002). So does a different spelling of the name."""
        overrides: dict[str, Any] = {}
        for key, value in row.fields.items():
            if key not in candidate.fields:
                candidate.fields[key] = value
                candidate.fields_changed = True
            elif str(candidate.fields[key]) != value:
                overrides[key] = value
        if " ".join(candidate.name.split()).casefold() != row.name.casefold():
            first, _, last = row.name.partition(" ")
            overrides.update({"name": row.name, "first_name": first, "last_name": last.strip()})
        return overrides

    def _insert_candidates(self, rows: list[CandidateRow]) -> list[int]:
        return _insert_returning_ids(self.session, Candidate, [
            {"organisation_id": self.user.organisation_id, "name": row.name, "fields": row.fields,
             "created_by_id": self.user.id, "created_at": self.now} for row in rows])

    def _insert_enrollments(self, enrollments: dict[int, dict[str, Any]]) -> list[int]:
        return _insert_returning_ids(self.session, Enrollment, [
            {"campaign_id": self.campaign.id, "candidate_id": candidate_id, "fields_override": overrides,
             "tried_addresses": [], "created_at": self.now} for candidate_id, overrides in enrollments.items()])

    def _forget_stale(self, candidate_ids: set[int]) -> None:
        """Bulk statements bypass the session: expire loaded candidates they changed, so the caller's
        objects read the new fields and addresses."""
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Candidate) and obj.id in candidate_ids:
                self.session.expire(obj)


def _insert_returning_ids(session: Session, model: type[Candidate] | type[Enrollment],
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


def _plan_first_steps(session: Session, enrollment_ids: list[int], *, rng: random.Random, now: datetime) -> None:
    """Step 1 for each new enrollment, as start_campaign plans it (no send sooner than 20 minutes).
    One Planner for all (plan_step's, for many: the steps are read once); the rows it makes are then
    written in one batch, since the ORM would insert them one by one on SQLite to learn their ids,
    which nothing here needs."""
    batch = planner.Planner(session, rng=rng, now=now)
    for chunk in _chunks(enrollment_ids, LOOKUP_CHUNK):
        enrollments = session.scalars(
            select(Enrollment).where(Enrollment.id.in_(chunk))
            .options(selectinload(Enrollment.candidate).selectinload(Candidate.addresses))
            .execution_options(populate_existing=True).order_by(Enrollment.id)).all()
        with session.no_autoflush:
            planned = [row for enrollment in enrollments if (row := batch.plan(enrollment, 1)) is not None]
            unflushed = {id(obj) for obj in session.new}  # not already flushed by the planner
            pending = [row for row in planned if id(row) in unflushed]
            for row in pending:
                session.expunge(row)
        session.bulk_save_objects(pending)
    session.flush()
