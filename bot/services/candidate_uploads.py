"""Confirmed candidate rows written into a campaign: the good rows of an upload wait in a
CandidateUpload (`stage_upload`) until the person who uploaded them confirms; duplicates merge with
candidates the organisation already has (fields that differ become this campaign's overrides).

A confirm is claimed (`begin_confirm`), then written CHUNK_ROWS at a time (`confirm_chunk`), each
chunk one transaction that also records how many rows are done and the counts so far, so Slack can
show progress between chunks and a run that dies part-way is resumed from the first row not
written (by Resume, after CONFIRM_LEASE without progress): nothing is written twice or left out,
and the upload is confirmed only with its last chunk. `confirm_upload` does all of it in the
caller's one transaction. (Two rows of a file that name one known person by different addresses
make one enrollment when they fall in one chunk; in two chunks the second counts as already in
the campaign, and its fields that differ are not kept as overrides.)

Rows wait a day (UPLOAD_TTL) after staging or after a confirm's last progress: after that they
cannot be confirmed (UploadExpired, which says how many a stopped confirm had added), and the
scheduler's periodic job deletes them (`delete_expired_uploads`), so names and addresses nobody
added are not kept."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, astuple, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, defer

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
from bot.services import do_not_contact, engagement, planner

from bot.services.candidate_rows import PASTED, CandidateRow, ParsedRows
from bot.services.campaign_marks import mark_stale
from bot.services.bulk_candidates import insert_returning_ids
from bot.services.fresh_statistics import analyze_after_bulk_write


# --- Writing --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfirmResult:
    added: int  # candidates newly enrolled in the campaign (new people and people already known)
    merged_with_existing: int  # rows that matched a candidate the organisation already had
    already_enrolled: int  # rows whose candidate was already in this campaign: not enrolled twice
    do_not_contact: int = 0  # rows put on the do-not-contact list after the upload was read: not added
    held: int = 0  # rows a teammate has, left out under the organisation's "block" (bot.services.engagement)

    def describe(self) -> str:
        """E.g. "Added 3 candidates (2 already known; 1 was already in the campaign)"."""
        text = f"Added {self.added or 'no'} candidate{'' if self.added == 1 else 's'}"
        notes = []
        if self.merged_with_existing:
            notes.append(f"{self.merged_with_existing} already known")
        if self.already_enrolled:
            notes.append(f"{self.already_enrolled} {'was' if self.already_enrolled == 1 else 'were'} already in "
                         "the campaign")
        if self.do_not_contact:
            notes.append(f"{self.do_not_contact} not added: on the do-not-contact list")
        if self.held:
            notes.append(f"{self.held} held back: with a teammate, see the list above")
        return f"{text} ({'; '.join(notes)})" if notes else text


NOTHING_YET = {"added": 0, "merged_with_existing": 0, "already_enrolled": 0, "held": 0}  # counts before the first chunk
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
    `campaign` may be None (a file shared with the bot): the campaign is then named at confirmation.
    Candidates the do-not-contact list covers move from `parsed.rows` to its problems, so what the
    uploader is shown names them, with the reason."""
    if campaign is not None:
        _check_campaign(campaign, user)
    screened = do_not_contact.screen_upload(session, organisation_id=user.organisation_id, parsed=parsed, actor=user,
                                            clock=clock)
    parsed.rows, parsed.problems = screened.rows, screened.problems
    upload = CandidateUpload(
        organisation_id=user.organisation_id, user_id=user.id, campaign_id=campaign.id if campaign else None,
        source=(source.strip() or PASTED)[:200], rows=[row.to_json() for row in parsed.rows],
        problems=[problem.to_json() for problem in parsed.problems], created_at=clock.now(),
    )
    session.add(upload)
    session.flush()
    return upload


class UploadExpired(NotFound):
    """The rows waited longer than UPLOAD_TTL (or were deleted): none was added, or only those a
    confirm had written before it stopped (`done`)."""

    def __init__(self, done: int = 0) -> None:
        added = (f"{done:,} of these were added before adding stopped; the others were not" if done
                 else "none of these was added")
        super().__init__(f"This upload expired: rows that are not added within a day are deleted, and {added}. "
                         "Share the file again (or paste the rows again) to add them"
                         + (": rows already added are recognised and not added twice." if done else "."))
        self.done = done


