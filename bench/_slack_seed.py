"""Seeding for bench/slack.py and bench/_fresh_statistics.py: one recruiter, 50 campaigns, one of
10,000 candidates and one of 5,000 (started: step 1 planned, pending, for each), the rest of 10.
People, enrollments and planned sends are bulk inserts, as a CSV confirm or an import writes them."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, insert, update

from bench._recruiter import rita_and_campaigns
from bot.clock import SystemClock
from bot.db import session_factory, transaction
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
)

BIG, LARGE = "Big Q4", "Large Q4"
SIZES = {BIG: 10_000, LARGE: 5_000}
CAMPAIGNS, SMALL = 50, 10
CHUNK = 2_000


def seed(engine: Engine, *, sizes: dict[str, int] = SIZES, campaigns: int = CAMPAIGNS) -> dict[str, int]:
    """Returns campaign ids by name. The big ones are started: Active, each candidate in progress with
    step 1 pending over the next days; the small ones are drafts."""
    clock = SystemClock()
    sessions = session_factory(engine)
    names = [*sizes, *(f"Campaign {n:02d}" for n in range(campaigns - len(sizes)))]
    with transaction(sessions, write=True) as session:
        rita, mailbox, ids = rita_and_campaigns(session, clock, list(reversed(names)))  # the big ones newest
        now, org, owner, box = clock.now(), rita.organisation_id, rita.id, mailbox.id
    sqlite = engine.dialect.name == "sqlite"
    for name, campaign_id in ids.items():
        started = name in sizes
        total = sizes.get(name, SMALL)
        for first in range(0, total, CHUNK):
            n = range(first, min(total, first + CHUNK))
            with engine.begin() as conn:
                people = conn.execute(insert(Candidate).returning(Candidate.id, sort_by_parameter_order=not sqlite), [
                    {"organisation_id": org, "name": f"Person {campaign_id}-{i}", "fields": {"company": "Acme"},
                     "created_by_id": owner, "created_at": now} for i in n]).scalars().all()
                people = sorted(people) if sqlite else people
                conn.execute(insert(CandidateAddress), [
                    {"candidate_id": c, "address": f"p{c}@work.example", "kind": AddressKind.WORK, "position": 1}
                    for c in people])
                enrolled = conn.execute(insert(Enrollment).returning(
                    Enrollment.id, sort_by_parameter_order=not sqlite), [
                    {"campaign_id": campaign_id, "candidate_id": c, "created_at": now, "tried_addresses": [],
                     "status": EnrollmentStatus.IN_PROGRESS if started else EnrollmentStatus.NOT_STARTED}
                    for c in people]).scalars().all()
                enrolled = sorted(enrolled) if sqlite else enrolled
                if started:
                    conn.execute(insert(OutboundMessage), [
                        {"enrollment_id": e, "mailbox_id": box, "step_position": 1, "to_address": f"p{c}@work.example",
                         "message_id": f"<{uuid.uuid4().hex}@bench.example>", "status": OutboundStatus.PENDING,
                         "due_at": now + timedelta(days=1, minutes=i), "created_at": now}
                        for i, e, c in zip(n, enrolled, people)])
        if started:
            with engine.begin() as conn:
                conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(
                    status=CampaignStatus.ACTIVE, started_at=now))
    return ids
