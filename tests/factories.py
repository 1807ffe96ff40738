"""Builds domain objects through the real services, so tests start from states the bot can reach."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import AddressKind, Campaign, Mailbox, Provider, Sequence, User
from bot.services.campaigns import create_campaign, enroll
from bot.services.candidates import add_candidate
from bot.services.directory import Profile, ensure_user
from bot.services.mailboxes import connect_mailbox
from bot.services.sequences import StepDraft, create_sequence


def recruiter(session: Session, clock: Clock, slack_id: str = "U0RITA", tz: str = "America/New_York") -> User:
    return ensure_user(session, slack_team_id="T0LOCAL", clock=clock,
                       profile=Profile(slack_id, name="Rita Recruiter", email="rita@acme.example", tz=tz))


def sandbox_mailbox(session: Session, owner: User, clock: Clock, address: str = "rita@acme.example") -> Mailbox:
    return connect_mailbox(session, owner=owner, provider=Provider.SANDBOX, address=address,
                           credentials=None, clock=clock)


def free_name(session: Session, kind: type[Sequence] | type[Campaign], owner: User, name: str) -> str:
    """`name`, or "name (2)", "name (3)", ... when the owner has it already (names are unique per owner)."""
    taken = {n.lower() for n in session.scalars(select(kind.name).where(kind.owner_id == owner.id,
                                                                         kind.archived_at.is_(None)))}
    free, n = name, 1
    while free.lower() in taken:
        n += 1
        free = f"{name} ({n})"
    return free


def campaign_with_candidates(
    session: Session, owner: User, mailbox: Mailbox, clock: Clock, *, candidates: int = 1,
    steps: list[StepDraft] | None = None,
) -> Campaign:
    sequence = create_sequence(session, owner=owner, name=free_name(session, Sequence, owner, "Backend engineers"),
                               clock=clock, steps=steps or [
        StepDraft("Backend role at {{ company }}", "Hi {{ first_name }},\nWould you like to talk?\nRita"),
        StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=2),
    ])
    campaign = create_campaign(session, owner=owner, sequence=sequence, mailbox=mailbox,
                               name=free_name(session, Campaign, owner, "Backend Q4"), clock=clock)
    people = [
        add_candidate(session, added_by=owner, name=f"Ana Candidate{n}", fields={"company": "Acme"}, clock=clock,
                      addresses=[(f"ana{n}@work.example", AddressKind.WORK),
                                 (f"ana{n}@home.example", AddressKind.PERSONAL)])
        for n in range(candidates)
    ]
    enroll(session, campaign=campaign, candidates=people, clock=clock)
    return campaign
