"""Emails sent now, outside the campaign queue: a sequence previewed to the recruiter's own address
(seed 004, "Send preview") and one email to one candidate from a sequence step (seed 002).

Both count toward the mailbox's rolling daily cap (the same hourly counters the dispatcher's claim
uses), push the mailbox's `not_before` so campaign sends keep their spacing afterwards, and are
recorded in the audit log (message ids and recipient, never a body). A one-off email is also kept as
a DirectMessage (metadata only) so its reply reaches the sender; a preview, to the recruiter's own
address, is not. The provider is called outside any database transaction: a slow provider never
holds SQLite's write lock.

One send path: this module queues the emails as outbound rows (kind one_off or preview, no
enrollment), and the dispatcher sends them as it sends campaign steps (`Dispatcher.send_now`:
claim → last look → send once → record, bot.services.transitions owning every status change):
1. queue (one write transaction): check the mailbox may send (allowed, connected, not held by a
   provider's Retry-After, room under the cap), build every email, count them against the cap,
   insert one pending row per email with its Message-ID.
2. the dispatcher sends them, each preview step after the one before it; it stops at the first error.
3. `result` reads the rows back into what the recruiter is told.
"""
from __future__ import annotations

import enum
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import templates
from bot.clock import Clock
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    AuditEntry,
    Candidate,
    CandidateAddress,
    DirectMessage,
    Mailbox,
    MailboxStatus,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    Provider,
    Sequence,
    SequenceStep,
    User,
)
from bot.services import do_not_contact
from bot.services.addresses import address_problem, check_line, control_problem, valid_address
from bot.services import send_counts
from bot.services.mailboxes import sending_mailboxes
from bot.services.sequences import find_sequence, sequences_of
from providers.base import OutgoingEmail, PermanentFailure, check_headers, new_message_id

log = logging.getLogger(__name__)

