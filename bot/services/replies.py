"""What an inbound message means for a campaign: which enrollment it answers, and what follows.

SPEC "Replies, bounces, out-of-office": a reply ends the sequence for that candidate and tells the
campaign's owner (DM) and alert channel; a bounce moves to the next address the rules allow, from
the step that bounced, or ends the candidate as Bounced; an auto-reply marks them Out of office and
the sequence goes on. A reply to a one-off email (`/outreach send`) tells its sender (DM). A complaint
(spam report) is never a reply: bot.services.complaints handles it. Only
metadata is kept (SPEC "Data kept"): who, subject, when, provider ids.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    ChannelAlert,
    DirectMessage,
    Enrollment,
    EnrollmentStatus,
    InboundEvent,
    Mailbox,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    Provider,
    User,
)
from bot.services.campaigns import finish_if_done, plan_again
from bot.services.delegations import reply_watchers
from bot.services import access, away, complaints, reply_opt_out, transitions
from bot.services.notifications import notify
from bot.services.recipients import choose_address
from bot.services.campaign_marks import mark_stale
from providers.base import InboundKind

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
    recipients: tuple[str, ...] = ()  # a bounce's failing recipients, a complaint's reported ones
    permanent: bool | None = None
    opt_out: bool = False  # a reply asking to stop (providers.opt_out): the DM offers "Do not contact" first
    return_date: date | None = None  # an auto-reply's stated return (providers.return_date)


@dataclass(frozen=True)
class Outcome:
    event_id: int | None  # None: nothing of ours (not kept)
    kind: InboundKind
    effect: str  # "replied", "out_of_office", "next_address", "bounced", "delayed", "complained", "ignored", "seen"


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def _match(session: Session, mailbox: Mailbox, inbound: Inbound) -> OutboundMessage | None:
    """The send this message answers: by Message-ID (In-Reply-To/References), then by thread, then
    (a bounce) by failing recipient, then (anything else) by the candidate's address in From in any
    thread, which catches replies in a new thread or with a changed subject."""
    sent = select(O).where(O.mailbox_id == mailbox.id, O.status == OutboundStatus.SENT,
                           O.kind == OutboundKind.CAMPAIGN)  # a one-off's reply: _match_direct
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


def _match_direct(session: Session, mailbox: Mailbox, inbound: Inbound, *, since: datetime) -> DirectMessage | None:
    """The one-off email a reply answers: by Message-ID (ours or the one the provider stored), then by
    thread, then by its recipient in From, only for one-offs sent since `since`, as From alone is loose."""
    D = DirectMessage
    mine = select(D).where(D.mailbox_id == mailbox.id).order_by(D.sent_at.desc()).limit(1)
    ids = [f"<{_bare(m)}>" for m in inbound.references if _bare(m)]
    if ids:
        found = session.scalar(mine.where(D.message_id.in_(ids) | D.sent_message_id.in_(ids)))
        if found is not None:
            return found
    if inbound.thread_id:
        found = session.scalar(mine.where(D.provider_thread_id == inbound.thread_id))
        if found is not None:
            return found
    if inbound.from_address:
        return session.scalar(mine.where(D.to_address == inbound.from_address, D.sent_at >= since))
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
                   rng: random.Random, reply_watch: timedelta) -> Outcome:
    """Apply one inbound message, in the caller's transaction (with the mailbox's new sync cursor).
    A message seen before (a resync repeats some) changes nothing. A campaign's send is matched
    first; only a reply (not a bounce or an auto-reply) is looked for among one-off emails."""
    if session.scalar(select(InboundEvent.id).where(InboundEvent.mailbox_id == mailbox.id,
                                                    InboundEvent.provider_message_id == inbound.provider_message_id)):
        return Outcome(None, inbound.kind, "seen")
    if inbound.kind == InboundKind.OTHER:
        return Outcome(None, inbound.kind, "ignored")
    if inbound.kind == InboundKind.COMPLAINT:  # never a reply: matched and handled on its own
        event_id, effect = complaints.record(session, mailbox=mailbox, inbound=inbound, clock=clock)
        return Outcome(event_id, inbound.kind, effect)
    row = _match(session, mailbox, inbound)
    if row is None and inbound.kind == InboundKind.REPLY:
        direct = _match_direct(session, mailbox, inbound, since=clock.now() - reply_watch)
        if direct is not None:
            event = _event(session, mailbox, inbound, clock, direct_message_id=direct.id)
            return Outcome(event.id, inbound.kind, _replied_direct(session, direct, event, mailbox, clock,
                                                                   opt_out=inbound.opt_out))
    if row is None:
        return Outcome(None, inbound.kind, "ignored")  # not an answer to anything we sent: not kept
    enrollment = row.enrollment
    event = _event(session, mailbox, inbound, clock, enrollment_id=enrollment.id, outbound_message_id=row.id)
    late_opt_out = inbound.kind == InboundKind.REPLY and inbound.opt_out  # "remove me" after "not now"
    if enrollment.status in (EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED) and not late_opt_out:
        return Outcome(event.id, inbound.kind, "seen")  # already ended: kept for the record only
    if inbound.kind == InboundKind.REPLY:
        return Outcome(event.id, inbound.kind, _replied(session, enrollment, event, mailbox, clock,
                                                        opt_out=inbound.opt_out))
    if inbound.kind == InboundKind.AUTO_REPLY:
        return Outcome(event.id, inbound.kind, _out_of_office(session, enrollment, event, clock, rng,
                                                              inbound.return_date))
    return Outcome(event.id, inbound.kind, _bounced(session, enrollment, event, row, clock, rng))


def _event(session: Session, mailbox: Mailbox, inbound: Inbound, clock: Clock, **answers: int) -> InboundEvent:
    """The message's metadata, kept with what it answers (an enrollment's send, or a one-off email)."""
    event = InboundEvent(
        mailbox_id=mailbox.id, kind=inbound.kind, **answers,
        provider_message_id=inbound.provider_message_id, provider_thread_id=inbound.thread_id,
        from_address=(inbound.from_address or "")[:320] or None, subject=inbound.subject[:998],
        failed_recipients=list(inbound.recipients), permanent=inbound.permanent,
        received_at=inbound.received_at, created_at=clock.now())
    session.add(event)
    session.flush()
    return event


def _cancel_planned(session: Session, enrollment: Enrollment) -> None:
    """Steps planned for this candidate will not go (the claim re-checks anyway): cancelled, so no
    report shows them as still to come."""
    transitions.cancel_planned(session, enrollment.id)
    mark_stale(session, [enrollment.campaign_id])


def _stop(session: Session, enrollment: Enrollment, status: EnrollmentStatus, now: datetime) -> bool:
    """Nothing more goes to this candidate. The guarded transition runs before the cancel, so a send
    being recorded at this moment either commits first (its next step is then cancelled here) or
    finds the candidate ended and plans nothing. False when they had ended already."""
    if not transitions.end(session, enrollment, status, ended_at=now):
        return False
    _cancel_planned(session, enrollment)
    finish_if_done(session, [enrollment.campaign_id])
    return True


def _when(moment: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return f"{moment.astimezone(ZoneInfo(tz)):%a %d %b %H:%M} ({tz})"


def _alert(session: Session, campaign: Campaign, event: InboundEvent, text: str, clock: Clock) -> None:
    if campaign.alert_channel_id:
        session.add(ChannelAlert(organisation_id=campaign.organisation_id, campaign_id=campaign.id,
                                 channel_id=campaign.alert_channel_id, text=text,
                                 dedupe_key=f"inbound:{event.id}", created_at=clock.now()))


def _replied(session: Session, enrollment: Enrollment, event: InboundEvent, mailbox: Mailbox, clock: Clock, *,
             opt_out: bool = False) -> str:
    stopped = _stop(session, enrollment, EnrollmentStatus.REPLIED, clock.now())
    if not stopped and not opt_out:
        return "seen"  # ended by another message recorded meanwhile
    campaign, name = enrollment.campaign, enrollment.candidate.name
    link = thread_link(mailbox, event.provider_thread_id)
    where = f"<{link}|Open the thread>" if link else f"The thread is in {mailbox.address}."
    said = reply_opt_out.on_reply(session, organisation_id=campaign.organisation_id, address=event.from_address,
                                  subject=event.subject, opt_out=opt_out, one_off=False, clock=clock)
    notify(session, user=campaign.owner, kind="reply", clock=clock, dedupe_key=f"reply:{event.id}",
           action=said.action, action_value=str(event.id),
           text=(f":speech_balloon: *{name}* {'replied' if stopped else 'wrote again'} to *{campaign.name}*: "
                 f"\u201c{event.subject}\u201d, {_when(event.received_at, campaign.timezone)}. "
                 f"Nothing more will be sent to them.{said.note} {where}"))
    if not stopped:
        return "opt_out"  # a later "remove me": the owner hears it; the sequence had ended already
    _alert(session, campaign, event, f":speech_balloon: {name} replied to {campaign.name} "
                                     f"(recruiter: {campaign.owner.name}).", clock)
    for manager in reply_watchers(session, campaign):  # the mailbox is theirs, and they asked to hear
        notify(session, user=manager, kind="reply_copy", clock=clock, dedupe_key=f"reply_copy:{event.id}:{manager.id}",
               text=(f":speech_balloon: *{name}* replied in your mailbox {mailbox.address} to *{campaign.name}*, "
                     f"which {campaign.owner.name} runs: \u201c{event.subject}\u201d. {campaign.owner.name} has been told."))
    return "replied"


def _replied_direct(session: Session, direct: DirectMessage, event: InboundEvent, mailbox: Mailbox,
                    clock: Clock, *, opt_out: bool = False) -> str:
    """Its sender hears of it as a campaign's owner does; no campaign, so no channel and no sequence
    to stop (the only button: "Do not contact")."""
    sender = session.get(User, direct.sender_id)
    assert sender is not None
    candidate = session.get(Candidate, direct.candidate_id) if direct.candidate_id else None
    who = f"{candidate.name} ({direct.to_address})" if candidate is not None else direct.to_address
    link = thread_link(mailbox, event.provider_thread_id)
    where = f"<{link}|Open the thread>" if link else f"The thread is in {mailbox.address}."
    said = reply_opt_out.on_reply(session, organisation_id=sender.organisation_id, address=event.from_address,
                                  subject=event.subject, opt_out=opt_out, one_off=True, clock=clock)
    notify(session, user=sender, kind="reply", clock=clock, dedupe_key=f"reply:{event.id}",
           action=said.action, action_value=str(event.id),
           text=(f":speech_balloon: *{who}* replied to your email \u201c{direct.subject}\u201d: "
                 f"\u201c{event.subject}\u201d, {_when(event.received_at, sender.tz)}.{said.note} {where}"))
    return "replied"


def _out_of_office(session: Session, enrollment: Enrollment, event: InboundEvent, clock: Clock,
                   rng: random.Random, return_date: date | None) -> str:
    sending = transitions.move(session, enrollment, leaving=transitions.SENDS, to=EnrollmentStatus.OUT_OF_OFFICE)
    campaign = enrollment.campaign
    then = "The sequence goes on."
    if return_date is not None and sending:  # none read: the sequence goes on as planned
        away.hold_until_back(session, enrollment, away_until=return_date, now=clock.now(), rng=rng)
        then = f"They are back after {return_date:%a %d %b}: their next step waits until then."
    notify(session, user=campaign.owner, kind="auto_reply", clock=clock, dedupe_key=f"auto_reply:{event.id}",
           action="auto_reply", action_value=str(event.id),
           text=(f":palm_tree: *{enrollment.candidate.name}* sent an automatic reply to *{campaign.name}* "
                 f"(\u201c{event.subject}\u201d). {then}"))
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
        if not _stop(session, enrollment, EnrollmentStatus.BOUNCED, clock.now()):
            return "seen"
        _alert(session, campaign, event, f":no_entry: An email to {name} bounced in {campaign.name}, "
                                         "and no other address is allowed: Bounced (ended).", clock)
        return "bounced"
    # The new address starts a new conversation from the step that bounced: a fresh thread, and the
    # first-send rules (20 minutes' grace at least), as if that step had never been sent.
    steps_sent = row.step_position - 1
    if not transitions.move(session, enrollment, leaving=transitions.OPEN,
                            to=EnrollmentStatus.IN_PROGRESS if steps_sent else EnrollmentStatus.NOT_STARTED,
                            steps_sent=steps_sent, thread_id=None, thread_references=None, thread_subject=None,
                            first_send_local=None, last_sent_at=None, ended_at=None):
        return "seen"  # a reply was recorded meanwhile: it stands
    _cancel_planned(session, enrollment)
    if campaign.status == CampaignStatus.FINISHED:  # the last step bounced after it finished (the reply watch)
        campaign.status = CampaignStatus.ACTIVE
    if campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):  # a paused one plans on resume
        plan_again(session, campaign=campaign, now=clock.now(), rng=rng, enrollment=enrollment)
    # The channel hears the kind of event, never an address (SPEC "Who sees what").
    _alert(session, campaign, event, f":leftwards_arrow_with_hook: An email to {name} bounced in {campaign.name}; "
                                     f"step {row.step_position} goes to another of their addresses instead.", clock)
    return "next_address"


# ---- corrections from the owner's DM buttons ------------------------------------------------------
def owned_event(session: Session, *, user: User, event_id: int) -> InboundEvent:
    """A reply or auto-reply its campaign's owner (or a teammate who may change it) corrects."""
    gone = "That message is no longer tracked, or its campaign is not yours."
    event = session.get(InboundEvent, event_id)
    if event is None or event.enrollment_id is None:
        raise NotFound(gone)
    access.enrollment(session, user=user, enrollment_id=event.enrollment_id, need=access.Need.CHANGE, gone=gone)
    return event


