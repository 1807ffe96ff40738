"""What an inbound message means for a campaign: which enrollment it answers, and what follows.

SPEC "Replies, bounces, out-of-office": a reply ends the sequence for that candidate and tells the
campaign's owner (DM) and alert channel; a bounce moves to the next address the rules allow, from
the step that bounced, or ends the candidate as Bounced; an auto-reply marks them Out of office and
the sequence goes on. Only metadata is kept (SPEC "Data kept"): who, subject, when, provider ids.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    Campaign,
    CampaignStatus,
    CandidateAddress,
    ChannelAlert,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    InboundKind,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
    Provider,
    User,
)
from bot.services.campaigns import finish_if_done, plan_again
from bot.services.delegations import reply_watchers
from bot.services.notifications import notify
from bot.services.recipients import choose_address

O = OutboundMessage
LIVE = [OutboundStatus.PENDING, OutboundStatus.SENDING]


@dataclass(frozen=True)
class Inbound:
    """An inbound message as the classifier saw it: headers' facts only, never a body."""

    provider_message_id: str
    thread_id: str | None
    from_address: str | None
    subject: str
    received_at: datetime
    references: tuple[str, ...]  # Message-IDs from In-Reply-To and References, <> stripped
    kind: InboundKind
    recipients: tuple[str, ...] = ()  # a bounce's failing recipients
    permanent: bool | None = None


@dataclass(frozen=True)
class Outcome:
    event_id: int | None  # None: nothing of ours (not kept)
    kind: InboundKind
    effect: str  # "replied", "out_of_office", "next_address", "bounced", "delayed", "ignored", "seen"


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def _match(session: Session, mailbox: Mailbox, inbound: Inbound) -> OutboundMessage | None:
    """The send this message answers: by Message-ID (In-Reply-To/References), then by thread, then
    (a bounce) by failing recipient, then (anything else) by the candidate's address in From in any
    thread, which catches replies in a new thread or with a changed subject."""
    sent = select(O).where(O.mailbox_id == mailbox.id, O.status == OutboundStatus.SENT)
    ids = [f"<{_bare(m)}>" for m in inbound.references if _bare(m)]
    if ids:
        # the provider may have stored the send under its own Message-ID (Exchange): replies quote that one
        found = session.scalar(sent.where(or_(O.message_id.in_(ids), O.sent_message_id.in_(ids)))
                               .order_by(O.sent_at.desc()).limit(1))
        if found is not None:
            if inbound.kind != InboundKind.BOUNCE or not inbound.recipients or found.to_address in inbound.recipients:
                return found
    if inbound.kind == InboundKind.BOUNCE:
        if inbound.recipients:
            return session.scalar(sent.where(O.to_address.in_(inbound.recipients)).order_by(O.sent_at.desc()).limit(1))
        return session.scalar(sent.where(O.provider_thread_id == inbound.thread_id).order_by(O.sent_at.desc())
                              .limit(1)) if inbound.thread_id else None
    if inbound.thread_id:
        found = session.scalar(sent.where(O.provider_thread_id == inbound.thread_id).order_by(O.sent_at.desc()).limit(1))
        if found is not None:
            return found
    if inbound.from_address:  # any of the candidate's addresses, not only the one written to
        return session.scalar(sent.join(Enrollment, Enrollment.id == O.enrollment_id)
                              .join(CandidateAddress, CandidateAddress.candidate_id == Enrollment.candidate_id)
                              .where(CandidateAddress.address == inbound.from_address)
                              .order_by(O.sent_at.desc()).limit(1))
    return None


def thread_link(mailbox: Mailbox, thread_id: str | None) -> str | None:
    """Where the recruiter opens the conversation in their mail client, when the provider has one."""
    if not thread_id:
        return None
    if mailbox.provider == Provider.GMAIL:
        return f"https://mail.google.com/mail/u/{quote(mailbox.address)}/#all/{quote(thread_id)}"
    if mailbox.provider == Provider.GRAPH:
        return f"https://outlook.office.com/mail/deeplink/read/{quote(thread_id, safe='')}"
    return None


