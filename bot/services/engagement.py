"""Rules of engagement between teammates (issue 18 §2): a candidate a teammate is already working
with is named at upload and at Start, with who and when, and the organisation decides whether that
warns or holds them back (organisations.engagement_rule, engagement_days).

A person is matched by any of their addresses, across the organisation: the addresses asked about,
and every other address of a candidate row holding one of them (the same person may be two rows
from two uploads). A teammate "has" them when they are in the teammate's scheduled, active or
paused campaign with their enrollment open, or when the teammate emailed them within the days
(a campaign's send, read from enrollments.last_sent_at, or a one-off, direct_messages). "Ours"
is the person asking and the campaign's owner: their own campaigns are never a conflict.

`engaged` answers for any number of addresses in a few statements per LOOKUP_CHUNK addresses,
never a query per candidate. What it reports is a teammate's name, a campaign's name and status
and a date: never an address, never the teammate's candidate data.

The owner overrides one candidate with a reason (`override_row` for a held-back row of an upload,
`override_enrollment` for a candidate held back at Start): stored (the upload's row, then
enrollments.engagement_override), audited, and the teammates are told by a notice (delivered after
the commit, like every notice).
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    CandidateUpload,
    DirectMessage,
    EngagementRule,
    Enrollment,
    EnrollmentStatus,
    Organisation,
    User,
)
from bot.services import transitions
from bot.services.campaigns import resume_candidate
from bot.services.notifications import notify
from bot.wording import counted

LIVE = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED)
CHUNK = 5_000  # addresses per IN (...), as candidate_uploads.LOOKUP_CHUNK
REASON_LIMIT = 500  # enrollments.engagement_override
HELD = "held back by the rules of engagement"  # status_reason of a candidate not planned at Start


@dataclass(frozen=True)
class Engagement:
    """One teammate's hold on a person: their live campaign (name, status), and when they last emailed them."""
    teammate_id: int
    teammate: str
    campaign: str | None = None
    status: str | None = None
    last_emailed: datetime | None = None


@dataclass
class Conflict:
    """A candidate of the asker (a row of an upload, `line`; or an enrollment, `enrollment_id`) a teammate has."""
    name: str
    engagements: list[Engagement]
    line: int | None = None
    enrollment_id: int | None = None
    overridden: bool = False

    def describe(self, now: datetime) -> str:
        """E.g. "Ana Candidate is in Omar's 'Backend Q4' (active), last emailed 3 days ago"."""
        parts = []
        for e in self.engagements:
            when = f"last emailed {_ago(e.last_emailed, now)}" if e.last_emailed else ""
            if e.campaign:
                parts.append(f"in {e.teammate}'s '{e.campaign}' ({e.status})" + (f", {when}" if when else ""))
            else:
                parts.append(f"emailed by {e.teammate} {_ago(e.last_emailed, now)}" if e.last_emailed else
                             f"with {e.teammate}")
        return f"{self.name} is " + "; and ".join(parts)

    @property
    def teammate_ids(self) -> set[int]:
        return {e.teammate_id for e in self.engagements}


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    days = (now - when).days
    return "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(frozen=True)
class Rules:
    rule: EngagementRule
    days: int

    @property
    def blocks(self) -> bool:
        return self.rule == EngagementRule.BLOCK


def rules_of(session: Session, organisation_id: int) -> Rules:
    found = session.execute(select(Organisation.engagement_rule, Organisation.engagement_days)
                            .where(Organisation.id == organisation_id)).one_or_none()
    return Rules(found[0], found[1]) if found else Rules(EngagementRule.WARN, 30)


