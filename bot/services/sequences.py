"""Sequences of email steps: create, list, find, edit and delete, with the rules that keep running
campaigns coherent (wording may change under them, their schedule may not)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot import templates
from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import Campaign, CampaignStatus, Sequence, SequenceStep, User
from bot.services.addresses import control_problem
from bot.services.campaign_marks import mark_stale_sequence
from bot.services.unique_names import ensure_free, flush_named

# Planned sends of these campaigns were timed with the current delays, so steps and delays are frozen.
RUNNING = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED)
UNFINISHED = (CampaignStatus.DRAFT, *RUNNING)
NAME_LIMIT = 200  # the column sizes (bot/models.py): a longer value would fail at the database instead
SUBJECT_LIMIT = 998
MAX_DELAY_DAYS = 365  # beyond it, a typo (the planner would happily wait years)


@dataclass(frozen=True)
class StepDraft:
    subject: str
    body: str
    delay_days: int = 0


@dataclass(frozen=True)
class CampaignUse:
    """A campaign that uses a sequence, as the list and the refusals name it."""

    sequence_id: int
    name: str
    status: CampaignStatus


@dataclass(frozen=True)
class SequenceSaved:
    sequence: Sequence
    running: tuple[str, ...] = ()  # campaigns whose emails not yet sent will use the new wording


@dataclass(frozen=True)
class SequenceRemoved:
    name: str
    archived: bool  # finished campaigns name it, so it is hidden rather than deleted: their history stays


def _quoted(names: Iterable[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def check_sequence(name: str, steps: list[StepDraft]) -> None:
    """Everything a sequence must be, checked before anything is written; the UserError names the
    modal field at fault (name, subject_N, body_N, delay_N)."""
    if not name.strip():
        raise UserError("A sequence needs a name.", field="name")
    if len(name.strip()) > NAME_LIMIT:
        raise UserError(f"A sequence name has at most {NAME_LIMIT} characters.", field="name")
    if not steps:
        raise UserError("A sequence needs at least one step.", field="steps")
    for number, step in enumerate(steps, start=1):
        if not step.subject.strip():
            raise UserError(f"Step {number} has no subject.", field=f"subject_{number}")
        if not step.body.strip():  # spaces or blank lines only: an empty email
            raise UserError(f"Step {number} has no text: write the email.", field=f"body_{number}")
        if problem := control_problem(step.subject):  # it would end the Subject header and start another
            raise UserError(f"Step {number}: the subject contains {problem}: remove it, a subject is one line.",
                            field=f"subject_{number}")
        if len(step.subject) > SUBJECT_LIMIT:
            raise UserError(f"Step {number}: a subject has at most {SUBJECT_LIMIT} characters.",
                            field=f"subject_{number}")
        if step.delay_days < 0:
            raise UserError(f"Step {number}: the delay cannot be negative.", field=f"delay_{number}")
        if step.delay_days > MAX_DELAY_DAYS:
            raise UserError(f"Step {number}: the delay is at most {MAX_DELAY_DAYS} days.", field=f"delay_{number}")
        for part, source in (("subject", step.subject), ("body", step.body)):
            try:
                templates.check(source, field=f"{part}_{number}")
                templates.check_limits(source, field=f"{part}_{number}")  # a loop that would hang a send
            except templates.TemplateProblem as problem:  # "line 3: ..." gains which step and which part
                raise templates.TemplateProblem(f"Step {number} {part}, {problem.message}",
                                                field=problem.field) from None


def _step(position: int, draft: StepDraft) -> SequenceStep:
    return SequenceStep(position=position, subject=draft.subject, body=draft.body,
                        delay_days=0 if position == 1 else draft.delay_days)


def create_sequence(session: Session, *, owner: User, name: str, steps: list[StepDraft], clock: Clock) -> Sequence:
    check_sequence(name, steps)
    ensure_free(session, Sequence, owner_id=owner.id, name=name)
    sequence = Sequence(organisation_id=owner.organisation_id, owner_id=owner.id, name=name.strip(),
                        created_at=clock.now())
    sequence.steps = [_step(n, draft) for n, draft in enumerate(steps, start=1)]
    session.add(sequence)
    flush_named(session, Sequence, name=name)
    return sequence


def _live(user: User):  # type: ignore[no-untyped-def]
    return (select(Sequence).options(selectinload(Sequence.steps))
            .where(Sequence.owner_id == user.id, Sequence.organisation_id == user.organisation_id,
                   Sequence.archived_at.is_(None)))


def sequences_of(session: Session, *, user: User) -> list[Sequence]:
    """The user's sequences that are not archived, newest first."""
    return list(session.scalars(_live(user).order_by(Sequence.created_at.desc(), Sequence.id.desc())))


def find_sequence(session: Session, *, user: User, name_or_id: str) -> Sequence:
    """One of the user's own sequences by name, whatever its case (names are unique per owner so), or,
    failing that, by number: a sequence named "2024" is found by its name, not by sequence 2024."""
    wanted = name_or_id.strip()
    if not wanted:
        raise UserError("Name the sequence, e.g. `/outreach sequence edit Backend engineers`.")
    found = session.scalar(_live(user).where(func.lower(Sequence.name) == func.lower(wanted)))
    if found is None and wanted.isdigit() and len(wanted) < 19:  # longer overflows a BIGINT (a 500 on PostgreSQL)
        found = session.scalar(_live(user).where(Sequence.id == int(wanted)))
    if found is None:
        raise NotFound(f"You have no sequence called '{wanted}'. `/outreach sequences` lists yours; "
                       "`/outreach sequence new` makes one.")
    return found


