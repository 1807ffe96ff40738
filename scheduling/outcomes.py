"""What happens after a send attempt (or a reconciliation lookup), recorded in one transaction for
many rows at a time.

| outcome | the row | the mailbox / campaign | who is told |
|---|---|---|---|
| sent | sent; the next step is planned | last send time; Scheduled → Active | – |
| withdrawn at the last look | cancelled if the candidate's sequence ended (or the recipient is on the do-not-contact list: it ends), else pending | – | – |
| rate limited (429) | pending again: it was not accepted | no claims before Retry-After (reason rate_limit) | – |
| temporary (5xx, timeout) | stays `sending`, checked after a backoff: it may have been accepted | – | – |
| not found when checked | pending again (or failed after MAX_ATTEMPTS) | – | owner, when it gives up |
| reconnect needed | pending again: never sent | needs reconnect; its campaigns pause | owner, once |
| permanent | failed with its reason; the candidate is paused | – | owner |

A one-off email or a preview step (`record_one_offs`; no enrollment, nothing planned after it):

| outcome | the row | the mailbox | who is told |
|---|---|---|---|
| sent | sent, its text cleared; a one-off kept as a DirectMessage; audited | last send time; the spacing hold | the sender, if it settled after the command answered |
| rate limited / reconnect / permanent / withdrawn / not found | failed with error_kind, its count given back; never retried | held / needs reconnect | the sender, likewise |
| temporary | stays `sending`, checked after a backoff (found → sent, not found → failed, never resent) | – | – |
| any but sent | the preview steps after it are cancelled, their count given back | – | – |
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.clock import Clock
from bot.models import (
    Campaign,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
    User,
)
from bot.services.campaigns import finish_if_done
from bot.services import direct_send, send_counts
from bot.services.connections import mark_needs_reconnect
from bot.services import access, do_not_contact, transitions
from bot.services.notifications import notify
from providers.base import PermanentFailure, ProviderError, RateLimited, ReconnectNeeded, SentMessage
from bot.services.planner import Planner
from scheduling.claims import release
from scheduling.record_sent import Sent, SentRow, record_sent
from bot.services.campaign_marks import mark_stale

MAX_ATTEMPTS = 6


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most an hour: long enough for a Sent copy to appear before a check."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


@dataclass(frozen=True)
class Outcome:
    row_id: int
    sent: SentMessage | None = None
    error: ProviderError | None = None
    not_found: bool = False  # a reconciliation lookup found no trace: it was never sent
    withdrawn: bool = False  # the last look before the provider call said no: never sent
    subject: str | None = None  # the subject a new thread was started with


def load_rows(session: Session, ids: Sequence[int], *, lock: bool = False) -> list[OutboundMessage]:
    """The rows with their enrollment and campaign, for recording outcomes (candidates and their
    addresses are loaded by the recorder only for enrollments that plan a next step). With `lock`,
    their enrollments and then the rows are locked (PostgreSQL; the order reply handling takes them
    in) before anything is read, so neither a reply nor another worker whose lease took a row over
    can change what we decide on before we commit."""
    O = OutboundMessage
    enrollment = selectinload(O.enrollment)
    query = select(O).where(O.id.in_(ids)).order_by(O.id).options(
        enrollment.selectinload(Enrollment.campaign).selectinload(Campaign.mailbox))
    if not lock:
        return list(session.scalars(query))
    session.execute(select(Enrollment.id).join(O, O.enrollment_id == Enrollment.id).where(O.id.in_(ids))
                    .order_by(Enrollment.id).with_for_update(of=Enrollment))
    return list(session.scalars(query.with_for_update(of=O).execution_options(populate_existing=True)))


class Recorder:
    def __init__(self, session: Session, *, clock: Clock, rng: random.Random, worker_id: str) -> None:
        self.session = session
        self.worker_id = worker_id
        self.now = clock.now()
        self.clock = clock
        self.planner = Planner(session, rng=rng, now=self.now)
        self._ended: set[int] = set()  # campaigns where an enrollment ended: maybe finished now

    def record(self, outcomes: list[Outcome], known: Mapping[int, SentRow] | None = None) -> None:
        """`known`: what recording needs of the rows, read when they were composed (record_sent)."""
        sent = [Sent(o.row_id, o.sent, o.subject) for o in outcomes if o.sent is not None]
        if sent:  # the common case, on a fast path
            self._ended |= record_sent(self.session, sent, worker_id=self.worker_id, now=self.now,
                                       planner=self.planner, known=known)
        withdrawn = [o.row_id for o in outcomes if o.withdrawn]
        if withdrawn:  # a recipient on the do-not-contact list ends its enrollment first: the row is cancelled
            do_not_contact.end_withdrawn(self.session, row_ids=withdrawn, clock=self.clock)
            release(self.session, withdrawn, self.now, worker_id=self.worker_id)
        others = [o for o in outcomes if o.sent is None and not o.withdrawn]
        if others:
            rows = {row.id: row for row in load_rows(self.session, [o.row_id for o in others], lock=True)}
            self._load_candidates(rows.values())
            with self.session.no_autoflush:  # one flush at the end: the ORM batches the UPDATEs
                self._apply(others, rows)
            self.session.flush()
        if self._ended:
            self._finish_if_done()

    def _apply(self, outcomes: list[Outcome], rows: dict[int, OutboundMessage]) -> None:
        mark_stale(self.session, {rows[o.row_id].enrollment.campaign_id for o in outcomes})  # messages redrawn
        for outcome in outcomes:
            row = rows[outcome.row_id]
            if row.status != OutboundStatus.SENDING or row.claimed_by != self.worker_id:
                continue  # settled or taken over by another worker since (our lease ran out); each
                # transition below re-checks this in its UPDATE (bot.services.transitions)
            if outcome.not_found:
                self._retry_or_give_up(row, row.error or "not accepted by the mail provider")
            elif isinstance(outcome.error, RateLimited):
                self._back_to_pending(row, f"rate limited: {outcome.error}")
                self._hold_mailbox(row.enrollment.campaign.mailbox,
                                   self.now + timedelta(seconds=outcome.error.retry_after), "rate_limit")
            elif isinstance(outcome.error, ReconnectNeeded):
                self._back_to_pending(row, "the mailbox needs to be reconnected")
                self.needs_reconnect(row.enrollment.campaign.mailbox, str(outcome.error))
            elif isinstance(outcome.error, PermanentFailure):
                self._failed(row, str(outcome.error))
            else:  # temporary or unknown: it may have gone out, so look before sending again
                transitions.set_aside(self.session, row, worker_id=self.worker_id,
                                      check_at=self.now + backoff(row.attempts), error=str(outcome.error)[:1000])

    def record_one_offs(self, outcomes: list[Outcome], *, tell: bool) -> None:
        """One-off and preview rows (bot.services.direct_send). `tell`: they settle after the command
        that sent them answered (the next tick, a reconcile), so their sender is told in a notice."""
        if not outcomes:
            return
        ids = [o.row_id for o in outcomes]
        # Locked as the campaign recorder takes them: the rows, then the counters, then (at the flush) the mailbox.
        rows = {r.id: r for r in self.session.scalars(
            select(OutboundMessage).where(OutboundMessage.id.in_(ids)).order_by(OutboundMessage.id)
            .with_for_update(of=OutboundMessage).execution_options(populate_existing=True))}
        mailboxes = {m.id: m for m in self.session.scalars(
            select(Mailbox).where(Mailbox.id.in_({r.mailbox_id for r in rows.values()})))}
        for outcome in sorted(outcomes, key=lambda o: o.row_id):
            row = rows[outcome.row_id]
            if row.status != OutboundStatus.SENDING or row.claimed_by != self.worker_id:
                continue  # settled, or taken over by another worker since; each transition re-checks
            mailbox = mailboxes[row.mailbox_id]
            if outcome.sent is not None:
                self._one_off_sent(row, mailbox, outcome, tell)
                continue
            error = outcome.error
            if outcome.withdrawn and do_not_contact.refused_one_off(self.session, row, clock=self.clock):
                kind, reason = "do_not_contact", do_not_contact.ON_THE_LIST
            elif outcome.withdrawn:
                kind, reason = "withdrawn", "the mailbox may no longer send for its sender"
            elif outcome.not_found:
                kind, reason = "not_sent", row.error or "not found in the mailbox when checked"
            elif isinstance(error, RateLimited):
                kind, reason = "rate_limited", f"rate limited: {error}"
                self._hold_mailbox(mailbox, self.now + timedelta(seconds=error.retry_after), "rate_limit")
            elif isinstance(error, ReconnectNeeded):
                kind, reason = "reconnect", str(error)
                self.needs_reconnect(mailbox, str(error))
            elif isinstance(error, PermanentFailure):
                kind, reason = "permanent", str(error)
            else:  # temporary or unknown: it may have gone out, so it is looked up, never resent
                transitions.set_aside(self.session, row, worker_id=self.worker_id,
                                      check_at=self.now + backoff(row.attempts), error=str(error)[:1000],
                                      error_kind="unclear")
                self._stop_after(row)
                direct_send.audit(self.session, row, now=self.now)
                continue
            if transitions.fail(self.session, row, worker_id=self.worker_id, reason=reason, error_kind=kind,
                                subject=None, body=None):
                send_counts.give_back(self.session, [(row.mailbox_id, row.created_at)])  # it never went out
                self._stop_after(row)
                direct_send.audit(self.session, row, now=self.now)
                if tell:
                    self._tell_sender(row, mailbox)
        self.session.flush()

    def _one_off_sent(self, row: OutboundMessage, mailbox: Mailbox, outcome: Outcome, tell: bool) -> None:
        message = outcome.sent
        assert message is not None
        subject = row.subject or ""
        sent_id = message.message_id if message.message_id and message.message_id != row.message_id else None
        if not transitions.one_off_sent(self.session, row, worker_id=self.worker_id, now=self.now,
                                        provider_message_id=message.provider_message_id, thread_id=message.thread_id,
                                        sent_message_id=sent_id):
            return
        mailbox.last_send_at = self.now
        self._hold_mailbox(mailbox, self.now + timedelta(seconds=mailbox.min_spacing_seconds), "spacing")
        direct_send.keep_sent(self.session, row, subject=subject, now=self.now)
        last = self.session.scalar(select(OutboundMessage.id).where(OutboundMessage.follows_id == row.id).limit(1))
        if last is None:  # the whole send is done: one audit entry for it
            direct_send.audit(self.session, row, now=self.now)
            if tell:
                self._tell_sender(row, mailbox)

    def _stop_after(self, row: OutboundMessage) -> None:
        """A preview stops at its first error: the steps after it are cancelled and stop counting."""
        stopped = transitions.cancel_following(self.session, [row.id])
        send_counts.give_back(self.session, [(mailbox_id, created_at) for _, mailbox_id, created_at in stopped])

    def _tell_sender(self, row: OutboundMessage, mailbox: Mailbox) -> None:
        sender = self.session.get(User, row.sender_id)
        if sender is not None:
            notify(self.session, user=sender, kind="one_off_settled", clock=self.clock,
                   dedupe_key=f"one_off:{row.id}", text=direct_send.settled_text(row, mailbox))

    def _load_candidates(self, rows: Iterable[OutboundMessage]) -> None:
        """Candidates and their addresses in one query, for the enrollments that will plan a next
        step or be told about (the identity map then serves enrollment.candidate without SQL)."""
        ids = {row.enrollment.candidate_id for row in rows}
        list(self.session.scalars(select(Candidate).where(Candidate.id.in_(ids))
                                  .options(selectinload(Candidate.addresses))))

    def _back_to_pending(self, row: OutboundMessage, reason: str) -> None:
        """Never sent: it waits for its turn again, unless the candidate's sequence ended meanwhile."""
        transitions.back_to_pending(self.session, row, worker_id=self.worker_id, reason=reason)

    def _retry_or_give_up(self, row: OutboundMessage, reason: str) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            self._failed(row, f"gave up after {row.attempts} attempts: {reason}")
        else:
            self._back_to_pending(row, reason)

    def _failed(self, row: OutboundMessage, reason: str) -> None:
        if not transitions.fail(self.session, row, worker_id=self.worker_id, reason=reason):
            return  # settled by someone else since: nothing to tell
        enrollment = row.enrollment
        candidate, campaign = enrollment.candidate, enrollment.campaign
        # A provider's refusal often names the address it refused: one added by hand is left out of
        # what others see (the candidate's status shows to everyone the campaign is shared with).
        by_hand = any(a.address == row.to_address and a.added_by_id is not None for a in candidate.addresses)
        shared_reason = reason.replace(row.to_address, "the address added by hand") if by_hand else reason
        # Paused, so the recruiter can fix it and resume the candidate; a reply recorded meanwhile stays.
        paused = transitions.move(self.session, enrollment, leaving=transitions.SENDS, to=EnrollmentStatus.PAUSED,
                                  status_reason=f"step {row.step_position} could not be sent: {shared_reason}"[:500])
        then = (f"{candidate.name} is paused in this campaign until you resume them." if paused else
                f"{candidate.name} is {enrollment.status.value.replace('_', ' ')}: nothing more is sent to them.")
        address = access.shown_address(candidate.addresses, row.to_address, campaign.owner_id)
        notify(self.session, user=campaign.owner, kind="send_failed", clock=self.clock,
               dedupe_key=f"send_failed:{row.id}",
               text=(f":x: Step {row.step_position} of *{campaign.name}* could not be sent to "
                     f"{candidate.name}{f' ({address})' if address else ''}: {reason if address else shared_reason}."
                     f" {then}"))

    def _hold_mailbox(self, mailbox: Mailbox, until: datetime, reason: str) -> None:
        """No claim from `mailbox` before `until`; `reason` ("spacing", "rate_limit") is what
        `/outreach when` names. A longer hold already set stands, with its own reason."""
        if mailbox.not_before is None or mailbox.not_before < until:
            mailbox.not_before, mailbox.not_before_reason = until, reason

    def needs_reconnect(self, mailbox: Mailbox, reason: str) -> None:
        """The grant is gone: pause what sends from this mailbox and tell its owner once."""
        mark_needs_reconnect(self.session, mailbox=mailbox, reason=reason, clock=self.clock)

    def _finish_if_done(self) -> None:
        finish_if_done(self.session, self._ended)