def engaged(session: Session, *, organisation_id: int, ours: Iterable[int], addresses: Iterable[str],
            since: datetime, exclude_campaign: int | None = None) -> dict[str, list[Engagement]]:
    """Each of `addresses` whose person a teammate (anyone not in `ours`) has, with how. The person
    is followed through every candidate row that shares an address with theirs, in SQL, so only the
    hits come back: one statement per CHUNK addresses for campaigns, and for one-offs one statement
    for the teammates' recent ones (sent by hand, so few) plus one per CHUNK when there are any."""
    asked = sorted({a for a in addresses if a})
    if not asked:
        return {}
    ours = set(ours)
    found: dict[str, dict[tuple[int, str | None], Engagement]] = {}

    def note(asked_addresses: Iterable[str], engagement: Engagement) -> None:
        for address in asked_addresses:
            known = found.setdefault(address, {})
            key = (engagement.teammate_id, engagement.campaign)
            before = known.get(key)
            if before is None or _later(engagement.last_emailed, before.last_emailed):
                known[key] = engagement

    others = Campaign.owner_id.not_in(sorted(ours)) if ours else Campaign.owner_id.is_not(None)
    for chunk in _chunks(asked):
        person = _same_person(organisation_id, chunk).subquery()
        query = (select(person.c.asked, User.id, User.name, Campaign.name, Campaign.status, Enrollment.status,
                        Enrollment.last_sent_at)
                 .join(Enrollment, Enrollment.candidate_id == person.c.candidate_id)
                 .join(Campaign, Campaign.id == Enrollment.campaign_id).join(User, User.id == Campaign.owner_id)
                 .where(Campaign.organisation_id == organisation_id, others,
                        or_(and_(Campaign.status.in_(LIVE), Enrollment.status.in_(transitions.OPEN)),
                            Enrollment.last_sent_at >= since)))
        if exclude_campaign is not None:
            query = query.where(Campaign.id != exclude_campaign)
        for address, teammate_id, teammate, campaign, status, e_status, last in session.execute(query):
            live = status in LIVE and e_status in transitions.OPEN
            recent = last is not None and last >= since
            note([address], Engagement(teammate_id, teammate or "a teammate", campaign if live else None,
                                       status.value if live else None, last if recent else None))
    one_offs = (select(DirectMessage.to_address, User.id, User.name, func.max(DirectMessage.sent_at))
                .join(User, User.id == DirectMessage.sender_id)
                .where(User.organisation_id == organisation_id, DirectMessage.sent_at >= since)
                .group_by(DirectMessage.to_address, User.id, User.name))
    if ours:
        one_offs = one_offs.where(DirectMessage.sender_id.not_in(sorted(ours)))
    recent = session.execute(one_offs).all()
    if recent:
        targets = sorted({address for address, *_ in recent})
        reach: dict[str, set[str]] = {}  # a one-off's address → the asked addresses of the same person
        asked_set = set(asked)
        for address in targets:
            if address in asked_set:
                reach.setdefault(address, set()).add(address)
        for chunk in _chunks(asked):
            person = _same_person(organisation_id, chunk).subquery()
            B = aliased(CandidateAddress)
            for asked_address, target in session.execute(
                    select(person.c.asked, B.address).join(B, B.candidate_id == person.c.candidate_id)
                    .where(B.address.in_(targets))):
                reach.setdefault(target, set()).add(asked_address)
        for address, teammate_id, teammate, last in recent:
            note(reach.get(address, ()), Engagement(teammate_id, teammate or "a teammate", last_emailed=last))
    return {address: list(by.values()) for address, by in found.items()}  # merged per candidate by the caller


def _same_person(organisation_id: int, chunk: Sequence[str]) -> Any:
    """(asked, candidate_id): every candidate row of the organisation that is the person an asked
    address belongs to: a row holding it, or a row sharing another address with such a row."""
    A1, A2, A3 = aliased(CandidateAddress), aliased(CandidateAddress), aliased(CandidateAddress)
    return (select(A1.address.label("asked"), A3.candidate_id.label("candidate_id"))
            .join(Candidate, Candidate.id == A1.candidate_id)
            .join(A2, A2.candidate_id == A1.candidate_id)
            .join(A3, A3.address == A2.address)
            .where(Candidate.organisation_id == organisation_id, A1.address.in_(chunk)).distinct())