def own_sequence(session: Session, *, user: User, sequence_id: int, doing: str = "edit",
                 lock: bool = False) -> Sequence:
    """A sequence by id, for its owner only (buttons carry ids: never trust that the clicker owns it)."""
    # `lock` (PostgreSQL): a campaign being created on it waits until this edit or delete is done.
    # Sequences are their owner's (SPEC "Who sees what"): someone else's is answered as one that does not exist.
    sequence = session.get(Sequence, sequence_id, with_for_update=lock)
    if sequence is None or sequence.owner_id != user.id or sequence.archived_at is not None:
        raise NotFound(f"That sequence no longer exists, or it is not yours to {doing}. `/outreach sequences` "
                       "lists yours.", field="name")
    return sequence


def campaign_uses(session: Session, *, sequence_ids: Iterable[int], lock: bool = False) -> dict[int, list[CampaignUse]]:
    """The campaigns using each sequence, oldest first. `lock` holds their rows (PostgreSQL) until the
    transaction ends, so none starts between this check and the write that relies on it."""
    ids = list(sequence_ids)
    uses: dict[int, list[CampaignUse]] = {i: [] for i in ids}
    if ids:
        query = (select(Campaign.sequence_id, Campaign.name, Campaign.status)
                 .where(Campaign.sequence_id.in_(ids)).order_by(Campaign.id))
        rows = session.execute(query.with_for_update() if lock else query)
        for sequence_id, name, status in rows:
            uses[sequence_id].append(CampaignUse(sequence_id, name, status))
    return uses


def running_campaigns(session: Session, *, sequence_id: int) -> list[str]:
    """The names of the running campaigns using a sequence: while there is one, only its wording may change."""
    return [use.name for use in campaign_uses(session, sequence_ids=[sequence_id])[sequence_id]
            if use.status in RUNNING]


def _schedule_change_field(old: list[SequenceStep], new: list[StepDraft]) -> str | None:
    """The modal field of the first step whose timing differs, or None when only wording changed."""
    for number, (before, after) in enumerate(zip(old, new), start=1):
        if number > 1 and before.delay_days != after.delay_days:
            return f"delay_{number}"
    if len(new) > len(old):
        return f"subject_{len(old) + 1}"
    if len(new) < len(old):
        return "name"  # the removed steps have no field left to point at
    return None


def update_sequence(session: Session, *, user: User, sequence_id: int, name: str, steps: list[StepDraft],
                    clock: Clock) -> SequenceSaved:
    """Only the owner edits. Under a running campaign the wording may change (emails are rendered when
    sent, so it applies to those not yet sent), but steps and delays may not: its sends were planned
    with them."""
    sequence = own_sequence(session, user=user, sequence_id=sequence_id, doing="edit", lock=True)
    check_sequence(name, steps)
    ensure_free(session, Sequence, owner_id=user.id, name=name, exclude_id=sequence.id)
    running = [use.name for use in campaign_uses(session, sequence_ids=[sequence.id], lock=True)[sequence.id]
               if use.status in RUNNING]
    old = sorted(sequence.steps, key=lambda s: s.position)
    field = _schedule_change_field(old, steps)
    if running and field is not None:
        verb = "is" if len(running) == 1 else "are"
        raise UserError(f"{_quoted(running)} {verb} running with this sequence: steps and delays cannot change "
                        "until it finishes; edit the wording, or make a new sequence.", field=field)
    sequence.name = name.strip()
    flush_named(session, Sequence, name=name)  # now: a later query's autoflush would raise it bare
    for step, draft in zip(old, steps):  # rows stay in place: outbound rows name steps by position
        step.subject, step.body = draft.subject, draft.body
        step.delay_days = 0 if step.position == 1 else draft.delay_days
    added = [_step(n, draft) for n, draft in enumerate(steps, start=1) if n > len(old)]
    sequence.steps = old[:len(steps)] + added  # delete-orphan removes the steps left out
    mark_stale_sequence(session, sequence.id)  # its campaigns' messages show its name and step count
    session.flush()
    return SequenceSaved(sequence, tuple(running))


def update_wording(session: Session, *, user: User, sequence_id: int, name: str,
                   wording: list[tuple[str, str]], clock: Clock) -> SequenceSaved:
    """The locked modal's save (a running campaign uses the sequence): the name and each existing step's
    subject and body; the steps and their delays stay as they are. `wording` has one (subject, body)
    per step; a different count means the steps changed since the modal opened."""
    sequence = own_sequence(session, user=user, sequence_id=sequence_id, doing="edit", lock=True)
    old = sorted(sequence.steps, key=lambda s: s.position)
    if len(wording) != len(old):
        raise UserError(f"'{sequence.name}' changed since this form opened: close it and edit it again.",
                        field="name")
    steps = [StepDraft(subject, body, step.delay_days) for (subject, body), step in zip(wording, old)]
    return update_sequence(session, user=user, sequence_id=sequence_id, name=name, steps=steps, clock=clock)


def delete_sequence(session: Session, *, user: User, sequence_id: int, clock: Clock) -> SequenceRemoved:
    """Refused while a campaign that has not finished uses it; archived when finished campaigns name
    it (their history stays); deleted otherwise."""
    sequence = own_sequence(session, user=user, sequence_id=sequence_id, doing="delete", lock=True)
    uses = campaign_uses(session, sequence_ids=[sequence.id], lock=True)[sequence.id]
    blocking = [use for use in uses if use.status in UNFINISHED]
    if blocking:
        named = ", ".join(f"'{use.name}' ({use.status.value})" for use in blocking)
        raise UserError(f"'{sequence.name}' cannot be deleted while campaigns that have not finished use it: "
                        f"{named}. Nothing was deleted.")
    if uses:
        sequence.archived_at = clock.now()
    else:
        session.delete(sequence)
    session.flush()
    return SequenceRemoved(sequence.name, archived=bool(uses))