def _find_upload(session: Session, upload_id: int, user: User) -> CandidateUpload | None:
    """The upload, locked against a second click confirming it at the same time; None when it is
    gone (discarded, or deleted as expired) or belongs to another organisation."""
    upload = session.scalar(select(CandidateUpload).where(CandidateUpload.id == upload_id).with_for_update()
                            .options(defer(CandidateUpload.rows)))  # 10,000 rows: read only to write them
    if upload is None or upload.organisation_id != user.organisation_id:
        return None
    if upload.user_id != user.id:
        raise UserError("Only the person who uploaded these rows can add them to a campaign.")
    if upload.confirmed_at is not None:
        raise UserError("These rows were already added to the campaign.")
    return upload


def _pending_upload(session: Session, upload_id: int, user: User, now: datetime) -> CandidateUpload:
    """An upload that may still be confirmed: its uploader's, not confirmed, touched within
    UPLOAD_TTL (staged, or a confirm's last progress: a stopped confirm may be resumed for a day)."""
    upload = _find_upload(session, upload_id, user)
    if upload is None or (upload.confirming_at or upload.created_at) <= now - UPLOAD_TTL:
        raise UploadExpired(upload.rows_done if upload else 0)
    return upload


CHUNK_ROWS = 250  # rows a transaction: about 0.3 s each into a started campaign on PostgreSQL (step 1 planned
# for each), so with an update at most once a second the person never waits 2 s for news
CONFIRM_LEASE = timedelta(minutes=2)  # no progress for this long: the run is taken for dead, Resume may take over


class ConfirmRunning(UserError):
    """Another run is writing this upload now (a second click, or Resume while it still moves)."""


@dataclass
class ConfirmJob:
    """A confirm in progress: what a run needs between its chunks. The rows are read once, by the
    first chunk: the claim stays quick, so the person sees progress before they are read."""

    upload_id: int
    claim: int
    campaign_id: int
    campaign_name: str
    total: int
    done: int
    result: ConfirmResult
    rows: list[dict[str, Any]] | None = None

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def begin_confirm(session: Session, *, upload_id: int, user: User, clock: Clock,
                  campaign: Campaign | None = None) -> ConfirmJob:
    """Claim a staged upload for writing into its campaign (or `campaign`, for an upload staged
    without one), or take over a run that stopped (no progress for CONFIRM_LEASE): it resumes where
    that one stopped. Writes nothing else; confirm_chunk then writes the rows."""
    now = clock.now()
    upload = _pending_upload(session, upload_id, user, now)
    total = int(session.scalar(select(func.json_array_length(CandidateUpload.rows))
                               .where(CandidateUpload.id == upload.id)) or 0)
    if upload.confirming_at is not None and upload.confirming_at > now - CONFIRM_LEASE:
        raise ConfirmRunning(f"These rows are being added now ({upload.rows_done:,} of {total:,} so far). "
                             "If the message stops moving for 2 minutes, press Resume.")
    if campaign is None:
        campaign = session.get(Campaign, upload.campaign_id) if upload.campaign_id is not None else None
        if campaign is None:
            raise UserError("Pick the campaign to add these candidates to.", field="campaign")
    elif upload.campaign_id not in (None, campaign.id):
        raise UserError("These rows were uploaded for another campaign: add them there, or upload them again.")
    _check_campaign(campaign, user)
    if not total:
        raise UserError("There are no good rows to add: fix the problems and upload the file again.")
    upload.campaign_id, upload.confirming_at = campaign.id, now
    upload.confirm_claim += 1
    session.flush()
    return ConfirmJob(upload.id, upload.confirm_claim, campaign.id, campaign.name, total, upload.rows_done,
                      ConfirmResult(**(upload.counts or NOTHING_YET)))


