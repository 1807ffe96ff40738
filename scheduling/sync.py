"""Mailbox sync: read what arrived since each mailbox's cursor, classify it, and apply replies,
bounces and auto-replies to the campaigns that sent from it.

Polling is correct on its own (push may come later): a mailbox is read at most once per interval
while it has something to watch (see `MailboxSync.due`), and not at all otherwise. The provider is
called outside any transaction; the effects and the new cursor are written together, so a crash
re-reads the same messages and inbound events (unique per mailbox and provider message id) make
that harmless.
"""
from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email.header import decode_header, make_header
from email.utils import getaddresses

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import transaction
from bot.models import Campaign, CampaignStatus, DirectMessage, Enrollment, Mailbox, MailboxStatus
from bot.services.connections import mark_needs_reconnect
from bot.services.mailboxes import normalise_address
from bot.services.replies import Inbound, record_inbound
from providers.base import Changes, InboundKind, InboundMessage, MailProvider, ProviderError, RateLimited, ReconnectNeeded
from providers.classify import classify
from providers.opt_out import asks_to_stop, body_text
from providers.return_date import return_date
from bot.provider_registry import ProviderRegistry
from scheduling.mailbox_providers import providers_for, store_refreshed_credentials

log = logging.getLogger(__name__)
ERROR_BACKOFF = timedelta(minutes=5)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass
class SyncReport:
    mailboxes: int = 0
    messages: int = 0
    effects: dict[str, int] = field(default_factory=dict)


def _text(value: object) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError):
        return str(value)


def to_inbound(message: InboundMessage, *, own_address: str) -> Inbound:
    """The facts the campaign needs from a message; the body (enhanced permissions) is used for
    classification here and dropped: it is never stored."""
    headers = message.headers
    verdict = classify(message.full or headers, own_addresses=[own_address], headers_only=message.full is None)
    senders = getaddresses([str(headers.get("From", ""))])
    sender = normalise_address(senders[0][1]) if senders and senders[0][1] else None
    refs = MESSAGE_ID.findall(f"{headers.get('In-Reply-To', '')} {headers.get('References', '')}")
    subject = _text(headers.get("Subject"))
    # A reply asking to stop: its subject (basic permissions), or the new part of its body (enhanced).
    opt_out = verdict.kind == InboundKind.REPLY and asks_to_stop(
        subject, body_text(message.full) if message.full is not None else None)
    # An auto-reply's return date: from the subject (basic), or the body too (enhanced).
    back = return_date(subject, body_text(message.full) if message.full is not None else None,
                       sent_on=message.received_at.date()) if verdict.kind == InboundKind.AUTO_REPLY else None
    if verdict.message_id:  # the message a complaint reports: the one that finds our send
        refs.insert(0, verdict.message_id)
    return Inbound(provider_message_id=message.provider_message_id, thread_id=message.thread_id,
                   from_address=sender, subject=subject, received_at=message.received_at, opt_out=opt_out,
                   references=tuple(dict.fromkeys(refs)), kind=verdict.kind, return_date=back,
                   recipients=tuple(normalise_address(r) for r in verdict.recipients), permanent=verdict.permanent)


class MailboxSync:
    def __init__(self, *, session_factory: sessionmaker[Session], providers: ProviderRegistry, clock: Clock,
                 rng: random.Random, interval: timedelta, reply_watch: timedelta) -> None:
        self.sessions = session_factory
        self.providers = providers
        self.clock = clock
        self.rng = rng
        self.interval = interval
        self.reply_watch = reply_watch

    def due(self, session: Session) -> list[int]:
        """Connected mailboxes, not read within the interval and not held back by a provider's
        Retry-After, with something to watch:
        - never read yet: one read sets the cursor, so a reply to the first send is not before it;
        - a candidate still in a started campaign, or whose sequence ended within the reply watch
          (a Finished candidate's ended_at is the last step's send: replies to it come late);
        - a one-off email sent within the reply watch. `last_send_at` alone cannot say so (a
          preview to the recruiter's own address sets it too), but it rules out idle mailboxes
          before the direct_messages lookup."""
        now = self.clock.now()
        since = now - self.reply_watch
        watched = exists().where(Campaign.mailbox_id == Mailbox.id, Campaign.status != CampaignStatus.DRAFT,
                                 Enrollment.campaign_id == Campaign.id,  # ix_enrollments_open
                                 or_(Enrollment.ended_at.is_(None), Enrollment.ended_at >= since))
        one_off = and_(Mailbox.last_send_at >= since, exists().where(
            DirectMessage.mailbox_id == Mailbox.id, DirectMessage.sent_at >= since))
        return list(session.scalars(select(Mailbox.id).where(
            Mailbox.status == MailboxStatus.CONNECTED, or_(Mailbox.sync_cursor.is_(None), watched, one_off),
            or_(Mailbox.last_synced_at.is_(None), Mailbox.last_synced_at <= now - self.interval),
            or_(Mailbox.sync_not_before.is_(None), Mailbox.sync_not_before <= now)).order_by(Mailbox.last_synced_at)))

    def run(self) -> SyncReport:
        report = SyncReport()
        with transaction(self.sessions) as session:
            ids = self.due(session)
            providers = providers_for(session, self.providers, ids)
        for mailbox_id, provider in providers.items():
            self._sync(mailbox_id, provider, report)
        store_refreshed_credentials(self.sessions, self.providers, providers)
        return report

    def _sync(self, mailbox_id: int, provider: MailProvider | ProviderError, report: SyncReport) -> None:
        with transaction(self.sessions) as session:
            mailbox = session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            cursor, address = mailbox.sync_cursor, mailbox.address
        try:
            if isinstance(provider, ProviderError):
                raise provider
            changes = provider.fetch_changes(cursor)
            inbound = [to_inbound(m, own_address=address) for m in changes.messages]
        except ReconnectNeeded as exc:
            with transaction(self.sessions, write=True) as session:
                mark_needs_reconnect(session, mailbox=session.get(Mailbox, mailbox_id), reason=str(exc),  # type: ignore[arg-type]
                                     clock=self.clock)
            return
        except ProviderError as exc:
            wait = timedelta(seconds=exc.retry_after) if isinstance(exc, RateLimited) else ERROR_BACKOFF
            log.warning("sync of mailbox %s failed, next try in %s: %s", mailbox_id, wait, exc)
            with transaction(self.sessions, write=True) as session:
                held = session.get(Mailbox, mailbox_id)
                assert held is not None
                held.sync_not_before = self.clock.now() + wait
            return
        self._apply(mailbox_id, changes, inbound, report, headers_refused=provider.headers_refused)

    def _apply(self, mailbox_id: int, changes: Changes, inbound: list[Inbound], report: SyncReport, *,
               headers_refused: bool = False) -> None:
        with transaction(self.sessions, write=True) as session:
            mailbox = session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            if headers_refused and not mailbox.headers_refused:  # once per mailbox: later polls ask without
                log.warning("mailbox %s: Graph refused internet headers (Mail.ReadBasic); reading without them",
                            mailbox_id)
                mailbox.headers_refused = True
            for message in inbound:
                outcome = record_inbound(session, mailbox=mailbox, inbound=message, clock=self.clock, rng=self.rng,
                                         reply_watch=self.reply_watch)
                report.effects[outcome.effect] = report.effects.get(outcome.effect, 0) + 1
            mailbox.sync_cursor = changes.cursor or mailbox.sync_cursor
            mailbox.last_synced_at, mailbox.sync_not_before = self.clock.now(), None
        report.mailboxes += 1
        report.messages += len(inbound)
