"""Replies and the do-not-contact list: what a reply DM offers, and its "Do not contact" button.

| the reply                               | the DM says                          | its buttons (`action`)          |
|-----------------------------------------|--------------------------------------|---------------------------------|
| plain                                   | who, campaign, subject, when         | Mark handled, auto-reply, DNC   |
| asks to stop (providers.opt_out)        | + "This reads as a request to stop"  | DNC first, Mark handled, auto   |
| asks to stop, opt_out_replies_to_dnc on | + listed at once (OPT_OUT_REPLY)     | Mark handled                    |
| asks to stop, already on the list       | + "on the list already"              | Mark handled                    |
| to a one-off email (`/outreach send`)   | as above                             | DNC only (no sequence to fix)   |

The button lists the replying address (REPLY_BUTTON) for whoever may change the campaign (or the
one-off's sender); do_not_contact.add ends the candidate's open enrollments everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import DirectMessage, DoNotContactSource, InboundEvent, Organisation, OutboundMessage, User
from bot.services import do_not_contact
from bot.wording import agrees, counted

SUBJECT_IN_REASON = 80  # the reason keeps a short subject: enough to recognise the reply


@dataclass(frozen=True)
class ReplyNotice:
    note: str  # what the DM adds after the usual words ("" for a plain reply)
    action: str  # which buttons the DM carries (handlers.views.notices.BUTTONS)


def reason_for(subject: str | None) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        return "replied"
    return f"replied: {subject[:SUBJECT_IN_REASON]}{'…' if len(subject) > SUBJECT_IN_REASON else ''}"


def on_reply(session: Session, *, organisation_id: int, address: str | None, subject: str | None, opt_out: bool,
             one_off: bool, clock: Clock) -> ReplyNotice:
    """What the reply DM says and offers; with the organisation's setting, an opt-out reply's address
    goes on the list here, in the transaction that records the reply."""
    plain = "reply_direct" if one_off else "reply"
    if not opt_out or not address:
        return ReplyNotice("", plain)
    if do_not_contact.matches(session, organisation_id=organisation_id, addresses=[address]):
        return ReplyNotice(f" This reads as a request to stop; {address} is on the do-not-contact list already.",
                           "reply_listed")
    organisation = session.get(Organisation, organisation_id)
    if organisation is not None and organisation.opt_out_replies_to_dnc:
        try:
            do_not_contact.add(session, organisation_id=organisation_id, text=address, reason=reason_for(subject),
                               source=DoNotContactSource.OPT_OUT_REPLY, added_by=None, clock=clock)
        except UserError:
            pass  # an address the list cannot hold: the recruiter decides, as without the setting
        else:
            return ReplyNotice(f" This reads as a request to stop, so {address} is now on the do-not-contact "
                               "list (your organisation's setting): nothing more will be sent to them from any "
                               "campaign. An admin can take it off with `/outreach dnc remove`.", "reply_listed")
    return ReplyNotice(f" This reads as a request to stop: *Do not contact* puts {address} on the "
                       "do-not-contact list.", "reply_direct_opt_out" if one_off else "reply_opt_out")


def replier_event(session: Session, *, user: User, event_id: int) -> InboundEvent:
    """The reply the button names, if `user` may act on it: its campaign's owner or an editor, or
    the one-off email's sender. Anyone else hears that it is not theirs, and nothing more."""
    from bot.services.replies import owned_event  # replies imports this module: imported when used

    event = session.get(InboundEvent, event_id)
    if event is not None and event.direct_message_id is not None:
        direct = session.get(DirectMessage, event.direct_message_id)
        if direct is None or direct.sender_id != user.id:
            raise NotFound("That message is no longer tracked, or the email it answers is not yours.")
        return event
    return owned_event(session, user=user, event_id=event_id)


def list_replier(session: Session, *, user: User, event: InboundEvent, clock: Clock) -> str:
    """"Do not contact": the replying address goes on the list, their open enrollments end."""
    address = event.from_address
    if not address and event.outbound_message_id is not None:
        row = session.get(OutboundMessage, event.outbound_message_id)
        address = row.to_address if row is not None else None
    if not address:
        raise UserError("This reply has no sender address to put on the do-not-contact list.")
    entry, ended = do_not_contact.add(session, organisation_id=user.organisation_id, text=address,
                                      reason=reason_for(event.subject), source=DoNotContactSource.REPLY_BUTTON,
                                      added_by=user, clock=clock)
    event.handled_at = event.handled_at or clock.now()
    more = f" {counted(ended, 'open enrollment')} {agrees(ended, 'was', 'were')} ended." if ended else ""
    return f":no_entry_sign: {entry.value} is on the do-not-contact list: nothing more will be sent to it.{more}"
