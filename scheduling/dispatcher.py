"""The dispatcher: sends every due step exactly once, across crashes and any number of workers.

One run:
1. reconcile: rows left in `sending` by a crashed worker, or by an answer that left it unclear
   whether the provider accepted the message, are looked up in the mailbox by their Message-ID.
   Found: sent. Not found: pending again. Lookup failed: look again later. Never a blind resend.
2. claim (scheduling.claims): due rows that may go out now, within each mailbox's limits, move to
   `sending` in one transaction that re-checks the enrollment (no send after a recorded reply).
   In that transaction, at a daily-cap hit and at each upkeep, follow-ups the cap holds past their
   window move to their next allowed one (bot.services.planner.move_held_follow_ups), pending only.
3. send: concurrently across mailboxes (at most `max_in_flight` per mailbox, set by the claim),
   each send preceded by a last look at most scheduling.last_look.FRESH_SECONDS old: a row that
   may no longer go out is withdrawn, never sent.
4. record (scheduling.outcomes): results in batches, planning each next step.
With provider latency (concurrency > 1) the steps overlap: while sends wait on the provider, the
next claim is made and composed and finished sends are recorded, so the threads never run dry
between batches (`_overlapped`).

One-off emails and previews (bot.services.direct_send queues them) take the same path through
scheduling.one_off: `send_now` sends the rows a command queued, at once, round by round (a preview
step after the one before it); run_once takes any left pending (a worker that died between the
queue and the send) and cancels those held too long; reconcile looks up unclear ones whatever
their kind.
"""
from __future__ import annotations

import logging
import os
import queue
import random
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import templates
from bot.clock import Clock
from bot.db import transaction
from bot.models import (
    Campaign,
    Enrollment,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    OutboundStatus,
)
from bot.services import transitions
from bot.services.notifications import notify
from providers.base import (
    MailProvider,
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    ReconnectNeeded,
    SentLookup,
    SentMessage,
    check_headers,
    send_once,
)
from bot.provider_registry import ProviderRegistry
from scheduling.mailbox_providers import providers_for, store_refreshed_credentials
from scheduling import claims, one_off
from scheduling.compose import compose, load_sendables
from bot.services.open_tracking import Pixels
from bot.services.unsubscribe import Links
from scheduling.last_look import LastLook
from scheduling.outcomes import Outcome, Recorder, backoff
from scheduling.record_sent import SentRow
from bot.services.planner import Planner, move_held_follow_ups
from bot.wording import agrees, counted

log = logging.getLogger(__name__)
O = OutboundMessage
Job = tuple[int, MailProvider, OutgoingEmail]  # outbound row id, its mailbox's provider, the email
# Reconciling unclear sends and the one-offs' upkeep (expired ones cancelled, ones a dead worker left
# claimed) run at a run's first claim and then at most this often: a long run claims every few ms.
UPKEEP_SECONDS = 1.0


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    reconciled: int = 0