def confirm_chunk(session: Session, *, job: ConfirmJob, user: User, clock: Clock, rng: random.Random | None = None,
                  size: int | None = None) -> ConfirmJob:
    """Write the job's next `size` rows in the caller's transaction and record them as done with the
    counts so far (the last chunk marks the upload confirmed), so a run that dies loses only its
    open transaction and Resume goes on from the first row not written. Refused (ConfirmRunning)
    when another run took the upload over meanwhile. In a started campaign each new enrollment gets
    step 1 planned as at Start; in a paused one, resume_campaign plans it. `rng` picks send times."""
    now = clock.now()
    upload = session.execute(select(CandidateUpload.confirm_claim, CandidateUpload.rows_done,
                                    CandidateUpload.confirmed_at)
                             .where(CandidateUpload.id == job.upload_id).with_for_update()).one_or_none()
    if upload is None:
        raise UploadExpired(job.done)
    if upload.confirm_claim != job.claim or upload.rows_done != job.done or upload.confirmed_at is not None:
        raise ConfirmRunning("Another run took over adding these rows: its message shows how far it got.")
    campaign = session.get(Campaign, job.campaign_id)
    if campaign is None:
        raise NotFound("That campaign was not found.")
    _campaign_takes_candidates(campaign)
    if job.rows is None:
        job.rows = list(session.scalar(select(CandidateUpload.rows).where(CandidateUpload.id == job.upload_id)))
    raw = job.rows[job.done:job.done + (size or CHUNK_ROWS)]
    admitted, held = engagement.admit(session, user=user, campaign=campaign, rows=raw, now=now)  # a teammate's
    screened = do_not_contact.screen_rows(session, organisation_id=campaign.organisation_id, actor=user, clock=clock,
                                          rows=[CandidateRow.from_json(r) for r in admitted],
                                          where="upload confirm")  # listed since they were staged
    chunk, enrollment_ids = _Writer(session, campaign=campaign, user=user, now=now).write(screened.rows)
    chunk = replace(chunk, do_not_contact=len(screened.skipped), held=held)
    engagement.keep_overrides(session, campaign_id=campaign.id, organisation_id=user.organisation_id, rows=admitted)
    if enrollment_ids and campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
        planner.plan_first_steps(session, enrollment_ids, rng=rng or random.Random(), now=now)
    mark_stale(session, [campaign.id])  # its message lists the new candidates
    job.done += len(raw)
    job.result = ConfirmResult(*(a + b for a, b in zip(astuple(job.result), astuple(chunk))))
    session.execute(update(CandidateUpload).where(CandidateUpload.id == job.upload_id).values(
        rows_done=job.done, counts=asdict(job.result), confirming_at=now,
        confirmed_at=now if job.finished else None))
    session.flush()
    return job


def release_confirm(session: Session, *, job: ConfirmJob, clock: Clock) -> None:
    """A run that stopped (and said so) gives up its claim, so Resume need not wait CONFIRM_LEASE: its
    last progress is set a lease ago, which keeps the rows within UPLOAD_TTL all the same."""
    session.execute(update(CandidateUpload).where(
        CandidateUpload.id == job.upload_id, CandidateUpload.confirm_claim == job.claim,
        CandidateUpload.confirmed_at.is_(None)).values(confirming_at=clock.now() - CONFIRM_LEASE))


def confirm_upload(session: Session, *, upload_id: int, user: User, clock: Clock, campaign: Campaign | None = None,
                   rng: random.Random | None = None) -> ConfirmResult:
    """Write a staged upload's rows into its campaign in the caller's one transaction (the Slack
    button writes in chunks instead, showing progress: handlers/upload_progress.py). New candidates
    are created, known ones (an address this user can see already belongs to them) are reused."""
    job = begin_confirm(session, upload_id=upload_id, user=user, clock=clock, campaign=campaign)
    while not job.finished:
        confirm_chunk(session, job=job, user=user, clock=clock, rng=rng, size=max(job.total, 1))
    analyze_after_bulk_write(session, rows=job.total)
    return job.result


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
    touched = func.coalesce(CandidateUpload.confirming_at, CandidateUpload.created_at)  # as _pending_upload
    result = session.execute(delete(CandidateUpload).where(
        CandidateUpload.confirmed_at.is_(None), touched <= clock.now() - UPLOAD_TTL)
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
        zones: dict[int, str] = {}  # a known candidate's zone, replaced only by a row that gives one
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
            if row.time_zone:
                zones[candidate.id] = row.time_zone
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
        if zones:
            self.session.execute(update(Candidate), [{"id": i, "time_zone": z} for i, z in zones.items()])
        for chunk in _chunks(new_addresses, LOOKUP_CHUNK):
            self.session.execute(insert(CandidateAddress), list(chunk))
        enrollment_ids = self._insert_enrollments(enrollments)
        self._forget_stale({c.id for c in changed} | {a["candidate_id"] for a in new_addresses} | set(zones))
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
        return insert_returning_ids(self.session, Candidate, [
            {"organisation_id": self.user.organisation_id, "name": row.name, "fields": row.fields,
             "time_zone": row.time_zone, "created_by_id": self.user.id, "created_at": self.now} for row in rows])

    def _insert_enrollments(self, enrollments: dict[int, dict[str, Any]]) -> list[int]:
        return insert_returning_ids(self.session, Enrollment, [
            {"campaign_id": self.campaign.id, "candidate_id": candidate_id, "fields_override": overrides,
             "tried_addresses": [], "created_at": self.now} for candidate_id, overrides in enrollments.items()])

    def _forget_stale(self, candidate_ids: set[int]) -> None:
        """Bulk statements bypass the session: expire loaded candidates they changed, so the caller's
        objects read the new fields and addresses."""
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Candidate) and obj.id in candidate_ids:
                self.session.expire(obj)