def record_inbound(session: Session, *, mailbox: Mailbox, inbound: Inbound, clock: Clock,
                   rng: random.Random) -> Outcome:
    """Apply one inbound message, in the caller's transaction (with the mailbox's new sync cursor).
    A message seen before (a resync repeats some) changes nothing."""
    if session.scalar(select(InboundEvent.id).where(InboundEvent.mailbox_id == mailbox.id,
                                                    InboundEvent.provider_message_id == inbound.provider_message_id)):
        return Outcome(None, inbound.kind, "seen")
    if inbound.kind == InboundKind.OTHER:
        return Outcome(None, inbound.kind, "ignored")
    row = _match(session, mailbox, inbound)
    if row is None:
        return Outcome(None, inbound.kind, "ignored")  # not an answer to anything we sent: not kept
    enrollment = row.enrollment
    event = InboundEvent(
        mailbox_id=mailbox.id, enrollment_id=enrollment.id, outbound_message_id=row.id, kind=inbound.kind,
        provider_message_id=inbound.provider_message_id, provider_thread_id=inbound.thread_id,
        from_address=(inbound.from_address or "")[:320] or None, subject=inbound.subject[:998],
        failed_recipients=list(inbound.recipients), permanent=inbound.permanent,
        received_at=inbound.received_at, created_at=clock.now())
    session.add(event)
    session.flush()
    if enrollment.status in (EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED):
        return Outcome(event.id, inbound.kind, "seen")  # already ended: kept for the record only
    if inbound.kind == InboundKind.REPLY:
        return Outcome(event.id, inbound.kind, _replied(session, enrollment, event, mailbox, clock))
    if inbound.kind == InboundKind.AUTO_REPLY:
        return Outcome(event.id, inbound.kind, _out_of_office(session, enrollment, event, clock))
    return Outcome(event.id, inbound.kind, _bounced(session, enrollment, event, row, clock, rng))


def _cancel_planned(session: Session, enrollment: Enrollment) -> None:
    """Steps planned for this candidate will not go (the claim re-checks anyway): cancelled, so no
    report shows them as still to come."""
    session.execute(update(O).where(O.enrollment_id == enrollment.id, O.status == OutboundStatus.PENDING)
                    .values(status=OutboundStatus.CANCELLED))


def _stop(session: Session, enrollment: Enrollment, status: EnrollmentStatus, now: datetime) -> None:
    """Nothing more goes to this candidate."""
    enrollment.status, enrollment.ended_at = status, now
    _cancel_planned(session, enrollment)
    finish_if_done(session, [enrollment.campaign_id])


def _when(moment: datetime, campaign: Campaign) -> str:
    from zoneinfo import ZoneInfo

    return f"{moment.astimezone(ZoneInfo(campaign.timezone)):%a %d %b %H:%M} ({campaign.timezone})"


def _alert(session: Session, campaign: Campaign, event: InboundEvent, text: str, clock: Clock) -> None:
    if campaign.alert_channel_id:
        session.add(ChannelAlert(organisation_id=campaign.organisation_id, campaign_id=campaign.id,
                                 channel_id=campaign.alert_channel_id, text=text,
                                 dedupe_key=f"inbound:{event.id}", created_at=clock.now()))


def _replied(session: Session, enrollment: Enrollment, event: InboundEvent, mailbox: Mailbox, clock: Clock) -> str:
    _stop(session, enrollment, EnrollmentStatus.REPLIED, clock.now())
    campaign, name = enrollment.campaign, enrollment.candidate.name
    link = thread_link(mailbox, event.provider_thread_id)
    where = f"<{link}|Open the thread>" if link else f"The thread is in {mailbox.address}."
    notify(session, user=campaign.owner, kind="reply", clock=clock, dedupe_key=f"reply:{event.id}",
           action="reply", action_value=str(event.id),
           text=(f":speech_balloon: *{name}* replied to *{campaign.name}*: \u201c{event.subject}\u201d, "
                 f"{_when(event.received_at, campaign)}. Nothing more will be sent to them. {where}"))
    _alert(session, campaign, event, f":speech_balloon: {name} replied to {campaign.name} "
                                     f"(recruiter: {campaign.owner.name}).", clock)
    for manager in reply_watchers(session, campaign):  # the mailbox is theirs, and they asked to hear
        notify(session, user=manager, kind="reply_copy", clock=clock, dedupe_key=f"reply_copy:{event.id}:{manager.id}",
               text=(f":speech_balloon: *{name}* replied in your mailbox {mailbox.address} to *{campaign.name}*, "
                     f"which {campaign.owner.name} runs: \u201c{event.subject}\u201d. {campaign.owner.name} has been told."))
    return "replied"


