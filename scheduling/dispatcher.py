"""The dispatcher: claims due sends from the database and sends each one once.

A row is claimed in two moves. A batch claim puts a lease on due `pending` rows (nothing is sent
yet, so an expired lease just lets another worker take them). Then, for each row, one short write
transaction re-checks that the enrollment, campaign and mailbox may still send and moves the row to
`sending`; only then is the provider called. A reply recorded a moment earlier therefore stops the
send, and a row left in `sending` by a crash is never resent blindly.
"""
from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import templates
from bot.clock import Clock
from bot.db import transaction
from bot.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    OutboundStatus,
    SequenceStep,
)
from providers.base import OutgoingEmail, ProviderError
from providers.registry import ProviderRegistry
from scheduling import planner

log = logging.getLogger(__name__)

SENDABLE_ENROLLMENT = [s for s in EnrollmentStatus if s.sends]
SENDING_CAMPAIGN = [CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0


def _may_send():
    """The condition, checked inside the claiming transaction, that a row may go out now."""
    return and_(
        OutboundMessage.enrollment_id == Enrollment.id,
        Enrollment.status.in_(SENDABLE_ENROLLMENT),
        Enrollment.campaign_id == Campaign.id,
        Campaign.status.in_(SENDING_CAMPAIGN),
        OutboundMessage.mailbox_id == Mailbox.id,
        Mailbox.status == MailboxStatus.CONNECTED,
    )


class Dispatcher:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        providers: ProviderRegistry,
        clock: Clock,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.sessions = session_factory
        self.providers = providers
        self.clock = clock
        self.rng = rng or random.Random()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.batch_size = batch_size
        self.lease = lease

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        ids = self._claim_batch()
        report.claimed = len(ids)
        for row_id in ids:
            outcome = self._send_one(row_id)
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def _claim_batch(self) -> list[int]:
        now = self.clock.now()
        due = (
            select(OutboundMessage.id)
            .join(Enrollment, Enrollment.id == OutboundMessage.enrollment_id)
            .join(Campaign, Campaign.id == Enrollment.campaign_id)
            .join(Mailbox, Mailbox.id == OutboundMessage.mailbox_id)
            .where(
                OutboundMessage.status == OutboundStatus.PENDING,
                OutboundMessage.due_at <= now,
                or_(OutboundMessage.lease_expires_at.is_(None), OutboundMessage.lease_expires_at < now),
                _may_send(),
            )
            .order_by(OutboundMessage.due_at)
            .limit(self.batch_size)
            .with_for_update(of=OutboundMessage, skip_locked=True)  # ignored on SQLite
        )
        with transaction(self.sessions, write=True) as session:
            claimed = session.scalars(
                update(OutboundMessage)
                .where(OutboundMessage.id.in_(due.scalar_subquery()))
                .values(claimed_by=self.worker_id, lease_expires_at=now + self.lease)
                .returning(OutboundMessage.id)
            ).all()
        return sorted(claimed)

    def _send_one(self, row_id: int) -> str:
        now = self.clock.now()
        with transaction(self.sessions, write=True) as session:
            moved = session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == row_id,
                    OutboundMessage.status == OutboundStatus.PENDING,
                    OutboundMessage.claimed_by == self.worker_id,
                    select(Enrollment.id).where(_may_send()).exists(),
                )
                .values(status=OutboundStatus.SENDING, attempts=OutboundMessage.attempts + 1)
            ).rowcount
            if not moved:
                return "skipped"
            row = session.get(OutboundMessage, row_id)
            try:
                email = self._compose(session, row)
            except templates.TemplateProblem as exc:  # the template changed, or a field is gone
                row.status, row.error = OutboundStatus.FAILED, exc.message
                return "failed"
            provider = self.providers.for_mailbox(session.get(Mailbox, row.mailbox_id))
        try:
            sent = provider.send(email)
        except ProviderError as exc:
            log.warning("send of outbound %s failed: %s", row_id, exc)
            with transaction(self.sessions, write=True) as session:
                row = session.get(OutboundMessage, row_id)
                row.status, row.error = OutboundStatus.FAILED, str(exc)[:1000]
            return "failed"
        with transaction(self.sessions, write=True) as session:
            self._record_sent(session, row_id, sent.provider_message_id, sent.thread_id)
        return "sent"

    def _compose(self, session: Session, row: OutboundMessage) -> OutgoingEmail:
        enrollment = row.enrollment
        campaign: Campaign = enrollment.campaign
        candidate: Candidate = enrollment.candidate
        values = templates.candidate_values(candidate.name, candidate.fields, enrollment.fields_override)
        step = session.scalar(select(SequenceStep).where(
            SequenceStep.sequence_id == campaign.sequence_id, SequenceStep.position == row.step_position))
        subject = templates.render(step.subject, values, field="subject")
        if row.in_reply_to:  # a follow-up in the same thread carries step 1's subject
            first = session.scalar(select(SequenceStep).where(
                SequenceStep.sequence_id == campaign.sequence_id, SequenceStep.position == 1))
            subject = "Re: " + templates.render(first.subject, values, field="subject")
        return OutgoingEmail(
            from_address=campaign.mailbox.address, from_name=campaign.owner.name or None,
            to_address=row.to_address, subject=subject,
            body=templates.render(step.body, values, field="body"), message_id=row.message_id,
            in_reply_to=row.in_reply_to, references=tuple((row.references or "").split()),
            thread_id=enrollment.thread_id if row.in_reply_to else None, date=self.clock.now(),
        )

    def _record_sent(self, session: Session, row_id: int, provider_id: str, thread_id: str | None) -> None:
        now = self.clock.now()
        row = session.get(OutboundMessage, row_id)
        row.status, row.sent_at = OutboundStatus.SENT, now
        row.provider_message_id, row.provider_thread_id = provider_id, thread_id
        row.lease_expires_at = None
        enrollment = row.enrollment
        campaign = enrollment.campaign
        campaign.mailbox.last_send_at = now
        if campaign.status == CampaignStatus.SCHEDULED:
            campaign.status = CampaignStatus.ACTIVE
        total = session.scalar(select(func.count()).where(SequenceStep.sequence_id == campaign.sequence_id))
        planner.after_sent(session, enrollment=enrollment, sent=row, rng=self.rng, now=now, total_steps=total)
        session.flush()
        unfinished = session.scalar(select(func.count()).where(
            Enrollment.campaign_id == campaign.id, Enrollment.ended_at.is_(None)))
        if not unfinished:
            campaign.status = CampaignStatus.FINISHED