class Dispatcher:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        providers: ProviderRegistry,
        clock: Clock,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        batch_size: int = 200,
        max_mailboxes: int = 256,
        concurrency: int = 32,
        record_every: int | None = None,
        record_seconds: float = 0.25,
        lease: timedelta = timedelta(minutes=5),
        monotonic: Callable[[], float] = time.monotonic,
        links: Links | None = None,
        pixels: Pixels | None = None,
    ) -> None:
        self.sessions = session_factory
        self.providers = providers
        self.clock = clock
        self.rng = rng or random.Random()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.batch_size = batch_size
        self.max_mailboxes = max_mailboxes
        self.concurrency = concurrency
        # Outcomes are recorded in batches: a claim's worth, or sooner when the oldest unrecorded one
        # has waited record_seconds (sends with latency), so statuses move while sends go on.
        self.record_every = record_every or batch_size
        self.record_seconds = record_seconds
        self.lease = lease
        self.monotonic = monotonic
        self.links = links  # signs the opt-out links of organisations that send them
        self.pixels = pixels  # makes the tracking images' tokens of campaigns that track opens
        self.last_look = LastLook(session_factory.kw["bind"], self.worker_id, monotonic=monotonic)
        self._pool: ThreadPoolExecutor | None = None
        self._used_providers: dict[int, MailProvider | ProviderError] = {}
        self._next_upkeep = 0.0
        self._known: dict[int, SentRow] = {}  # composed rows not yet recorded: what recording needs of them

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- runs ------------------------------------------------------------------------------
    def run_once(self) -> DispatchReport:
        """One claim, its sends and their records (and any reconciling due)."""
        return self._run(max_claims=1)

    def run_until_idle(self, max_runs: int = 10_000) -> DispatchReport:
        """Claim, send and record until a claim finds nothing due and nothing is left to reconcile
        (the worker's tick, benchmarks, tests, the demo)."""
        return self._run(max_claims=max_runs)

    def _run(self, max_claims: int) -> DispatchReport:
        report = DispatchReport()
        self._next_upkeep = 0.0
        self._known.clear()  # left by a run that raised
        if self.concurrency > 1:
            self._overlapped(report, max_claims)
            return report
        for _ in range(max_claims):  # a provider with no latency: one thread, claim after claim
            jobs, worked = self._claim_jobs(report, max_rows=self.batch_size)
            self._send_in_turn(jobs, report)
            if not worked:
                break
        return report

    def send_now(self, ids: Iterable[int]) -> DispatchReport:
        """Send the one-off or preview rows `ids` (bot.services.direct_send queued them) now: claim →
        last look → send once → record, as campaign steps, in rounds until they settle (a preview's
        step k goes out in round k, after step k - 1 was sent). No spacing or cap quota: they were
        counted when queued."""
        ids = list(ids)
        report = DispatchReport()
        for _ in range(len(ids)):
            with transaction(self.sessions, write=True) as session:
                rows = one_off.claim(session, now=self.clock.now(), worker_id=self.worker_id, lease=self.lease,
                                     ids=ids)
            if not rows:
                break
            report.claimed += self._send_one_offs(rows, report, tell=False)
        return report

    # -- claim ------------------------------------------------------------------------------
    def _claim_jobs(self, report: DispatchReport, *, max_rows: int) -> tuple[list[Job], bool]:
        """Reconcile what is due for it, claim up to `max_rows` campaign sends and compose them (the
        ones that cannot be sent are recorded at once); one-offs left pending are sent here. Returns
        the sends to make, and whether there was any work at all."""
        upkeep = self.monotonic() >= self._next_upkeep
        if upkeep:  # at a run's first claim, then at most once every UPKEEP_SECONDS of a long run
            self._next_upkeep = self.monotonic() + UPKEEP_SECONDS
        reconciled = self.reconcile(report) if upkeep else 0
        one_offs: dict[int, list[int]] = {}
        claim = self._claim(one_offs if upkeep else None, max_rows=max_rows)
        report.claimed += claim.count
        jobs = self._prepare(claim, report) if claim.count else []
        if one_offs:  # left pending by a worker that died between a command's queue and its send
            report.claimed += self._send_one_offs(one_offs, report, tell=True)
        if reconciled or one_offs:
            self._next_upkeep = 0.0  # more may be waiting: a preview's next step, the next 200 to check
        return jobs, bool(reconciled or claim.count or one_offs)

    def _claim(self, one_offs: dict[int, list[int]] | None = None, *, max_rows: int | None = None) -> claims.Claim:
        """The campaign claim; with `one_offs`, in the same transaction, one-offs held too long are
        cancelled and those left pending are claimed into it (mailbox id → row ids)."""
        now, rows = self.clock.now(), max_rows or self.batch_size
        with transaction(self.sessions, write=True) as session:
            # A claim's cost grows with the mailboxes it weighs: no more than twice its rows need
            # (a mailbox's in-flight sends may leave it none).
            claim = claims.claim(session, now=now, worker_id=self.worker_id, lease=self.lease, max_rows=rows,
                                 max_mailboxes=min(self.max_mailboxes, 2 * rows))
            for hit in claim.capped:
                self._tell_cap(session, hit)
            if claim.capped or one_offs is not None:  # a cap just reached, and each upkeep while one holds
                moved = move_held_follow_ups(session, now=now, rng=self.rng)
                if moved:
                    log.info("moved %s held by the daily cap to their next window", counted(len(moved), "follow-up"))
            if one_offs is not None:
                one_off.expire(session, now=now, clock=self.clock)
                one_offs.update(one_off.claim(session, now=now, worker_id=self.worker_id, lease=self.lease))
        return claim

    def _send_one_offs(self, rows: dict[int, list[int]], report: DispatchReport, *, tell: bool) -> int:
        """Claimed one-off rows, composed from their stored text, each sent once after its last look,
        in order (a preview's steps are one thread), and recorded (Recorder.record_one_offs)."""
        claimed = [i for ids in rows.values() for i in ids]
        with transaction(self.sessions) as session:
            items = one_off.load(session, claimed, self.clock.now())
            providers = self._providers(session, rows)
        outcomes: list[Outcome] = []
        with self.last_look.batch() as look:
            for row_id, mailbox_id, email in items:
                provider = providers[mailbox_id]
                if isinstance(provider, ProviderError):
                    outcomes.append(Outcome(row_id, error=provider))
                    continue
                try:
                    check_headers(email)
                except PermanentFailure as failure:
                    outcomes.append(Outcome(row_id, error=failure))
                    continue
                outcomes.append(_attempt(row_id, provider.send, email, lambda i: look(i, one_off=True)))
        with transaction(self.sessions, write=True) as session:
            Recorder(session, clock=self.clock, rng=self.rng, worker_id=self.worker_id).record_one_offs(
                outcomes, tell=tell)
        self._save_credentials(providers)
        self._count(outcomes, report)
        return len(claimed)

    def _tell_cap(self, session: Session, hit: claims.CapHit) -> None:
        """The owner learns once per mailbox and day that its campaigns will finish later."""
        mailbox = session.get(Mailbox, hit.mailbox_id)
        assert mailbox is not None
        waiting = session.execute(
            select(Campaign.name, func.count()).select_from(O).join(Enrollment).join(Campaign)
            .where(O.mailbox_id == mailbox.id, O.status == OutboundStatus.PENDING,
                   O.due_at <= self.clock.now())
            .group_by(Campaign.name).order_by(Campaign.name)).all()
        zone = ZoneInfo(mailbox.owner.tz)
        reopens = hit.reopens_at.astimezone(zone)
        names = ", ".join(f"*{name}*" for name, _ in waiting) or "your campaigns"
        notify(session, user=mailbox.owner, kind="daily_cap", clock=self.clock,
               dedupe_key=f"daily_cap:{mailbox.id}:{reopens.date().isoformat()}",
               text=(f":hourglass: {mailbox.address} reached its limit of {mailbox.daily_cap} emails in 24 hours, "
                     f"so {counted(sum(n for _, n in waiting), 'due email')} {agrees(sum(n for _, n in waiting), 'waits', 'wait')} until {reopens:%a %H:%M} ({zone.key}). "
                     f"{names} will finish later than planned. Nothing is dropped."))

    def _providers(self, session: Session, mailbox_ids: Iterable[int]) -> dict[int, MailProvider | ProviderError]:
        return providers_for(session, self.providers, mailbox_ids)

    def _save_credentials(self, providers: dict[int, MailProvider | ProviderError]) -> None:
        store_refreshed_credentials(self.sessions, self.providers, providers)

    # -- send -------------------------------------------------------------------------------
    def _prepare(self, claim: claims.Claim, report: DispatchReport) -> list[Job]:
        """Each claimed row's email, composed; rows that cannot be sent are recorded at once."""
        jobs: list[Job] = []
        with transaction(self.sessions) as session:
            claimed = [i for ids in claim.rows.values() for i in ids]
            items = load_sendables(session, claimed)
            planner = Planner(session, rng=self.rng, now=self.clock.now())
            providers = self._providers(session, claim.rows)
            unsendable: list[Outcome] = []
            for item in items:
                provider = providers[item.mailbox_id]
                if isinstance(provider, ProviderError):
                    unsendable.append(Outcome(item.row_id, error=provider))
                    continue
                steps = planner.steps(item.sequence_id)
                try:
                    email = check_headers(compose(item, steps, self.clock.now(), self.links, self.pixels))
                except templates.TemplateProblem as problem:  # the template changed, or a field is gone
                    unsendable.append(Outcome(item.row_id, error=PermanentFailure(problem.message)))
                    continue
                except PermanentFailure as failure:  # a header that cannot be written: never reaches the provider
                    unsendable.append(Outcome(item.row_id, error=failure))
                    continue
                jobs.append((item.row_id, provider, email))
                self._known[item.row_id] = item.sent_row(len(steps))
        self._used_providers.update(providers)
        # Left out by the look before composing: withdrawn, as at the last look before each send.
        unsendable += [Outcome(row_id, withdrawn=True) for row_id in sorted(set(claimed) - {i.row_id for i in items})]
        if unsendable:
            self._record(unsendable, report)
        return jobs

    def _send(self, claim: claims.Claim, report: DispatchReport) -> None:
        """A claim's sends, composed, made one at a time and recorded as they come."""
        self._send_in_turn(self._prepare(claim, report), report)

    def _send_in_turn(self, jobs: list[Job], report: DispatchReport) -> None:
        """Sends made one at a time (_run_sends), recorded every record_every as they come."""
        pending: list[Outcome] = []
        for outcome in self._run_sends(jobs):
            pending.append(outcome)
            if len(pending) >= self.record_every:
                self._record(pending, report)
                pending = []
        if pending:
            self._record(pending, report)

    def _run_sends(self, jobs: list[Job]) -> Iterator[Outcome]:
        """One at a time, in this thread (no latency to overlap: threads would only fight for the GIL)."""
        with self.last_look.batch(row_id for row_id, _, _ in jobs) as look:
            for row_id, provider, email in jobs:
                yield _attempt(row_id, provider.send, email, look)

    def _overlapped(self, report: DispatchReport, max_claims: int) -> None:
        """Sends that wait on the provider: up to `concurrency` at once, and up to twice as many more
        claimed and composed ahead, so a thread that finishes starts the next send at once while the
        next claim is made. Finished sends are recorded in batches while others still wait. A claim
        that finds nothing waits record_seconds before the next, unless every send is done (then the
        run ends, or claims what finishing freed: a mailbox's sends in flight count against it)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="send")
        ahead, in_flight = 3 * self.concurrency, 0
        finished: queue.SimpleQueue[Future[Outcome]] = queue.SimpleQueue()
        claims_made, next_claim = 0, 0.0
        unrecorded: list[Outcome] = []
        first_unrecorded = 0.0
        with self.last_look.batch() as look:
            try:
                while True:
                    room = ahead - in_flight
                    if claims_made < max_claims and room >= self.concurrency and (
                            not in_flight or self.monotonic() >= next_claim):
                        claims_made += 1
                        jobs, worked = self._claim_jobs(report, max_rows=min(self.batch_size, room))
                        look.expect(row_id for row_id, _, _ in jobs)
                        for row_id, provider, email in jobs:
                            self._pool.submit(_attempt, row_id, provider.send, email, look).add_done_callback(
                                finished.put)
                        in_flight += len(jobs)
                        if not worked:
                            if not in_flight:
                                break
                            next_claim = self.monotonic() + self.record_seconds
                    elif not in_flight:
                        break
                    if in_flight:
                        done = _drain(finished, timeout=self.record_seconds)
                        in_flight -= len(done)
                        if done and not unrecorded:
                            first_unrecorded = self.monotonic()
                        unrecorded += [future.result() for future in done]
                    if unrecorded and (len(unrecorded) >= self.record_every or not in_flight
                                       or self.monotonic() - first_unrecorded >= self.record_seconds):
                        self._record(unrecorded, report)
                        unrecorded = []
            except BaseException:
                while in_flight:  # their looks share this batch's connection; their rows wait for reconcile
                    in_flight -= len(_drain(finished, timeout=None))
                raise

    def _record(self, outcomes: list[Outcome], report: DispatchReport) -> None:
        with transaction(self.sessions, write=True) as session:
            Recorder(session, clock=self.clock, rng=self.rng, worker_id=self.worker_id).record(outcomes, self._known)
        for outcome in outcomes:
            self._known.pop(outcome.row_id, None)
        self._count(outcomes, report)
        self._save_credentials(self._used_providers)  # tokens refreshed by these sends

    @staticmethod
    def _count(outcomes: list[Outcome], report: DispatchReport) -> None:
        for outcome in outcomes:
            if outcome.sent is not None:
                report.sent += 1
            elif isinstance(outcome.error, PermanentFailure):
                report.failed += 1
            elif not outcome.withdrawn:  # a withdrawn row was never attempted: it is neither
                report.retrying += 1

    # -- reconcile ----------------------------------------------------------------------------
    def reconcile(self, report: DispatchReport | None = None, limit: int = 200) -> int:
        now = self.clock.now()
        with transaction(self.sessions, write=True) as session:
            stale = select(O.id).join(Mailbox, Mailbox.id == O.mailbox_id).where(
                O.status == OutboundStatus.SENDING, O.lease_expires_at <= now,  # next_wakeup wakes at the lease end
                Mailbox.status == MailboxStatus.CONNECTED,
            ).order_by(O.lease_expires_at).limit(limit).with_for_update(of=O, skip_locked=True)
            taken = transitions.take_over(session, stale.correlate(None).scalar_subquery(),
                                          worker_id=self.worker_id, lease_until=now + self.lease)
            if not taken:
                return 0
            providers = self._providers(session, {mailbox_id for _, mailbox_id, _ in taken})
        with transaction(self.sessions) as session:  # rendering holds no write lock
            lookups = self._sent_lookups(session, [row_id for row_id, _, _ in taken])
            one_offs = one_off.kinds(session, [row_id for row_id, _, _ in taken])
        outcomes, unknown = [], []
        for row_id, mailbox_id, message_id in taken:
            provider = providers[mailbox_id]
            try:
                if isinstance(provider, ProviderError):
                    raise provider
                found = provider.find_sent(message_id, lookups.get(row_id))
            except ReconnectNeeded as exc:
                outcomes.append(Outcome(row_id, error=exc))  # not sent by us; the mailbox needs its owner
                continue
            except ProviderError as exc:
                log.warning("could not check outbound %s in its mailbox: %s", row_id, exc)
                unknown.append(row_id)
                continue
            outcomes.append(Outcome(row_id, sent=found) if found else Outcome(row_id, not_found=True))
        if unknown:  # the check itself failed: wait and check again, never send
            with transaction(self.sessions, write=True) as session:
                for row in list(session.scalars(select(O).where(O.id.in_(unknown), O.claimed_by == self.worker_id)
                                                .with_for_update(of=O))):
                    transitions.set_aside(session, row, worker_id=self.worker_id, check_at=now + backoff(row.attempts))
        if outcomes:
            scratch = report or DispatchReport()
            campaign = [o for o in outcomes if o.row_id not in one_offs]
            if campaign:
                self._record(campaign, scratch)
            if len(campaign) < len(outcomes):  # found → sent, not found → failed: never sent again
                with transaction(self.sessions, write=True) as session:
                    Recorder(session, clock=self.clock, rng=self.rng, worker_id=self.worker_id).record_one_offs(
                        [o for o in outcomes if o.row_id in one_offs], tell=True)
                self._count([o for o in outcomes if o.row_id in one_offs], scratch)
        if report is not None:
            report.reconciled += len(taken)
        return len(taken)

    def _sent_lookups(self, session: Session, ids: list[int]) -> dict[int, SentLookup]:
        """What each unclear send looked like, for a provider that may have stored it under its own
        Message-ID (Exchange may): recipient, subject, and the time from its attempt to its lease's
        end. A row whose email cannot be built again is looked for by Message-ID only."""
        attempted = {row_id: at for row_id, at in session.execute(select(O.id, O.attempted_at).where(O.id.in_(ids)))}
        planner = Planner(session, rng=self.rng, now=self.clock.now())
        found = {}
        for row_id, to_address, subject in session.execute(select(O.id, O.to_address, O.subject).where(
                O.id.in_(ids), O.kind.in_(one_off.ONE_OFF_KINDS), O.subject.is_not(None))):
            started = attempted.get(row_id)
            if started is not None and subject is not None:
                found[row_id] = SentLookup(to_address, subject, started, started + self.lease)
        for item in load_sendables(session, ids):
            started = attempted.get(item.row_id)
            try:
                email = compose(item, planner.steps(item.sequence_id), self.clock.now(), self.links, self.pixels)
            except templates.TemplateProblem:
                continue
            if started is not None:
                found[item.row_id] = SentLookup(email.to_address, email.subject, started, started + self.lease)
        return found


def _drain(finished: queue.SimpleQueue[Future[Outcome]], timeout: float | None) -> list[Future[Outcome]]:
    """The sends finished so far: waits up to `timeout` for the first, then takes what else is there."""
    try:
        done = [finished.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            done.append(finished.get_nowait())
        except queue.Empty:
            return done


def _attempt(row_id: int, send: Callable[[OutgoingEmail], SentMessage], email: OutgoingEmail,
             look: Callable[[int], bool]) -> Outcome:
    try:
        if not look(row_id):
            return Outcome(row_id, withdrawn=True)
    except Exception:  # the database cannot be asked: not sending is the safe answer (the lease runs out)
        log.exception("last look before sending outbound %s failed", row_id)
        return Outcome(row_id, withdrawn=True)
    try:
        # Step 1's subject is kept with the enrollment: later steps answer it, whatever the template says by then.
        sent = send_once(send, email, what=f"outbound {row_id}")
        return Outcome(row_id, sent=sent, subject=None if email.in_reply_to else email.subject)
    except ProviderError as exc:
        return Outcome(row_id, error=exc)


def next_wakeup(session: Session, now: datetime) -> datetime | None:
    """The next moment after `now` when a run could have work: a send falls due, a mailbox's
    wait ends, or an unclear send is due for its check. (The demo's simulated clock jumps there.)"""
    candidates = [
        session.scalar(select(func.min(O.due_at)).where(
            O.status == OutboundStatus.PENDING, O.due_at > now, claims.may_send())),
        session.scalar(select(func.min(Mailbox.not_before)).where(
            Mailbox.not_before > now, Mailbox.status == MailboxStatus.CONNECTED,
            select(O.id).where(O.mailbox_id == Mailbox.id, O.status == OutboundStatus.PENDING).exists())),
        session.scalar(select(func.min(O.lease_expires_at)).where(
            O.status == OutboundStatus.SENDING, O.lease_expires_at > now)),
    ]
    found = [c for c in candidates if c is not None]
    return min(found) if found else None