def _out_of_office(session: Session, enrollment: Enrollment, event: InboundEvent, clock: Clock) -> str:
    if enrollment.status.sends:
        enrollment.status = EnrollmentStatus.OUT_OF_OFFICE
    campaign = enrollment.campaign
    notify(session, user=campaign.owner, kind="auto_reply", clock=clock, dedupe_key=f"auto_reply:{event.id}",
           action="auto_reply", action_value=str(event.id),
           text=(f":palm_tree: *{enrollment.candidate.name}* sent an automatic reply to *{campaign.name}* "
                 f"(\u201c{event.subject}\u201d). The sequence goes on."))
    return "out_of_office"


def _bounced(session: Session, enrollment: Enrollment, event: InboundEvent, row: OutboundMessage, clock: Clock,
             rng: random.Random) -> str:
    if event.permanent is False:
        return "delayed"  # a delivery delay: the server keeps trying, and so do we
    campaign, name = enrollment.campaign, enrollment.candidate.name
    bounced = row.to_address
    enrollment.tried_addresses = [*enrollment.tried_addresses, bounced]
    if enrollment.address_override == bounced:
        enrollment.address_override = None
    next_address = choose_address(enrollment.candidate.addresses, preferred=campaign.email_preference,
                                  strict=campaign.strict_preference, user_id=campaign.owner_id,
                                  exclude=enrollment.tried_addresses)
    if next_address is None:
        _stop(session, enrollment, EnrollmentStatus.BOUNCED, clock.now())
        _alert(session, campaign, event, f":no_entry: {name}'s address {bounced} bounced in {campaign.name}, "
                                         "and no other address is allowed: Bounced (ended).", clock)
        return "bounced"
    # The new address starts a new conversation from the step that bounced: a fresh thread, and the
    # first-send rules (20 minutes' grace at least), as if that step had never been sent.
    _cancel_planned(session, enrollment)
    enrollment.steps_sent = row.step_position - 1
    enrollment.thread_id = enrollment.thread_references = None
    enrollment.first_send_local = enrollment.last_sent_at = None
    enrollment.status = EnrollmentStatus.IN_PROGRESS if enrollment.steps_sent else EnrollmentStatus.NOT_STARTED
    if campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):  # a paused one plans on resume
        plan_again(session, campaign=campaign, now=clock.now(), rng=rng, enrollment=enrollment)
    _alert(session, campaign, event, f":leftwards_arrow_with_hook: {name}'s address {bounced} bounced in "
                                     f"{campaign.name}; step {row.step_position} goes to {next_address} instead.",
           clock)
    return "next_address"


# ---- corrections from the owner's DM buttons ------------------------------------------------------
def owned_event(session: Session, *, user: User, event_id: int) -> InboundEvent:
    event = session.get(InboundEvent, event_id)
    if event is None or event.enrollment_id is None:
        raise NotFound("That message is no longer tracked.")
    enrollment = session.get(Enrollment, event.enrollment_id)
    assert enrollment is not None
    if enrollment.campaign.owner_id != user.id:
        raise UserError("Only the campaign's owner can change this.")
    return event


def mark_handled(session: Session, *, event: InboundEvent, clock: Clock) -> None:
    event.handled_at = event.handled_at or clock.now()


def was_auto_reply(session: Session, *, event: InboundEvent, clock: Clock, rng: random.Random) -> str:
    """"This was an auto-reply: continue": the candidate is back in the sequence where they were."""
    enrollment = session.get(Enrollment, event.enrollment_id)
    assert enrollment is not None
    if event.kind != InboundKind.REPLY or enrollment.status != EnrollmentStatus.REPLIED:
        raise UserError(f"{enrollment.candidate.name} is not marked as replied any more.")
    event.kind, event.handled_at = InboundKind.AUTO_REPLY, clock.now()
    enrollment.status, enrollment.ended_at = EnrollmentStatus.OUT_OF_OFFICE, None
    campaign = enrollment.campaign
    if campaign.status == CampaignStatus.FINISHED:
        campaign.status = CampaignStatus.ACTIVE
    plan_again(session, campaign=campaign, now=clock.now(), rng=rng, enrollment=enrollment)
    return enrollment.candidate.name


def was_real_reply(session: Session, *, event: InboundEvent, clock: Clock) -> str:
    """"This was a real reply": the auto-reply guess was wrong; the sequence stops."""
    enrollment = session.get(Enrollment, event.enrollment_id)
    assert enrollment is not None
    if not enrollment.status.sends:
        raise UserError(f"{enrollment.candidate.name} is {enrollment.status.value.replace('_', ' ')} already.")
    event.kind, event.handled_at = InboundKind.REPLY, clock.now()
    _stop(session, enrollment, EnrollmentStatus.REPLIED, clock.now())
    return enrollment.candidate.name
