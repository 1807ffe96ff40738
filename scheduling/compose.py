"""Builds the email for each claimed row: templates rendered with the candidate's fields (and the
campaign's overrides), follow-ups threaded under step 1, (when the organisation turned it on) the
opt-out line with List-Unsubscribe (bot.services.unsubscribe), and (when the organisation allows it
and the campaign asks) the open-tracking image (bot.services.open_tracking)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import templates
from bot.models import (Campaign, Candidate, Enrollment, Mailbox, MailboxStatus, Organisation, OutboundMessage,
                        Provider, SequenceStep, User)
from providers.base import OutgoingEmail, display_name
from providers.thread_index import thread_index
from bot.services.delegations import grants
from bot.services.open_tracking import Pixels
from bot.services.unsubscribe import Links, with_opt_out_line
from scheduling.bulk_rows import among
from scheduling.claims import SENDING_CAMPAIGN
from scheduling.record_sent import SentRow


@dataclass(frozen=True)
class Sendable:
    """Everything one email is made of, read in one query for a whole claim."""

    row_id: int
    mailbox_id: int
    sequence_id: int
    step_position: int
    to_address: str
    message_id: str
    in_reply_to: str | None
    references: str | None
    thread_id: str | None
    thread_subject: str | None  # step 1's subject as it was sent
    candidate_name: str
    fields: dict[str, Any]
    fields_override: dict[str, Any]
    from_address: str
    from_name: str
    enrollment_id: int
    campaign_id: int
    timezone: str  # the candidate's own zone, else the campaign's (time_zones.zone_of)
    provider: Provider
    planned_at: datetime  # when this row was planned: the time of its Thread-Index child block
    thread_started_at: datetime  # the enrollment's start: the time of its Thread-Index header block
    organisation_id: int
    # (when planned, Message-ID) of each earlier reply in the thread (References after the first): SMTP only.
    earlier_replies: tuple[tuple[datetime, str], ...] = ()
    opt_out_link: bool = False  # the organisation's setting: the email carries the opt-out link
    track_opens: bool = False  # the organisation allows tracking and the campaign's switch is on

    def sent_row(self, steps: int) -> SentRow:
        return SentRow(self.row_id, self.enrollment_id, self.step_position, self.message_id, self.mailbox_id,
                       self.campaign_id, self.sequence_id, self.timezone, steps)


def load_sendables(session: Session, ids: Sequence[int]) -> list[Sendable]:
    """The claimed rows that may still go out, looked at again just before sending: a reply, a
    pause or a revoked delegation recorded since the claim leaves its row out."""
    O, E = OutboundMessage, Enrollment
    # The checks are read as columns, not filters: a filter changes PostgreSQL's join plan, and the
    # dispatch benchmark lost 15-20% to it; columns cost next to nothing on rows already joined.
    rows = session.execute(
        select(O.id, O.mailbox_id, Campaign.sequence_id, O.step_position, O.to_address, O.message_id,
               O.in_reply_to, O.references, E.thread_id, E.thread_subject, Candidate.name, Candidate.fields,
               E.fields_override, Mailbox.address, User.name, E.id, E.campaign_id,
               func.coalesce(Candidate.time_zone, Campaign.timezone),  # the zone its anchor is kept in
               Mailbox.provider, O.created_at, E.created_at, Campaign.organisation_id, E.status, Campaign.status,
               Mailbox.status,
               grants(Mailbox.owner_id, Campaign.owner_id, Mailbox.id, Campaign.id))
        .join(E, E.id == O.enrollment_id).join(Candidate, Candidate.id == E.candidate_id)
        .join(Campaign, Campaign.id == E.campaign_id).join(Mailbox, Mailbox.id == O.mailbox_id)
        .join(User, User.id == Mailbox.owner_id)  # a manager's mailbox sends in the manager's name
        .where(among(O.id, ids, session.get_bind().dialect)).order_by(O.id)).all()
    found = [Sendable(*row[:-4]) for row in rows
             if row[-4].sends and row[-3] in SENDING_CAMPAIGN and row[-2] == MailboxStatus.CONNECTED and row[-1]]
    return _with_link_and_tracking(session, _with_reply_times(session, found))


def _with_link_and_tracking(session: Session, items: list[Sendable]) -> list[Sendable]:
    """Marks the rows of organisations that send the opt-out link, and of campaigns that track opens
    where their organisation allows it: one small query for the batch (its campaigns), so the main one
    keeps its plan (see load_sendables). Both are read at send time: a change applies from the next batch."""
    campaigns = {item.campaign_id for item in items}
    if not campaigns:
        return items
    marks = {campaign_id: (linked, tracked) for campaign_id, linked, tracked in session.execute(
        select(Campaign.id, Organisation.opt_out_link, Campaign.track_opens & Organisation.open_tracking)
        .join(Organisation, Organisation.id == Campaign.organisation_id)
        .where(Campaign.id.in_(campaigns), Organisation.opt_out_link.is_(True)
               | (Campaign.track_opens.is_(True) & Organisation.open_tracking.is_(True))))}
    if not marks:
        return items
    return [replace(item, opt_out_link=bool(marks[item.campaign_id][0]), track_opens=bool(marks[item.campaign_id][1]))
            if item.campaign_id in marks else item for item in items]


def _with_reply_times(session: Session, items: list[Sendable]) -> list[Sendable]:
    """SMTP follow-ups after step 2 rebuild their parent's Thread-Index from the earlier replies' rows
    (one query for the batch, by their unique Message-IDs); every other send needs none."""
    wanted = {ref for item in items if item.provider == Provider.SMTP_IMAP and item.in_reply_to
              for ref in (item.references or "").split()[1:]}
    if not wanted:
        return items
    planned = dict(session.execute(select(OutboundMessage.message_id, OutboundMessage.created_at)
                                   .where(OutboundMessage.message_id.in_(wanted))).all())
    return [replace(item, earlier_replies=tuple((planned[ref], ref) for ref in (item.references or "").split()[1:]
                                                if ref in planned))
            if item.provider == Provider.SMTP_IMAP and item.in_reply_to else item for item in items]


def compose(item: Sendable, steps: dict[int, SequenceStep], now: datetime, links: Links | None = None,
            pixels: Pixels | None = None) -> OutgoingEmail:
    """Raises templates.TemplateProblem when a template no longer renders for this candidate. The
    opt-out link goes in when the organisation asks for it and `links` can sign one; the headers only
    with an https link (RFC 8058). The tracking image when the row tracks opens and `pixels` can make a
    token. Without them the email is byte for byte what it always was."""
    values = templates.candidate_values(item.candidate_name, item.fields, item.fields_override)
    step = steps[item.step_position]
    subject = templates.render(step.subject, values, field="subject")
    topic = subject
    if item.in_reply_to:  # a follow-up in the same thread answers the subject step 1 was sent with
        topic = item.thread_subject or templates.render(steps[1].subject, values, field="subject")
        subject = "Re: " + topic
    index = _thread_index(item) if item.provider == Provider.SMTP_IMAP else None
    body = templates.render(step.body, values, field="body")
    link = links.url(item.row_id) if links is not None and item.opt_out_link else None
    if link:
        body = with_opt_out_line(body, link)
    return OutgoingEmail(
        from_address=item.from_address, from_name=item.from_name or None, to_address=item.to_address,
        to_name=display_name(item.candidate_name), subject=subject, body=body, message_id=item.message_id,
        in_reply_to=item.in_reply_to, references=tuple((item.references or "").split()),
        thread_id=item.thread_id if item.in_reply_to else None, date=now,
        thread_topic=topic if index else None, thread_index=index,
        unsubscribe_url=link if link and link.startswith("https://") else None,
        tracking_image_url=pixels.url(item.row_id) if pixels is not None and item.track_opens else None,
    )


def _thread_index(item: Sendable) -> str:
    """Outlook's Thread-Index (providers.thread_index), from the rows as planned: the same on a retry."""
    references = (item.references or "").split()
    if not item.in_reply_to or not references:
        return thread_index(item.thread_started_at, item.message_id, ())
    return thread_index(item.thread_started_at, references[0], [*item.earlier_replies, (item.planned_at, item.message_id)])