SAMPLE_NAME = "Alex Sample"
PREVIEW_PREFIX = "[Preview] "
NAME_VARIABLES = ("name", "first_name", "last_name")  # made from the candidate's name (templates.candidate_values)
MODAL_TEXT_LIMIT = 3000  # the most a Slack text input can hold: a longer draft cannot be shown for editing
TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\{%|\{#", re.S)
FIELD_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(.*?)\s*$")
PROVIDER_NAME = {Provider.GMAIL: "Google", Provider.GRAPH: "Microsoft", Provider.SMTP_IMAP: "Your mail server",
                 Provider.SANDBOX: "The sandbox mail server"}
_parser = SandboxedEnvironment()  # parsing only, to list the variables a template uses


class Field(str, enum.Enum):
    """The modal inputs a UserError from this module can name (the Slack views use them as block ids)."""

    MAILBOX = "mailbox"
    TEMPLATE = "template"  # the sequence step an email to one candidate starts from
    TO = "to"
    NAME = "name"
    FIELDS = "fields"  # template fields typed for one candidate: "company=Acme", one per line
    SUBJECT = "subject"
    BODY = "body"


def sample_field(variable: str) -> str:
    """The input of one sample value in the preview form."""
    return f"sample.{variable}"


# -- what a form offers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SenderChoice:
    id: int
    address: str
    left_today: int  # room under the daily cap now
    daily_cap: int


@dataclass(frozen=True)
class PreviewForm:
    sequence_id: int
    sequence_name: str
    steps: int
    to_address: str  # the recruiter's own address
    samples: dict[str, str]  # every template variable besides the name ones → its sample value
    senders: list[SenderChoice]


@dataclass(frozen=True)
class StepChoice:
    position: int
    subject: str  # the template, as written


@dataclass(frozen=True)
class SequenceChoice:
    id: int
    name: str
    steps: list[StepChoice]


@dataclass(frozen=True)
class SendForm:
    sequences: list[SequenceChoice]
    senders: list[SenderChoice]


@dataclass(frozen=True)
class Draft:
    """One email to one candidate, rendered and ready for the recruiter to check and edit."""

    sequence_id: int
    sequence_name: str
    position: int
    to_address: str
    name: str
    subject: str
    body: str


@dataclass(frozen=True)
class DirectSent:
    to_address: str
    from_address: str
    sequence_name: str
    subjects: tuple[str, ...]
    message_ids: tuple[str, ...]


def template_variables(steps: Iterable[SequenceStep]) -> list[str]:
    """The variables the steps' templates read, besides the ones made from the name, in order of first use."""
    found: list[str] = []
    for step in sorted(steps, key=lambda s: s.position):
        for source in (step.subject, step.body):
            try:
                tree = _parser.parse(source)
            except TemplateSyntaxError:
                continue  # rendering names the problem, with its line
            undeclared = meta.find_undeclared_variables(tree)
            for node in tree.find_all(nodes.Name):
                if (node.name in undeclared and node.name not in found and node.name not in NAME_VARIABLES
                        and node.name not in _parser.globals):  # range, dict, …: not the candidate's
                    found.append(node.name)
    return found


def sample_values(variables: Iterable[str], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """A value for each variable: what the recruiter gave, else "[variable]", which reads as a gap to fill."""
    given = given or {}
    return {v: given[v] if given.get(v) else f"[{v}]" for v in variables}


def sender_choices(session: Session, *, user: User, now: datetime) -> list[SenderChoice]:
    mailboxes = sending_mailboxes(session, user)
    if not mailboxes:
        raise UserError("You have no connected mailbox to send from. Connect one with `/outreach connect`.")
    used = send_counts.sends_last_day(session, [m.id for m in mailboxes], now)
    return [SenderChoice(m.id, m.address, max(m.daily_cap - used.get(m.id, 0), 0), m.daily_cap) for m in mailboxes]


def _own_address(user: User) -> str:
    """The preview's recipient: the email of the user's Slack profile, checked as any address typed in."""
    if not user.email:
        raise UserError("Your Slack profile has no email address, so there is nowhere to send the preview. "
                        "Add your email to your Slack profile (or ask your Slack admin), then try again.")
    problem = address_problem(user.email.strip())
    if problem:
        raise UserError(f"The email address in your Slack profile cannot receive the preview: {problem}. Fix it in "
                        "your Slack profile (or ask your Slack admin), then try again.")
    return valid_address(user.email)


def preview_form(session: Session, *, user: User, sequence: str, now: datetime) -> PreviewForm:
    if not sequence.strip():
        raise UserError("Name the sequence to preview, e.g. `/outreach preview Backend engineers`. "
                        "`/outreach sequences` lists yours.")
    found = find_sequence(session, user=user, name_or_id=sequence)
    to_address = _own_address(user)
    senders = sender_choices(session, user=user, now=now)
    samples = sample_values(template_variables(found.steps))
    preview_emails(found, samples=samples, from_address=senders[0].address, from_name=user.name,
                   to_address=to_address, now=now)  # a step that cannot render is refused now, not after sending
    return PreviewForm(found.id, found.name, len(found.steps), to_address, samples, senders)


def check_preview(session: Session, *, user: User, sequence_id: int, mailbox_id: int, samples: Mapping[str, str],
                  now: datetime) -> None:
    """Everything about a preview that can be known before sending, each problem on its form field."""
    for variable, value in samples.items():
        check_line(value, what=f"the sample value of {variable}", field=sample_field(variable))
    sequence = find_sequence(session, user=user, name_or_id=str(sequence_id))
    to_address = _own_address(user)
    mailbox = check_sender(session, user=user, mailbox_id=mailbox_id, sends=len(sequence.steps), now=now)
    try:
        preview_emails(sequence, samples=samples, from_address=mailbox.address, from_name=None,
                       to_address=to_address, now=now)
    except templates.TemplateProblem as problem:  # a sample value the template cannot use
        variables = template_variables(sequence.steps)
        field = sample_field(variables[0]) if variables else Field.MAILBOX.value
        raise UserError(problem.message, field=field) from None


def send_form(session: Session, *, user: User, now: datetime) -> SendForm:
    sequences = [SequenceChoice(s.id, s.name, [StepChoice(step.position, step.subject) for step in s.steps])
                 for s in sequences_of(session, user=user) if s.steps]
    if not sequences:
        raise UserError("An email to one candidate starts from a step of one of your sequences, and you have none "
                        "yet. Make one with `/outreach sequence new`.")
    return SendForm(sequences, sender_choices(session, user=user, now=now))


# -- checks ---------------------------------------------------------------------------------------

def _at(moment: datetime, tz: str) -> str:
    zone = ZoneInfo(tz)
    return f"{moment.astimezone(zone):%a %H:%M} ({zone.key})"


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _cap_problem(session: Session, mailbox: Mailbox, sends: int, now: datetime, tz: str) -> str | None:
    """Why these sends would go over the rolling daily cap, and when room frees up; None when they fit.
    Counted as the claim counts (bot.services.send_counts): whole UTC hours, so an hour's sends stop
    counting 25 hours after the hour began."""
    hours = send_counts.hours_last_day(session, mailbox.id, now)
    used = sum(n for _, n in hours)
    if used + sends <= mailbox.daily_cap:
        return None
    emails = "this email" if sends == 1 else f"these {sends} emails"
    if sends > mailbox.daily_cap:
        return (f"{mailbox.address} may send {mailbox.daily_cap} emails in 24 hours, fewer than the {sends} "
                "this needs. Choose another mailbox.")
    freed = 0
    for hour, count in hours:
        freed += count
        if used - freed + sends <= mailbox.daily_cap:
            room_at = _at(hour + send_counts.DAY + timedelta(hours=1), tz)
            return (f"{mailbox.address} has sent {used} of its {mailbox.daily_cap} emails allowed in 24 hours, so "
                    f"{emails} would go over its daily cap. There is room again from {room_at}.")
    return f"{mailbox.address} has no room under its daily cap of {mailbox.daily_cap} emails in 24 hours."


def check_sender(session: Session, *, user: User, mailbox_id: int, sends: int, now: datetime,
                 lock: bool = False) -> Mailbox:
    """The mailbox, if this user may send `sends` emails from it now; a UserError on the mailbox field if not.
    `lock` holds its row (PostgreSQL; SQLite's write transaction is already exclusive) until the
    transaction ends, so two sends cannot both take the last room under the cap."""
    query = select(Mailbox).where(Mailbox.id == mailbox_id)
    mailbox = session.scalar(query.with_for_update() if lock else query)
    allowed = {m.id for m in sending_mailboxes(session, user)}
    if mailbox is None or (mailbox.owner_id != user.id and mailbox.id not in allowed):
        raise UserError("You may not send from that mailbox: choose one of yours.", field=Field.MAILBOX.value)
    if mailbox.status != MailboxStatus.CONNECTED:
        state = "needs to be reconnected" if mailbox.status == MailboxStatus.NEEDS_RECONNECT else "is disconnected"
        raise UserError(f"{mailbox.address} {state}, so nothing can be sent from it. Reconnect it with "
                        "`/outreach connect` first.", field=Field.MAILBOX.value)
    problem = _cap_problem(session, mailbox, sends, now, user.tz)
    if problem:
        raise UserError(problem, field=Field.MAILBOX.value)
    # A provider asked us to wait (Retry-After; not_before_reason says so, or, written before the
    # reason was kept, a hold past the spacing). Spacing alone does not hold a send made by hand;
    # these few emails then push campaign sends back by one spacing; the cap was checked above.
    if mailbox.not_before is not None and mailbox.not_before_reason in (None, "rate_limit") \
            and mailbox.not_before > now + timedelta(seconds=mailbox.min_spacing_seconds):
        raise UserError(f"{PROVIDER_NAME[mailbox.provider]} asked us to slow down; try again in "
                        f"{_minutes((mailbox.not_before - now).total_seconds())}.", field=Field.MAILBOX.value)
    return mailbox


def parse_fields(text: str) -> dict[str, str]:
    """Template fields typed one per line, `company=Acme` or `company: Acme`."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = FIELD_LINE.match(line)
        if match is None:
            raise UserError(f"Line {number} is not a field: write one per line, like company=Acme.",
                            field=Field.FIELDS.value)
        problem = control_problem(match.group(2))
        if problem:
            raise UserError(f"Line {number}: the value of {match.group(1)} contains {problem}: remove it.",
                            field=Field.FIELDS.value)
        found[match.group(1)] = match.group(2)
    return found


def check_edited(subject: str, body: str) -> None:
    """What the recruiter typed is sent exactly as shown, never rendered again: template syntax left
    in it (a placeholder typed by hand) would reach the candidate as braces, so it is refused."""
    for field, text, what in ((Field.SUBJECT, subject, "subject"), (Field.BODY, body, "email")):
        if not text.strip():
            raise UserError(f"The {what} is empty.", field=field.value)
        found = TEMPLATE_SYNTAX.search(text)
        if found:
            raise UserError(f"“{found.group(0)[:60]}” is template syntax, and this {what} is sent exactly as shown: "
                            "replace it with the words the candidate should read.", field=field.value)
    if "\n" in subject or "\r" in subject:
        raise UserError("A subject is one line.", field=Field.SUBJECT.value)
    check_line(subject, what="the subject", field=Field.SUBJECT.value)
    problem = control_problem(body, multiline=True)
    if problem:
        raise UserError(f"The email contains {problem}: remove it.", field=Field.BODY.value)


# -- rendering ------------------------------------------------------------------------------------

def preview_emails(sequence: Sequence, *, samples: Mapping[str, str], from_address: str, from_name: str | None,
                   to_address: str, now: datetime, same_thread: bool = True) -> list[OutgoingEmail]:
    """Every step rendered for the sample candidate. Follow-ups are threaded under step 1 as campaign
    follow-ups are (scheduling/compose.py): In-Reply-To the previous step, References all before it,
    and step 1's subject after "Re: ", so the "[Preview] " mark sits after "Re: " where mail clients
    still thread it. (The provider thread id of step 1 is filled in once step 1 is sent.)"""
    values = templates.candidate_values(SAMPLE_NAME, sample_values(template_variables(sequence.steps), samples))
    steps = sorted(sequence.steps, key=lambda s: s.position)
    first_subject = _render(steps[0], "subject", values)
    emails: list[OutgoingEmail] = []
    for step in steps:
        threaded = same_thread and emails
        references = tuple(e.message_id for e in emails) if threaded else ()
        subject = (f"Re: {PREVIEW_PREFIX}{first_subject}" if threaded
                   else PREVIEW_PREFIX + _render(step, "subject", values))
        emails.append(OutgoingEmail(
            from_address=from_address, from_name=from_name or None, to_address=to_address, subject=subject,
            body=_render(step, "body", values), message_id=new_message_id(from_address),
            in_reply_to=references[-1] if references else None, references=references, date=now))
    return emails


def _render(step: SequenceStep, part: str, values: Mapping[str, object]) -> str:
    try:
        return templates.render(getattr(step, part), values, field=part)
    except templates.TemplateProblem as problem:
        raise templates.TemplateProblem(f"Step {step.position} {part}, {problem.message}. Fix the sequence "
                                        "with `/outreach sequence edit`.", field=problem.field) from None


def _known_candidate(session: Session, user: User, address: str) -> Candidate | None:
    """The newest candidate of the organisation with this address that this user can see (an address
    added by hand is seen only by whoever added it)."""
    return session.scalar(
        select(Candidate).join(CandidateAddress, CandidateAddress.candidate_id == Candidate.id)
        .where(Candidate.organisation_id == user.organisation_id, CandidateAddress.address == address,
               (CandidateAddress.added_by_id.is_(None)) | (CandidateAddress.added_by_id == user.id))
        .order_by(Candidate.id.desc()).limit(1))


def draft_one(session: Session, *, user: User, sequence_id: int, position: int, to_address: str, name: str,
              fields: Mapping[str, str]) -> Draft:
    """The step rendered for this candidate: a saved candidate with this address lends their name and
    fields; the name and fields typed in the form win. Every problem names the form field to fix."""
    address = valid_address(to_address, field=Field.TO.value)
    do_not_contact.refuse_listed(session, user=user, address=address, where="one-off send", field=Field.TO.value)
    check_line(name, what="the name", field=Field.NAME.value)
    sequence = find_sequence(session, user=user, name_or_id=str(sequence_id))
    step = next((s for s in sequence.steps if s.position == position), None)
    if step is None:
        raise UserError(f"'{sequence.name}' has no step {position} any more: choose another.",
                        field=Field.TEMPLATE.value)
    candidate = _known_candidate(session, user, address)
    name = name.strip() or (candidate.name if candidate is not None else "")
    if not name:
        raise UserError("No saved candidate has this address: enter their name.", field=Field.NAME.value)
    values = templates.candidate_values(name, candidate.fields if candidate is not None else {}, fields)
    for variable in template_variables([step]):
        if variable not in values:
            raise UserError(f"Step {position} uses {{{{ {variable} }}}}, and there is no value for it: "
                            f"add a line like {variable}=… here.", field=Field.FIELDS.value)
    try:
        subject, body = _render(step, "subject", values), _render(step, "body", values)
    except templates.TemplateProblem as problem:
        raise UserError(problem.message, field=Field.TEMPLATE.value) from None
    broken = control_problem(subject.strip())  # a saved field's line break, which a subject cannot hold
    if broken:
        raise UserError(f"Step {position}'s subject, written for this candidate, contains {broken} from one of "
                        "their fields: type that field here on one line (field=value).", field=Field.FIELDS.value)
    if len(subject) > MODAL_TEXT_LIMIT or len(body) > MODAL_TEXT_LIMIT:
        raise UserError(f"Step {position} is longer than the {MODAL_TEXT_LIMIT:,} characters a Slack form can "
                        "show for editing, so it cannot be sent from here.", field=Field.TEMPLATE.value)
    return Draft(sequence.id, sequence.name, position, address, name, subject.strip(), body)


# -- sending: queued here as outbound rows, sent by the dispatcher (scheduling.one_off) -------------

@dataclass(frozen=True)
class Queued:
    """Emails written as pending outbound rows, due now, for the dispatcher's `send_now`."""

    ids: tuple[int, ...]
    to_address: str
    from_address: str
    sequence_name: str
    subjects: tuple[str, ...]


Build = Callable[[Session, User, Mailbox], tuple[list[OutgoingEmail], str, int, int | None]]


def _queue(sessions: sessionmaker[Session], *, user_id: int, mailbox_id: int, clock: Clock, kind: OutboundKind,
           build: Build) -> Queued:
    """One write transaction: the sender may send this many from the mailbox now (allowed, connected,
    not held by a provider's Retry-After, room under the cap), every email is built and its headers
    checked, they are counted against the cap (a reservation: two sends racing for the last room
    cannot both pass), and one pending row per email is inserted, each preview step after the one
    before it (follows_id). Message-IDs are made here, before anything is sent."""
    now = clock.now()
    with transaction(sessions, write=True) as session:
        user = session.get(User, user_id)
        assert user is not None
        mailbox = check_sender(session, user=user, mailbox_id=mailbox_id, sends=1, now=now, lock=True)
        emails, label, sequence_id, step = build(session, user, mailbox)
        for email in emails:  # a header the email package cannot write: refused before anything is counted
            try:
                check_headers(email)
            except PermanentFailure as failure:
                raise UserError(f"This email cannot be sent: {failure}. Nothing was sent.") from None
        if len(emails) > 1:  # the whole batch must fit under the cap, not only its first email
            check_sender(session, user=user, mailbox_id=mailbox_id, sends=len(emails), now=now)
        send_counts.add(session, {mailbox.id: len(emails)}, send_counts.hour_of(now))
        ids: list[int] = []
        for position, email in enumerate(emails, start=1):
            row = OutboundMessage(
                kind=kind, enrollment_id=None, mailbox_id=mailbox.id, sender_id=user.id, sequence_id=sequence_id,
                step_position=step if step is not None else position, to_address=email.to_address,
                message_id=email.message_id, in_reply_to=email.in_reply_to,
                references=" ".join(email.references) or None, subject=email.subject, body=email.body,
                follows_id=ids[-1] if ids else None, status=OutboundStatus.PENDING, due_at=now, attempts=0,
                created_at=now)
            session.add(row)
            session.flush()
            ids.append(row.id)
        return Queued(tuple(ids), emails[0].to_address, mailbox.address, label, tuple(e.subject for e in emails))


def queue_preview(sessions: sessionmaker[Session], *, user_id: int, sequence_id: int, mailbox_id: int,
                  samples: Mapping[str, str], clock: Clock, same_thread: bool = True) -> Queued:
    """The whole sequence, now, to the user's own address, rendered for "Alex Sample" with `samples`
    for the other template variables; every subject marked "[Preview] "."""
    def build(session: Session, user: User, mailbox: Mailbox) -> tuple[list[OutgoingEmail], str, int, int | None]:
        sequence = find_sequence(session, user=user, name_or_id=str(sequence_id))
        emails = preview_emails(sequence, samples=samples, from_address=mailbox.address,
                                from_name=mailbox.owner.name, to_address=_own_address(user), now=clock.now(),
                                same_thread=same_thread)
        return emails, sequence.name, sequence.id, None

    return _queue(sessions, user_id=user_id, mailbox_id=mailbox_id, clock=clock, kind=OutboundKind.PREVIEW,
                  build=build)


def queue_one(sessions: sessionmaker[Session], *, user_id: int, draft: Draft, mailbox_id: int,
              clock: Clock) -> Queued:
    """One email, now, exactly as the recruiter last saw and edited it (the draft's subject and body)."""
    check_edited(draft.subject, draft.body)
    to_address = valid_address(draft.to_address, field=Field.TO.value)

    def build(session: Session, user: User, mailbox: Mailbox) -> tuple[list[OutgoingEmail], str, int, int | None]:
        email = OutgoingEmail(from_address=mailbox.address, from_name=mailbox.owner.name or None,
                              to_address=to_address, subject=draft.subject.strip(), body=draft.body,
                              message_id=new_message_id(mailbox.address), date=clock.now())
        return [email], draft.sequence_name, draft.sequence_id, draft.position

    return _queue(sessions, user_id=user_id, mailbox_id=mailbox_id, clock=clock, kind=OutboundKind.ONE_OFF,
                  build=build)


# -- what came of it ------------------------------------------------------------------------------

def _lost_text(address: str, sent: int, total: int) -> str:
    return (f"The connection to {address} was lost, so {_how_many(sent, total)}. Reconnect it with the Reconnect "
            "button in the message the bot sent you (or `/outreach connect`), then try again.")


def _how_many(sent: int, total: int) -> str:
    if sent == 0:
        return "nothing was sent" if total > 1 else "the email was not sent"
    return f"only the first {sent} of {total} emails went out"


def _problem(row: OutboundMessage, mailbox: Mailbox, sent: int, total: int, now: datetime) -> str:
    """Why `row` (the first of its batch that did not go out) did not, in words the recruiter can act
    on. Provider messages never carry credentials (providers/base.py), and only refusals name theirs."""
    who = PROVIDER_NAME[mailbox.provider]
    done = _how_many(sent, total)
    done = done[0].upper() + done[1:]
    error = row.error or ""
    if row.error_kind == "rate_limited":
        wait = (mailbox.not_before - now).total_seconds() if mailbox.not_before is not None else 60
        return f"{who} asked us to slow down; try again in {_minutes(wait)}. {done}."
    if row.error_kind == "reconnect":
        return _lost_text(mailbox.address, sent, total)
    if row.error_kind == "permanent":
        return f"{who} refused the email to {row.to_address}: {error[:300]}. {done}."
    if row.status == OutboundStatus.PENDING or (row.status == OutboundStatus.SENDING and row.claimed_by):
        return (f"{mailbox.address} is held for a moment, so {_how_many(sent, total)} yet: it goes out within "
                "10 minutes, and the bot tells you when it does (or if it cannot).")
    if row.status == OutboundStatus.SENDING or row.error_kind == "unclear":
        return (f"{who} did not answer clearly ({error[:200]}), so the email may or may not have gone out. Look in "
                f"the Sent folder of {mailbox.address} before trying again.")
    if row.error_kind == "do_not_contact":
        return f"{row.to_address} was put on the do-not-contact list before it went out, so {_how_many(sent, total)}."
    if row.error_kind == "not_sent":
        return f"{who} did not take the email to {row.to_address}. {done}: try again."
    return f"{mailbox.address} can no longer send for you, so {_how_many(sent, total)}."


def result(sessions: sessionmaker[Session], queued: Queued, *, clock: Clock) -> DirectSent:
    """What the dispatcher did with the queued rows: what went out, or a UserError saying what did not."""
    with transaction(sessions) as session:
        rows = list(session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(queued.ids))
                                    .order_by(OutboundMessage.id)))
        sent = [r for r in rows if r.status == OutboundStatus.SENT]
        if len(sent) < len(rows):
            stopped = next((r for r in rows if r.status != OutboundStatus.SENT and
                            (r.error_kind is not None or r.status != OutboundStatus.CANCELLED)), None)
            mailbox = session.get(Mailbox, rows[0].mailbox_id)
            assert stopped is not None and mailbox is not None
            raise UserError(_problem(stopped, mailbox, len(sent), len(rows), clock.now()))
        return DirectSent(queued.to_address, queued.from_address, queued.sequence_name, queued.subjects,
                          tuple(r.sent_message_id or r.message_id for r in sent))


# -- recorded by the dispatcher (scheduling.outcomes) ---------------------------------------------

def keep_sent(session: Session, row: OutboundMessage, *, subject: str, now: datetime) -> None:
    """A one-off email that went out, kept (metadata only) so a reply reaches its sender
    (bot.services.replies); a preview, to the recruiter's own address, is not."""
    user = session.get(User, row.sender_id)
    if row.kind != OutboundKind.ONE_OFF or user is None:
        return
    candidate = _known_candidate(session, user, row.to_address)
    session.add(DirectMessage(
        mailbox_id=row.mailbox_id, sender_id=user.id, candidate_id=candidate.id if candidate else None,
        to_address=row.to_address, message_id=row.message_id, sent_message_id=row.sent_message_id,
        provider_message_id=row.provider_message_id, provider_thread_id=row.provider_thread_id,
        subject=subject[:998], sent_at=now))


def audit(session: Session, row: OutboundMessage, *, now: datetime) -> None:
    """One audit entry for a whole send (a one-off, or every step of a preview), written when its last
    row settles: message ids and recipient, never a body."""
    O = OutboundMessage
    chain = [row]
    while chain[0].follows_id is not None:  # back to step 1
        before = session.get(O, chain[0].follows_id)
        if before is None:
            break
        chain.insert(0, before)
    sent = [r for r in chain if r.status == OutboundStatus.SENT]
    user, mailbox = session.get(User, row.sender_id), session.get(Mailbox, row.mailbox_id)
    if not sent or user is None or mailbox is None:
        return
    detail: dict[str, object] = {"sequence_id": row.sequence_id}
    if row.kind == OutboundKind.ONE_OFF:
        detail["step"] = row.step_position
    stopped = next((r.error_kind for r in chain if r.status != OutboundStatus.SENT and r.error_kind), None)
    session.add(AuditEntry(
        organisation_id=user.organisation_id, actor=user.slack_user_id,
        action="preview_sent" if row.kind == OutboundKind.PREVIEW else "email_sent",
        subject_type="mailbox", subject_id=mailbox.id, created_at=now,
        detail={**detail, "to": row.to_address, "from": mailbox.address,
                "message_ids": [r.sent_message_id or r.message_id for r in sent],
                **({"error": stopped} if stopped is not None else {})}))


def settled_text(row: OutboundMessage, mailbox: Mailbox) -> str:
    """What the sender is told when their one-off or preview settles after the command that sent it
    had answered (a crash, an unclear answer checked later, a mailbox held too long)."""
    what = "Your preview" if row.kind == OutboundKind.PREVIEW else f"Your email to {row.to_address}"
    if row.status == OutboundStatus.SENT:
        return f":envelope: {what} went out from {mailbox.address} after all."
    reason = {"held": f"{mailbox.address} was held too long", "reconnect": f"the connection to {mailbox.address} "
              "was lost", "not_sent": "the mail server did not take it"}.get(row.error_kind or "", row.error or "")
    return f":x: {what} was not sent from {mailbox.address} ({reason}). Try again when you are ready."