def _later(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


def _merged(engagements: list[Engagement]) -> list[Engagement]:
    """One line per teammate: their live campaign with the latest send of any of theirs."""
    by_teammate: dict[int, list[Engagement]] = {}
    for e in engagements:
        by_teammate.setdefault(e.teammate_id, []).append(e)
    merged = []
    for items in by_teammate.values():
        last = max((e.last_emailed for e in items if e.last_emailed), default=None)
        live = [e for e in items if e.campaign]
        for e in live or items[:1]:
            merged.append(Engagement(e.teammate_id, e.teammate, e.campaign, e.status, last))
    return sorted(merged, key=lambda e: (e.teammate, e.campaign or ""))


@dataclass
class Check:
    """The outcome for a set of candidates: the conflicts, and whether the organisation blocks."""
    rules: Rules
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def held(self) -> list[Conflict]:
        """Those held back: every conflict not overridden, when the organisation blocks."""
        return [c for c in self.conflicts if not c.overridden] if self.rules.blocks else []

    def summary(self, now: datetime, limit: int = 10) -> str:
        """The conflicts in a few lines, for a message ("" when none)."""
        if not self.conflicts:
            return ""
        held = self.rules.blocks
        head = (f"{counted(len(self.conflicts), 'candidate')} already with a teammate"
                + (" (held back unless you override):" if held else ":"))
        lines = [f"• {c.describe(now)}" + (" — overridden" if c.overridden else "") for c in self.conflicts[:limit]]
        more = [f"…and {len(self.conflicts) - limit:,} more."] if len(self.conflicts) > limit else []
        return "\n".join([head, *lines, *more])


def check_rows(session: Session, *, user: User, campaign: Campaign | None, rows: Sequence[dict[str, Any]],
               now: datetime) -> Check:
    """The rows of an upload (as staged: dicts with line, name, addresses, engagement_override) the
    asker's teammates have."""
    rules = rules_of(session, user.organisation_id)
    ours = {user.id} | ({campaign.owner_id} if campaign is not None else set())
    found = engaged(session, organisation_id=user.organisation_id, ours=ours,
                    addresses=(a for row in rows for a, _ in row["addresses"]), since=now - timedelta(days=rules.days),
                    exclude_campaign=campaign.id if campaign is not None else None)
    result = Check(rules)
    if not found:
        return result
    for row in rows:
        engagements = _merged([e for a, _ in row["addresses"] for e in found.get(a, [])])
        if engagements:
            result.conflicts.append(Conflict(row["name"], engagements, line=int(row["line"]),
                                             overridden=bool(row.get("engagement_override"))))
    return result


def check_campaign(session: Session, *, campaign: Campaign, now: datetime, enrollment_ids: Iterable[int] | None = None,
                   ) -> Check:
    """The candidates of a campaign (or of `enrollment_ids` in it) its owner's teammates have, for Start."""
    rules = rules_of(session, campaign.organisation_id)
    query = (select(Enrollment.id, Candidate.name, Enrollment.engagement_override, CandidateAddress.address)
             .join(Candidate, Candidate.id == Enrollment.candidate_id)
             .join(CandidateAddress, CandidateAddress.candidate_id == Candidate.id)
             .where(Enrollment.campaign_id == campaign.id))
    if enrollment_ids is not None:
        query = query.where(Enrollment.id.in_(list(enrollment_ids)))
    people: dict[int, tuple[str, bool, list[str]]] = {}
    for enrollment_id, name, override, address in session.execute(query):
        people.setdefault(enrollment_id, (name, bool(override), []))[2].append(address)
    found = engaged(session, organisation_id=campaign.organisation_id, ours={campaign.owner_id},
                    addresses=(a for _, _, addresses in people.values() for a in addresses),
                    since=now - timedelta(days=rules.days), exclude_campaign=campaign.id)
    result = Check(rules)
    for enrollment_id, (name, overridden, addresses) in sorted(people.items()):
        engagements = _merged([e for a in addresses for e in found.get(a, [])])
        if engagements:
            result.conflicts.append(Conflict(name, engagements, enrollment_id=enrollment_id, overridden=overridden))
    return result


def hold_at_start(session: Session, *, campaign: Campaign, now: datetime) -> Check:
    """Start's hook: the conflicts of the campaign's candidates; under "block", those not overridden
    are paused with HELD as their reason, so Start plans none of them (the owner overrides one from
    the candidate's menu)."""
    check = check_campaign(session, campaign=campaign, now=now)
    held = [c.enrollment_id for c in check.held]
    if held:
        session.execute(update(Enrollment).where(Enrollment.id.in_(held), Enrollment.status.in_(transitions.SENDS))
                        .values(status=EnrollmentStatus.PAUSED, status_reason=HELD)
                        .execution_options(synchronize_session="fetch"))
    return check


def held_lines(session: Session, *, user: User, campaign: Campaign, rows: Sequence[dict[str, Any]],
               now: datetime) -> tuple[set[int], Check]:
    """The confirm's hook: the lines of `rows` to leave out (under "block", conflicts not overridden)."""
    check = check_rows(session, user=user, campaign=campaign, rows=rows, now=now)
    return {c.line for c in check.held if c.line is not None}, check


# ---- override ------------------------------------------------------------------------------------
def _reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise UserError("Say why you contact them anyway: your teammate reads it.", field="reason")
    if len(reason) > REASON_LIMIT:
        raise UserError(f"Keep the reason to {REASON_LIMIT} characters (it has {len(reason)}).", field="reason")
    return reason


def _own_upload(session: Session, user: User, upload_id: int, *, lock: bool = False) -> CandidateUpload:
    query = select(CandidateUpload).where(CandidateUpload.id == upload_id)
    upload = session.scalar(query.with_for_update() if lock else query)
    if upload is None or upload.organisation_id != user.organisation_id or upload.user_id != user.id:
        raise NotFound("These rows are gone (added, discarded or expired), or they are not yours.")
    if upload.confirmed_at is not None or upload.confirming_at is not None:
        raise UserError("These rows are already being added: override from the candidate's menu on the campaign "
                        "message instead.")
    return upload


def row_conflict(session: Session, *, user: User, upload_id: int, line: int, now: datetime,
                 upload: CandidateUpload | None = None) -> tuple[Conflict, int]:
    """A row of the uploader's own upload a teammate has, and its index in the rows."""
    upload = upload or _own_upload(session, user, upload_id)
    rows = list(upload.rows)
    index = next((i for i, r in enumerate(rows) if int(r["line"]) == line), None)
    if index is None:
        raise NotFound("That row is not in this upload.")
    campaign = session.get(Campaign, upload.campaign_id) if upload.campaign_id else None
    conflict = next(iter(check_rows(session, user=user, campaign=campaign, rows=[rows[index]], now=now).conflicts),
                    None)
    if conflict is None:
        raise UserError(f"{rows[index]['name']} is no longer with a teammate: nothing to override.")
    return conflict, index


def override_row(session: Session, *, user: User, upload_id: int, line: int, reason: str, clock: Clock) -> Conflict:
    """The uploader lets one held-back row of their upload in: the reason is kept on the row (and on
    its enrollment at confirm), audited, and the teammates are told."""
    reason = _reason(reason)
    upload = _own_upload(session, user, upload_id, lock=True)
    conflict, index = row_conflict(session, user=user, upload_id=upload_id, line=line, now=clock.now(), upload=upload)
    rows = list(upload.rows)
    rows[index] = {**rows[index], "engagement_override": reason}
    upload.rows = rows  # a new list: the JSON column sees the change
    campaign = session.get(Campaign, upload.campaign_id) if upload.campaign_id else None
    _record(session, user, conflict, reason, campaign.name if campaign else None, "upload", upload.id, clock)
    return conflict


def enrollment_conflict(session: Session, *, user: User, enrollment: Enrollment, now: datetime) -> Conflict:
    """A candidate of the user's own campaign a teammate has (only the owner overrides)."""
    campaign = enrollment.campaign
    if campaign.owner_id != user.id:
        raise UserError(f"Only {campaign.owner.name or 'its owner'}, who owns '{campaign.name}', can override the "
                        "rules of engagement for its candidates.")
    conflict = next(iter(check_campaign(session, campaign=campaign, now=now, enrollment_ids=[enrollment.id])
                         .conflicts), None)
    if conflict is None:
        raise UserError(f"{enrollment.candidate.name} is not with a teammate: nothing to override.")
    return conflict


def override_enrollment(session: Session, *, user: User, enrollment: Enrollment, reason: str, clock: Clock) -> Conflict:
    """The owner lets one candidate of their campaign in despite a teammate: the reason goes on the
    enrollment, audited, the teammates told; one held back at Start is resumed (planned if started).
    `user` was checked by the caller (access, Need.CHANGE); only the owner may override."""
    reason = _reason(reason)
    conflict = enrollment_conflict(session, user=user, enrollment=enrollment, now=clock.now())
    campaign = enrollment.campaign
    enrollment.engagement_override = reason
    _record(session, user, conflict, reason, campaign.name, "enrollment", enrollment.id, clock)
    if enrollment.status == EnrollmentStatus.PAUSED and enrollment.status_reason == HELD:
        session.flush()
        resume_candidate(session, enrollment=enrollment, clock=clock, rng=random.Random(enrollment.id))
    return conflict


def _record(session: Session, user: User, conflict: Conflict, reason: str, campaign: str | None, subject: str,
            subject_id: int, clock: Clock) -> None:
    session.add(AuditEntry(organisation_id=user.organisation_id, actor=user.slack_user_id,
                           action="engagement.overridden", subject_type=subject, subject_id=subject_id,
                           detail={"candidate": conflict.name, "teammates": sorted(conflict.teammate_ids),
                                   "reason": reason}, created_at=clock.now()))
    where = f" in '{campaign}'" if campaign else ""
    for teammate_id in sorted(conflict.teammate_ids):
        teammate = session.get(User, teammate_id)
        if teammate is None:
            continue
        notify(session, user=teammate, kind="engagement_override", clock=clock,
               text=f"{user.name or 'A teammate'} is also contacting {conflict.name}{where}: {reason}",
               dedupe_key=f"engagement:{subject}:{subject_id}:{conflict.line or 0}:{teammate_id}")


# ---- the confirm's hook --------------------------------------------------------------------------
def admit(session: Session, *, user: User, campaign: Campaign, rows: Sequence[dict[str, Any]],
          now: datetime) -> tuple[list[dict[str, Any]], int]:
    """A chunk of a confirm: the rows to write (under "block", those a teammate has and nobody
    overrode are left out) and how many were held back."""
    held, _ = held_lines(session, user=user, campaign=campaign, rows=rows, now=now)
    return [r for r in rows if int(r["line"]) not in held], len(held)


def keep_overrides(session: Session, *, campaign_id: int, organisation_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """After a chunk is written: each overridden row's reason goes on its enrollment (a statement per
    override, and overrides are made one by one, by hand)."""
    for row in rows:
        reason = row.get("engagement_override")
        if not reason:
            continue
        people = (select(CandidateAddress.candidate_id).join(Candidate, Candidate.id == CandidateAddress.candidate_id)
                  .where(Candidate.organisation_id == organisation_id,
                         CandidateAddress.address.in_([a for a, _ in row["addresses"]])))
        session.execute(update(Enrollment).where(Enrollment.campaign_id == campaign_id,
                                                 Enrollment.candidate_id.in_(people),
                                                 Enrollment.engagement_override.is_(None))
                        .values(engagement_override=reason).execution_options(synchronize_session=False))
