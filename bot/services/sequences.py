"""Sequences of email steps."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import templates
from bot.clock import Clock
from bot.errors import UserError
from bot.models import Sequence, SequenceStep, User


@dataclass(frozen=True)
class StepDraft:
    subject: str
    body: str
    delay_days: int = 0


def create_sequence(session: Session, *, owner: User, name: str, steps: list[StepDraft], clock: Clock) -> Sequence:
    if not name.strip():
        raise UserError("A sequence needs a name.", field="name")
    if not steps:
        raise UserError("A sequence needs at least one step.", field="steps")
    for number, step in enumerate(steps, start=1):
        if not step.subject.strip():
            raise UserError(f"Step {number} has no subject.", field=f"subject_{number}")
        if step.delay_days < 0:
            raise UserError(f"Step {number}: the delay cannot be negative.", field=f"delay_{number}")
        templates.check(step.subject, field=f"subject_{number}")
        templates.check(step.body, field=f"body_{number}")
    sequence = Sequence(organisation_id=owner.organisation_id, owner_id=owner.id, name=name.strip(),
                        created_at=clock.now())
    sequence.steps = [
        SequenceStep(position=n, subject=s.subject, body=s.body, delay_days=0 if n == 1 else s.delay_days)
        for n, s in enumerate(steps, start=1)
    ]
    session.add(sequence)
    session.flush()
    return sequence

