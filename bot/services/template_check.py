"""Before a campaign starts: which candidates lack a field some step's template needs.

Templates render with strict undefined (bot.templates), so a missing field would stop that
candidate's email at send time; this finds them all up front, the way scheduling/compose.py renders:
each step's subject and body, and, for follow-ups in the same thread, step 1's subject (their
`Re:` subject), with the enrollment's fields_override applied.

Which fields a template needs is one rule, bot.templates.missing_fields (the campaign importer uses it
too). Fast path: each template's variables (templates.needs) are found once; a candidate who has all
of them cannot fail on a missing field, and only a candidate lacking one is actually rendered.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import templates
from bot.models import Campaign, Candidate, Enrollment, EnrollmentStatus, SequenceStep

ENDED = (EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED, EnrollmentStatus.FINISHED)
_DERIVED = frozenset({"name", "first_name", "last_name"})  # templates.candidate_values always sets these


@dataclass(frozen=True)
class MissingField:
    candidate: str
    enrollment_id: int
    step: int  # the first step that needs the field
    field: str


def _plan(steps: list[SequenceStep], same_thread: bool) -> list[tuple[int, list[str]]]:
    """What compose renders for each step, in its order: the subject, step 1's subject for a
    follow-up in the same thread ("Re: …"), the body."""
    first_subject = steps[0].subject if steps and steps[0].position == 1 else None
    plan = []
    for step in steps:
        threaded = same_thread and step.position > 1 and first_subject is not None
        plan.append((step.position, [step.subject, *([first_subject] if threaded else []), step.body]))
    return plan


def _still_sending(session: Session, campaign: Campaign) -> Any:
    """(enrollment id, steps sent, overrides, name, fields) of each candidate whose sequence has not
    ended, in enrollment order: whom both checks look at."""
    return session.execute(
        select(Enrollment.id, Enrollment.steps_sent, Enrollment.fields_override, Candidate.name, Candidate.fields)
        .join(Candidate, Candidate.id == Enrollment.candidate_id)
        .where(Enrollment.campaign_id == campaign.id, Enrollment.status.not_in(ENDED))
        .order_by(Enrollment.id))


def missing_fields(session: Session, *, campaign: Campaign) -> list[MissingField]:
    """Every (candidate, field) a step still to be sent needs and the candidate lacks, with the first
    step that needs it; candidates whose sequence has ended are skipped. In enrollment order."""
    steps = sorted(campaign.sequence.steps, key=lambda s: s.position)
    plan = _plan(steps, campaign.same_thread)
    needs = {source: templates.needs(source) for _, sources in plan for source in sources}
    rows = _still_sending(session, campaign)
    found: list[MissingField] = []
    for enrollment_id, steps_sent, overrides, name, fields in rows:
        present = _DERIVED | set(fields or {}) | set(overrides or {})
        values: dict[str, Any] | None = None
        reported: set[str] = set()
        for position, sources in plan:
            if position <= steps_sent:
                continue
            for source in sources:
                lacking = needs[source] - present
                if not lacking:
                    continue  # the fast path: every variable this template reads is there
                if values is None:
                    values = templates.candidate_values(name, fields or {}, overrides)
                for field in templates.missing_fields(source, values):
                    if field not in reported:
                        reported.add(field)
                        found.append(MissingField(name, enrollment_id, position, field))
    return found


# What would end a header line early: a field that holds one cannot go into a subject (the rest of
# the control characters are refused where fields enter; line breaks are allowed there, for notes).
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x85\u2028\u2029]")


def subject_line_breaks(session: Session, *, campaign: Campaign) -> list[MissingField]:
    """Every (candidate, field) with a line break that a subject still to be sent reads, with the
    first step whose subject reads it: the send would fail, so Start names them first."""
    steps = sorted(campaign.sequence.steps, key=lambda s: s.position)
    subjects = [(position, sources[:-1]) for position, sources in _plan(steps, campaign.same_thread)]  # less the body
    rows = _still_sending(session, campaign)
    found: list[MissingField] = []
    for enrollment_id, steps_sent, overrides, name, fields in rows:
        values = {**(fields or {}), **(overrides or {})}
        broken = {key for key, value in values.items() if isinstance(value, str) and _LINE_BREAK.search(value)}
        if not broken:
            continue  # the fast path: nearly every candidate
        reported: set[str] = set()
        for position, sources in subjects:
            if position <= steps_sent:
                continue
            for field in sorted(set().union(*(templates.needs(source) for source in sources)) & broken - reported):
                reported.add(field)
                found.append(MissingField(name, enrollment_id, position, field))
    return found


def describe(missing: list[MissingField], limit: int = 10, verb: str = "needs") -> str:
    """One message naming candidates and what they lack, e.g. "Ana Lima: step 2 needs `company`;
    Bo Chen: step 1 needs `role` and `team` … and 12 more" (more candidates)."""
    by_enrollment: dict[int, tuple[str, dict[int, list[str]]]] = {}
    for item in missing:
        _, by_step = by_enrollment.setdefault(item.enrollment_id, (item.candidate, {}))
        by_step.setdefault(item.step, []).append(item.field)
    parts = []
    for name, by_step in list(by_enrollment.values())[:limit]:
        needs = ", ".join(f"step {step} {verb} {_and(fields)}" for step, fields in sorted(by_step.items()))
        parts.append(f"{name}: {needs}")
    text = "; ".join(parts)
    if len(by_enrollment) > limit:
        text += f" … and {len(by_enrollment) - limit} more"
    return text


def _and(fields: list[str]) -> str:
    shown = [f"`{f}`" for f in fields]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
