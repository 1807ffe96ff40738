"""A complaint: someone reported an email the bot sent as spam (an abuse or feedback report).

Called from bot.services.replies.record_inbound for InboundKind.COMPLAINT, in the sync's transaction.
The complaint is matched to our send by the reported message's Message-ID (ours, or the one the
provider stored), then by the reported recipient; never by thread or From, which belong to the
feedback loop. A complaint about mail the bot did not send is ignored and not kept (SPEC "Data kept").

What follows, for a campaign's send (a one-off's is the same without the campaign):

| effect | where |
|---|---|
| the candidate ends as Complained, their planned sends cancelled (already ended: stays as it was) | `transitions.end` |
| the address goes on the do-not-contact list (source complaint), which ends their other campaigns | `do_not_contact.add` |
| the owner (a one-off's sender) gets a DM of its own, never a reply's | `notify`, kind "complaint" |
| the campaign's alert channel hears the kind of event, never the address | ChannelAlert |
| the mailbox's complaint count goes up by one, in SQL | mailboxes.complaints |

A second report about the same send (feedback loops repeat themselves) is kept and changes nothing.

`/outreach mailboxes` shows each mailbox's count, and warns when the last 30 days' complaints reach
0.3% of the emails sent from it in those 30 days: Gmail's and Yahoo's sender guidelines (2024) ask
bulk senders to keep the spam rate reported in Postmaster Tools below 0.3% (ideally below 0.1%), and
the providers measure it over a rolling window, so a mailbox near it risks its mail going to spam.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import (
    Candidate,
    ChannelAlert,
    DirectMessage,
    DoNotContactSource,
    EnrollmentStatus,
    InboundEvent,
    Mailbox,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    User,
)
from bot.services import do_not_contact, transitions
from bot.services.campaign_marks import mark_stale
from bot.services.campaigns import finish_if_done
from bot.services.notifications import notify
from providers.base import InboundKind

if TYPE_CHECKING:
    from bot.services.replies import Inbound

REASON = "reported our email as spam"
WINDOW = timedelta(days=30)
WARN_RATE = 0.003  # Gmail's and Yahoo's ceiling for a sender's spam rate
O = OutboundMessage


def record(session: Session, *, mailbox: Mailbox, inbound: Inbound, clock: Clock) -> tuple[int | None, str]:
    """Apply one complaint: (the kept event's id, the effect: "complained", "seen" or "ignored")."""
    ids = sorted({f"<{m.strip().strip('<>').strip()}>" for m in inbound.references if m.strip().strip("<>")})
    row = _reported_send(session, mailbox, ids, inbound.recipients)
    direct = None if row is not None else _reported_one_off(session, mailbox, ids, inbound.recipients)
    if row is None and direct is None:
        return None, "ignored"  # not about mail the bot sent: nothing kept
    repeated = session.scalar(select(InboundEvent.id).where(
        InboundEvent.kind == InboundKind.COMPLAINT,
        InboundEvent.outbound_message_id == row.id if row is not None else InboundEvent.direct_message_id == direct.id))
    event = InboundEvent(
        mailbox_id=mailbox.id, kind=InboundKind.COMPLAINT, provider_message_id=inbound.provider_message_id,
        provider_thread_id=inbound.thread_id, from_address=(inbound.from_address or "")[:320] or None,
        subject=inbound.subject[:998], failed_recipients=list(inbound.recipients), permanent=None,
        received_at=inbound.received_at, created_at=clock.now(),
        enrollment_id=row.enrollment_id if row is not None else None,
        outbound_message_id=row.id if row is not None else None,
        direct_message_id=direct.id if direct is not None else None)
    session.add(event)
    session.flush()
    if repeated is not None:
        return event.id, "seen"
    session.execute(update(Mailbox).where(Mailbox.id == mailbox.id).values(complaints=Mailbox.complaints + 1)
                    .execution_options(synchronize_session="fetch"))
    if row is not None:
        _campaign_send(session, row, event, clock)
    else:
        assert direct is not None
        _one_off(session, mailbox, direct, event, clock)
    return event.id, "complained"


def _reported_send(session: Session, mailbox: Mailbox, ids: list[str], recipients: tuple[str, ...]) -> O | None:
    sent = select(O).where(O.mailbox_id == mailbox.id, O.status == OutboundStatus.SENT,
                           O.kind == OutboundKind.CAMPAIGN).order_by(O.sent_at.desc()).limit(1)
    if ids:
        found = session.scalar(sent.where(or_(O.message_id.in_(ids), O.sent_message_id.in_(ids))))
        if found is not None:
            return found
    return session.scalar(sent.where(O.to_address.in_(recipients))) if recipients else None


def _reported_one_off(session: Session, mailbox: Mailbox, ids: list[str],
                      recipients: tuple[str, ...]) -> DirectMessage | None:
    D = DirectMessage
    mine = select(D).where(D.mailbox_id == mailbox.id).order_by(D.sent_at.desc()).limit(1)
    if ids:
        found = session.scalar(mine.where(or_(D.message_id.in_(ids), D.sent_message_id.in_(ids))))
        if found is not None:
            return found
    return session.scalar(mine.where(D.to_address.in_(recipients))) if recipients else None


def _campaign_send(session: Session, row: O, event: InboundEvent, clock: Clock) -> None:
    enrollment = row.enrollment
    assert enrollment is not None
    campaign, name = enrollment.campaign, enrollment.candidate.name
    # Complained first, so the list's own sweep (which ends what it covers as Do not contact) finds
    # this candidate ended already; a reply or bounce recorded before stays (SPEC: final).
    if transitions.end(session, enrollment, EnrollmentStatus.COMPLAINED, ended_at=clock.now(), status_reason=REASON):
        transitions.cancel_planned(session, enrollment.id)
        mark_stale(session, [campaign.id])
        finish_if_done(session, [campaign.id])
    _listed(session, campaign.organisation_id, row.to_address, clock)
    subject = enrollment.thread_subject or campaign.name
    notify(session, user=campaign.owner, kind="complaint", clock=clock, dedupe_key=f"complaint:{event.id}",
           text=alert_text(name, subject, campaign=campaign.name))
    if campaign.alert_channel_id:  # the channel hears the kind of event, never an address (SPEC "Who sees what")
        session.add(ChannelAlert(organisation_id=campaign.organisation_id, campaign_id=campaign.id,
                                 channel_id=campaign.alert_channel_id, dedupe_key=f"inbound:{event.id}",
                                 text=f":no_entry_sign: {name} marked an email from {campaign.name} as spam "
                                      f"(recruiter: {campaign.owner.name}): nothing more will be sent to them.",
                                 created_at=clock.now()))


def _one_off(session: Session, mailbox: Mailbox, direct: DirectMessage, event: InboundEvent, clock: Clock) -> None:
    sender = session.get(User, direct.sender_id)
    assert sender is not None
    candidate = session.get(Candidate, direct.candidate_id) if direct.candidate_id else None
    _listed(session, sender.organisation_id, direct.to_address, clock)
    notify(session, user=sender, kind="complaint", clock=clock, dedupe_key=f"complaint:{event.id}",
           text=alert_text(candidate.name if candidate is not None else direct.to_address, direct.subject))


def _listed(session: Session, organisation_id: int, address: str, clock: Clock) -> None:
    try:
        do_not_contact.add(session, organisation_id=organisation_id, text=address, reason=REASON,
                           source=DoNotContactSource.COMPLAINT, added_by=None, clock=clock)
    except UserError:  # an address we once sent to that the list refuses: nothing to add
        pass


def alert_text(name: str, subject: str, *, campaign: str | None = None) -> str:
    """The owner's DM: its own wording and emoji, so it never reads as a reply."""
    where = f" in *{campaign}*" if campaign else ""
    return (f":no_entry_sign: *{name}* marked your email \u201c{subject}\u201d{where} as spam: they are on the "
            "do-not-contact list and will not be emailed again.")


# ---- the mailbox's complaint rate, for /outreach mailboxes -------------------------------------------

@dataclass(frozen=True)
class ComplaintRate:
    complaints: int  # reported sends in the window
    sends: int  # emails sent to candidates in the window

    @property
    def warn(self) -> bool:
        return self.complaints > 0 and self.complaints >= WARN_RATE * max(self.sends, 1)


def rates(session: Session, mailbox_ids: list[int], now: datetime) -> dict[int, ComplaintRate]:
    """Each mailbox's complaints (one per reported send) and sends over the last 30 days: two grouped queries."""
    if not mailbox_ids:
        return {}
    since = now - WINDOW
    E = InboundEvent
    reported = dict(session.execute(
        select(E.mailbox_id, func.count(func.distinct(E.outbound_message_id)) + func.count(func.distinct(E.direct_message_id)))
        .where(E.mailbox_id.in_(mailbox_ids), E.kind == InboundKind.COMPLAINT, E.created_at >= since)
        .group_by(E.mailbox_id)).all())
    sent = dict(session.execute(
        select(O.mailbox_id, func.count()).where(O.mailbox_id.in_(mailbox_ids), O.status == OutboundStatus.SENT,
                                                 O.kind != OutboundKind.PREVIEW, O.sent_at >= since)
        .group_by(O.mailbox_id)).all())
    return {m: ComplaintRate(reported.get(m, 0), sent.get(m, 0)) for m in mailbox_ids}