def mark_handled(session: Session, *, event: InboundEvent, clock: Clock) -> None:
    event.handled_at = event.handled_at or clock.now()


def was_auto_reply(session: Session, *, event: InboundEvent, clock: Clock, rng: random.Random) -> str:
    """"This was an auto-reply: continue": the candidate is back in the sequence where they were."""
    enrollment = session.get(Enrollment, event.enrollment_id)
    assert enrollment is not None
    if event.kind != InboundKind.REPLY or enrollment.status != EnrollmentStatus.REPLIED:
        raise UserError(f"{enrollment.candidate.name} is not marked as replied any more.")
    if not transitions.move(session, enrollment, leaving=[EnrollmentStatus.REPLIED],
                            to=EnrollmentStatus.OUT_OF_OFFICE, ended_at=None):
        raise UserError(f"{enrollment.candidate.name} is not marked as replied any more.")
    event.kind, event.handled_at = InboundKind.AUTO_REPLY, clock.now()
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
    if not _stop(session, enrollment, EnrollmentStatus.REPLIED, clock.now()):
        raise UserError(f"{enrollment.candidate.name} is {enrollment.status.value.replace('_', ' ')} already.")
    event.kind, event.handled_at = InboundKind.REPLY, clock.now()
    return enrollment.candidate.name
