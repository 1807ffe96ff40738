"""`/outreach export <campaign>`: the campaign's candidates as CSV, for the person who asked.

One row per candidate: name, status (worded as the campaign message words it), the addresses the
caller may see (an address someone else added by hand is never in it: access.shows), when each step
was sent, when they replied, bounced and answered out of office (first time), and their time zone
(their own, else the campaign's). Times are UTC, "YYYY-MM-DD HH:MM".

A fixed number of queries whatever the size (one per table read, each joined on the campaign), so a
campaign of 10,000 candidates exports without a query per candidate. Cells that a spreadsheet would
run as a formula (starting with = + - @, or a tab or carriage return) get a leading apostrophe
(OWASP, "CSV Injection").
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Campaign, Candidate, CandidateAddress, Enrollment, InboundEvent, InboundKind, OutboundMessage, OutboundStatus,
    SequenceStep,
)
from bot.services import access
from bot.services.campaign_status import status_label

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EVENTS = {InboundKind.REPLY: "replied", InboundKind.BOUNCE: "bounced", InboundKind.AUTO_REPLY: "out of office"}


@dataclass(frozen=True)
class Export:
    filename: str
    content: bytes  # UTF-8 with a byte-order mark, so spreadsheet programs read accents right
    rows: int  # candidates


def safe_cell(value: object) -> str:
    """A cell as text, defused when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def export_campaign(session: Session, campaign: Campaign, *, viewer_id: int) -> Export:
    """The CSV of `campaign` as `viewer_id` may see it (the caller checked access.Need.SEE)."""
    steps = session.scalar(select(func.count()).where(SequenceStep.sequence_id == campaign.sequence_id)) or 0
    of_campaign = select(Enrollment.id).where(Enrollment.campaign_id == campaign.id).scalar_subquery()
    people = session.execute(
        select(Enrollment.id, Enrollment.candidate_id, Candidate.name, Enrollment.status, Enrollment.steps_sent,
               Enrollment.away_until, Candidate.time_zone)
        .join(Candidate, Candidate.id == Enrollment.candidate_id).where(Enrollment.campaign_id == campaign.id)
        .order_by(Candidate.name, Enrollment.id)).all()

    addresses: dict[int, list[str]] = defaultdict(list)
    for candidate_id, address, added_by in session.execute(
            select(CandidateAddress.candidate_id, CandidateAddress.address, CandidateAddress.added_by_id)
            .join(Enrollment, Enrollment.candidate_id == CandidateAddress.candidate_id)
            .where(Enrollment.campaign_id == campaign.id)
            .order_by(CandidateAddress.candidate_id, CandidateAddress.position, CandidateAddress.id)).all():
        if access.shows(added_by, viewer_id) and address not in addresses[candidate_id]:
            addresses[candidate_id].append(address)

    sent: dict[tuple[int, int], datetime] = {}
    pending: dict[int, int] = {}
    for enrollment_id, step, status, sent_at in session.execute(
            select(OutboundMessage.enrollment_id, OutboundMessage.step_position, OutboundMessage.status,
                   OutboundMessage.sent_at)
            .where(OutboundMessage.enrollment_id.in_(of_campaign),
                   OutboundMessage.status.in_([OutboundStatus.SENT, OutboundStatus.PENDING]))
            .order_by(OutboundMessage.id)).all():
        if status == OutboundStatus.SENT and sent_at is not None:
            sent[(enrollment_id, step)] = sent_at  # after a bounce the step went again: the last send
        elif status == OutboundStatus.PENDING:
            pending[enrollment_id] = max(step, pending.get(enrollment_id, 0))

    events: dict[tuple[int, str], datetime] = {}
    for enrollment_id, kind, received_at in session.execute(
            select(InboundEvent.enrollment_id, InboundEvent.kind, InboundEvent.received_at)
            .where(InboundEvent.enrollment_id.in_(of_campaign), InboundEvent.kind.in_(list(_EVENTS)))
            .order_by(InboundEvent.received_at, InboundEvent.id)).all():
        events.setdefault((enrollment_id, _EVENTS[kind]), received_at)  # the first of each

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "status", "addresses", *[f"step {n} sent (UTC)" for n in range(1, steps + 1)],
                     "replied (UTC)", "bounced (UTC)", "out of office (UTC)", "time zone"])
    for enrollment_id, candidate_id, name, status, steps_sent, away_until, zone in people:
        label = status_label(status, steps_sent, steps, pending.get(enrollment_id), away_until)
        writer.writerow([safe_cell(cell) for cell in [
            name, label, "; ".join(addresses.get(candidate_id, [])),
            *[_when(sent.get((enrollment_id, n))) for n in range(1, steps + 1)],
            *[_when(events.get((enrollment_id, what))) for what in ("replied", "bounced", "out of office")],
            zone or campaign.timezone]])
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in campaign.name).strip("-")[:60] or "campaign"
    return Export(f"{stem}-candidates.csv", ("\ufeff" + out.getvalue()).encode("utf-8"), len(people))
