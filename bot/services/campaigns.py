"""Campaigns: a sequence run from one mailbox for a set of candidates."""
from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, object_session

from bot import templates
from bot.clock import Clock
from bot.errors import UserError
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    OutboundStatus,
    PauseReason,
    SendPreference,
    Sequence,
    User,
)
from bot.services import access, transitions
from bot.services.addresses import control_problem, valid_address
from bot.services.delegations import may_use
from bot.services.notifications import notify
from bot.rules import when
from bot.services import planner
from bot.services.campaign_marks import mark_stale
from bot.services.away import MOVED_BY_AWAY
from bot.services.time_zones import zone_of
from bot.services.unique_names import ensure_free, flush_named
from bot.services.tracking_settings import check_campaign_switch


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"'{name}' is not a time zone: expected an IANA name such as Europe/Paris",
                        field="timezone") from None
    return name


def create_campaign(
    session: Session,
    *,
    owner: User,
    sequence: Sequence,
    mailbox: Mailbox,
    name: str,
    clock: Clock,
    timezone: str | None = None,
    preference: SendPreference = SendPreference.STARTED,
    specific_time: time | None = None,
    send_days: str = "0123456",
    email_preference: AddressKind = AddressKind.WORK,
    strict_preference: bool = False,
    alert_channel_id: str | None = None,
    same_thread: bool = True,
    track_opens: bool = False,
) -> Campaign:
    if sequence.archived_at is not None:
        raise UserError(f"The sequence '{sequence.name}' was deleted: pick another.", field="sequence")
    if preference == SendPreference.SPECIFIC and specific_time is None:
        raise UserError("Pick the time of day for 'Specific time'.", field="specific_time")
    check_campaign_switch(session, organisation_id=owner.organisation_id, track_opens=track_opens)
    ensure_free(session, Campaign, owner_id=owner.id, name=name.strip() or sequence.name)
    campaign = Campaign(
        organisation_id=owner.organisation_id, owner_id=owner.id, sequence_id=sequence.id,
        mailbox_id=mailbox.id, name=name.strip() or sequence.name, status=CampaignStatus.DRAFT,
        send_preference=preference, specific_time=specific_time,
        timezone=check_timezone(timezone or owner.tz), send_days=send_days,
        email_preference=email_preference, strict_preference=strict_preference,
        alert_channel_id=alert_channel_id, same_thread=same_thread, track_opens=track_opens, created_at=clock.now(),
    )
    session.add(campaign)
    flush_named(session, Campaign, name=campaign.name)  # a concurrent save of the same name: the same refusal
    return campaign


def enroll(session: Session, *, campaign: Campaign, candidates: Iterable[Candidate], clock: Clock) -> list[Enrollment]:
    enrollments = [Enrollment(campaign_id=campaign.id, candidate_id=c.id, created_at=clock.now()) for c in candidates]
    session.add_all(enrollments)
    mark_stale(session, [campaign.id])
    session.flush()
    return enrollments


def start_campaign(session: Session, *, campaign: Campaign, clock: Clock, rng: random.Random) -> int:
    """Start: nothing leaves for 20 minutes (seed 002). Returns how many first steps were planned.
    Refused, with what to fix, while any candidate lacks a field a step needs."""
    from bot.services.template_check import describe, missing_fields, subject_line_breaks

    if campaign.status != CampaignStatus.DRAFT:
        raise UserError(f"'{campaign.name}' has already been started.")
    blocker = resume_blocker(campaign)
    if blocker:
        raise UserError(f"'{campaign.name}' cannot start: {blocker}.")
    _stop_listed(session, campaign, clock)
    enrollments = list(session.scalars(select(Enrollment).where(Enrollment.campaign_id == campaign.id)))
    if not enrollments:
        raise UserError(f"'{campaign.name}' has no candidates yet: add some before starting.")
    _check_limits(campaign)
    missing = missing_fields(session, campaign=campaign)
    if missing:
        raise UserError(f"'{campaign.name}' cannot start: {describe(missing)}. Add the missing fields to those "
                        "candidates (for this campaign, from the candidate's menu) or change the sequence.")
    broken = subject_line_breaks(session, campaign=campaign)
    if broken:
        raise UserError(f"'{campaign.name}' cannot start: a subject is one line, and these fields it reads hold a "
                        f"line break: {describe(broken, verb='reads')}. Put them on one line (for this campaign, "
                        "from the candidate's menu) or leave them out of the subjects.")
    from bot.services.engagement import hold_at_start  # rules of engagement: under "block", conflicts wait

    held = hold_at_start(session, campaign=campaign, now=clock.now()).held
    sending = [e.id for e in enrollments if e.status.sends]  # one paused in the draft waits for its Resume
    if not sending and all(e.status == EnrollmentStatus.DO_NOT_CONTACT for e in enrollments):
        raise UserError(f"'{campaign.name}' cannot start: every candidate in it is on the do-not-contact list "
                        "(`/outreach dnc list`).")
    if not sending and held:
        raise UserError(f"'{campaign.name}' cannot start: every candidate it may send to is with a teammate, and "
                        "your organisation holds them back. Override one from the candidate's menu first.")
    if not sending:
        raise UserError(f"'{campaign.name}' cannot start: every candidate in it is paused. Resume one from the "
                        "candidate's menu first.")
    campaign.status = CampaignStatus.SCHEDULED
    campaign.started_at = clock.now()
    planned = planner.plan_first_steps(session, sending, rng=rng, now=clock.now())
    mark_stale(session, [campaign.id])
    session.flush()
    return planned


def _stop_listed(session: Session, campaign: Campaign, clock: Clock, enrollment: Enrollment | None = None) -> int:
    """Before anything is planned: candidates on the do-not-contact list end as "Do not contact"."""
    from bot.services.do_not_contact import stop_listed  # it ends enrollments with this module's finish_if_done

    return stop_listed(session, campaign_id=campaign.id, organisation_id=campaign.organisation_id, actor=None,
                       where="resume" if campaign.status == CampaignStatus.PAUSED or enrollment else "start",
                       clock=clock, enrollment_id=enrollment.id if enrollment else None)


def _check_limits(campaign: Campaign) -> None:
    """Each step rendered once with sample values: a template that would hang or flood a send (a
    sequence saved before the limits existed) is refused here, naming the step."""
    for step in sorted(campaign.sequence.steps, key=lambda s: s.position):
        for part in ("subject", "body"):
            try:
                templates.check_limits(getattr(step, part), field=part)
            except templates.TemplateProblem as problem:
                raise UserError(f"'{campaign.name}' cannot start: Step {step.position} {part}, {problem.message}. "
                                "Fix the sequence with `/outreach sequence edit`.") from None


PAUSE_REASONS = {
    PauseReason.BY_USER: "paused by you",
    PauseReason.MAILBOX_DISCONNECTED: "its mailbox was disconnected",
    PauseReason.NEEDS_RECONNECT: "its mailbox needs reconnecting",
    PauseReason.DELEGATION_REVOKED: "the mailbox owner revoked the delegation",
}


def resume_blocker(campaign: Campaign) -> str | None:
    """Why a campaign cannot send (again) yet, in words for its owner; None when it can."""
    mailbox = campaign.mailbox
    theirs = mailbox.owner_id != campaign.owner_id
    who = f"{mailbox.owner.name}, its owner, must" if theirs else "you must"
    if mailbox.status == MailboxStatus.NEEDS_RECONNECT:
        return f"the mailbox {mailbox.address} needs reconnecting first: {who} sign in again (`/outreach mailboxes`)"
    if mailbox.status != MailboxStatus.CONNECTED:
        return f"the mailbox {mailbox.address} is disconnected: {who} connect it again (`/outreach connect`)"
    session = object_session(campaign)
    if theirs and session is not None and not may_use(session, user_id=campaign.owner_id, mailbox=mailbox,
                                                      campaign_id=campaign.id):
        return (f"{mailbox.owner.name} no longer lets you send from {mailbox.address}: ask again with "
                f"`/outreach delegate`, or start a new campaign from your own mailbox")
    return None


def pause_campaign(session: Session, *, campaign: Campaign, clock: Clock, by: User | None = None) -> None:
    """Nothing more is claimed from now on (the claim re-checks the campaign's status). `by` is who
    paused it (a teammate, or the hiring manager whose mailbox it sends from); the owner when None."""
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
        raise UserError(f"'{campaign.name}' is {campaign.status.value}: only a running campaign can be paused.")
    campaign.status, campaign.pause_reason, campaign.paused_at = CampaignStatus.PAUSED, PauseReason.BY_USER, clock.now()
    campaign.paused_by_id = by.id if by is not None and by.id != campaign.owner_id else None
    if campaign.paused_by_id is not None:  # a teammate or the mailbox's owner: the owner hears who
        notify(session, user=campaign.owner, kind="campaign_paused", clock=clock,
               dedupe_key=f"campaign_paused:{campaign.id}:{clock.now().timestamp()}",
               text=f":double_vertical_bar: {by.name} paused your campaign *{campaign.name}*. "  # type: ignore[union-attr]
                    "Nothing more is sent until it is resumed (the Resume button on its message).")
    mark_stale(session, [campaign.id])
    session.flush()


def pause_reason(campaign: Campaign, *, viewer_id: int) -> str | None:
    """Why a paused campaign is paused, in words for whoever reads its status."""
    if campaign.pause_reason is None:
        return None
    if campaign.pause_reason == PauseReason.BY_USER:
        by = campaign.paused_by or campaign.owner
        return "paused by you" if by.id == viewer_id else f"paused by {by.name}"
    return PAUSE_REASONS.get(campaign.pause_reason, "paused")


def paused_campaigns(session: Session, user: User) -> list[Campaign]:
    """The paused campaigns the user may resume: their own and those shared with them to edit."""
    return list(session.scalars(select(Campaign).where(
        access.changeable_by(user), Campaign.status == CampaignStatus.PAUSED).order_by(Campaign.paused_at.desc())))


def check_resumable(campaign: Campaign) -> None:
    """A UserError saying why the campaign cannot resume now, if it cannot."""
    if campaign.status != CampaignStatus.PAUSED:
        raise UserError(f"'{campaign.name}' is not paused.")
    blocker = resume_blocker(campaign)
    if blocker:
        raise UserError(f"'{campaign.name}' cannot resume: {blocker}.")


def resume_campaign(session: Session, *, campaign: Campaign, clock: Clock, rng: random.Random) -> int:
    """Resume "from where it left off" (seed 001): steps that fell due meanwhile are re-planned from
    now, so nothing is skipped and nothing fires in a burst. Returns how many were re-planned."""
    check_resumable(campaign)
    _stop_listed(session, campaign, clock)
    now = clock.now()
    sent_any = session.scalar(select(OutboundMessage.id).join(Enrollment).where(
        Enrollment.campaign_id == campaign.id, OutboundMessage.status == OutboundStatus.SENT).limit(1))
    campaign.status = CampaignStatus.ACTIVE if sent_any else CampaignStatus.SCHEDULED
    campaign.pause_reason = campaign.paused_at = campaign.paused_by_id = None
    replanned = plan_again(session, campaign=campaign, now=now, rng=rng)
    mark_stale(session, [campaign.id])
    session.flush()
    return replanned


def _plan_unplanned(session: Session, replanner: planner.Planner, *, campaign_id: int,
                    enrollment_id: int | None = None) -> None:
    """Candidates who may send but have nothing planned (added while paused, or resumed after a
    failed step) get their next step planned by the usual rules."""
    O = OutboundMessage
    planned = select(O.id).where(O.enrollment_id == Enrollment.id,
                                 O.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING]))
    # Locked (PostgreSQL) as reply handling locks them, so a reply committing meanwhile waits for
    # this plan and then cancels it, rather than leave it pending for a candidate who replied.
    query = select(Enrollment).where(Enrollment.campaign_id == campaign_id, Enrollment.ended_at.is_(None),
                                     Enrollment.status.in_(transitions.SENDS), ~planned.exists()
                                     ).with_for_update(of=Enrollment)
    if enrollment_id is not None:
        query = query.where(Enrollment.id == enrollment_id)
    for enrollment in session.scalars(query):
        _plan_next(session, replanner, enrollment)


def _plan_next(session: Session, replanner: planner.Planner, enrollment: Enrollment) -> None:
    position = enrollment.steps_sent + 1
    row = replanner.plan(enrollment, position)
    if row is None:
        return
    O = OutboundMessage
    with session.no_autoflush:  # a step that failed to this address before: one row per step and address
        earlier = session.scalar(select(O).where(
            O.enrollment_id == enrollment.id, O.step_position == position, O.to_address == row.to_address,
            O.status.in_([OutboundStatus.FAILED, OutboundStatus.CANCELLED])))
    if earlier is not None:
        session.expunge(row)
        with session.no_autoflush:  # as before: the caller's planned rows are flushed by the caller
            transitions.reopen(session, earlier, message_id=row.message_id, due_at=row.due_at,
                               window_start=row.window_start, window_end=row.window_end,
                               in_reply_to=row.in_reply_to, references=row.references)


def plan_again(session: Session, *, campaign: Campaign, now: datetime, rng: random.Random,
               enrollment: Enrollment | None = None) -> int:
    """After a pause (of the campaign or one candidate) or a corrected reply: plan the next step of
    whoever has nothing planned, then move every step that is overdue, or due within the grace, to
    the first-send rules from now, so nothing is skipped and nothing goes out in a burst. Planning
    comes first because a step planned after the last send can itself be overdue. Returns how many
    steps were moved."""
    replanner = planner.Planner(session, rng=rng, now=now)
    _plan_unplanned(session, replanner, campaign_id=campaign.id, enrollment_id=enrollment.id if enrollment else None)
    session.flush()
    O = OutboundMessage
    overdue = (select(O, Candidate.time_zone).select_from(O).join(Enrollment).join(Candidate, Candidate.id == Enrollment.candidate_id)
               .where(Enrollment.campaign_id == campaign.id, O.status == OutboundStatus.PENDING,
                      O.due_at < now + when.GRACE))
    if enrollment is not None:
        overdue = overdue.where(O.enrollment_id == enrollment.id)
    rows = session.execute(overdue).all()
    for row, candidate_zone in rows:
        replanner.replan_overdue(row, campaign, candidate_zone)
    return len(rows)


def pause_candidate(session: Session, *, enrollment: Enrollment, clock: Clock) -> None:
    """For when reply tracking missed a reply (seed 002): nothing more goes to this candidate."""
    if not transitions.move(session, enrollment, leaving=transitions.SENDS, to=EnrollmentStatus.PAUSED,
                            status_reason="paused by you"):
        raise UserError(f"{enrollment.candidate.name} is {enrollment.status.value.replace('_', ' ')}: "
                        "nothing is being sent to them.")


def resume_candidate(session: Session, *, enrollment: Enrollment, clock: Clock, rng: random.Random) -> None:
    """Back to where they were; a step that fell due meanwhile is re-planned from now."""
    from bot.services.engagement import HELD  # held back at Start: only an override lets them go on

    if enrollment.status_reason == HELD and not enrollment.engagement_override:
        raise UserError(f"{enrollment.candidate.name} is with a teammate and your organisation holds them back: "
                        "override the rules of engagement from the candidate's menu, with a reason.")
    if not transitions.move(session, enrollment, leaving=[EnrollmentStatus.PAUSED], status_reason=None,
                            to=EnrollmentStatus.IN_PROGRESS if enrollment.steps_sent else EnrollmentStatus.NOT_STARTED):
        raise UserError(f"{enrollment.candidate.name} is not paused.")
    campaign = enrollment.campaign
    if campaign.status == CampaignStatus.DRAFT:
        session.flush()
        return
    if _stop_listed(session, campaign, clock, enrollment):
        return  # ended as "Do not contact": nothing to plan
    plan_again(session, campaign=campaign, now=clock.now(), rng=rng, enrollment=enrollment)
    session.flush()


def edit_candidate_in_campaign(
    session: Session, *, user: User, enrollment: Enrollment, send_to: str | None, new_address: str | None,
    new_kind: AddressKind, use_first: bool, fields: dict[str, str], clock: Clock,
) -> None:
    """Per-campaign changes (seed 002): the address and fields used here change nothing elsewhere.
    An address added by hand is seen only by this recruiter; "use this address first" marks the
    candidate's address for every campaign, as the seed's candidate-level switch does."""
    candidate = enrollment.candidate
    for key, value in fields.items():  # checked before anything changes: a refusal writes nothing
        problem = control_problem(str(value), multiline=True)
        if problem:
            raise UserError(f"The value of {key} contains {problem}: remove it.", field="fields")
    if new_address:
        address = valid_address(new_address, field="new_address")
        if all(a.address != address for a in candidate.addresses):
            candidate.addresses.append(CandidateAddress(
                address=address, kind=new_kind, position=len(candidate.addresses) + 1, added_by_id=user.id))
        send_to = address
    visible = {a.address: a for a in access.visible_addresses(candidate.addresses, user.id)}
    if send_to and send_to not in visible:
        raise UserError("Pick one of the candidate's addresses.", field="send_to")
    if use_first and send_to:
        for address in candidate.addresses:
            address.use_first = address.address == send_to
    chosen = send_to if send_to and send_to != enrollment.address_override else enrollment.address_override
    enrollment.address_override = chosen
    enrollment.fields_override = dict(fields)
    if chosen:  # steps already planned go to the new address
        for row in session.scalars(select(OutboundMessage).where(
                OutboundMessage.enrollment_id == enrollment.id, OutboundMessage.status == OutboundStatus.PENDING)):
            row.to_address = chosen
    mark_stale(session, [enrollment.campaign_id])
    session.flush()


def finish_if_done(session: Session, campaign_ids: Collection[int]) -> None:
    """Campaigns where someone's sequence just ended are Finished once nobody is left in them."""
    # NOT EXISTS stops at a campaign's first open enrollment (ix_enrollments_open); reading them all
    # with GROUP BY cost 400-600 µs a send at 100,000 candidates.
    anyone_left = exists().where(Enrollment.campaign_id == Campaign.id, Enrollment.ended_at.is_(None))
    done = list(session.scalars(update(Campaign).where(
        Campaign.id.in_(sorted(set(campaign_ids))), Campaign.status.in_([CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE]),
        ~anyone_left).values(status=CampaignStatus.FINISHED).returning(Campaign.id)))
    mark_stale(session, done)


def open_campaigns(session: Session, user: User) -> list[Campaign]:
    """The campaigns the user may add candidates to, newest first: not finished, their own or shared to edit."""
    return list(session.scalars(select(Campaign).where(
        access.changeable_by(user), Campaign.status != CampaignStatus.FINISHED)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())))


@dataclass(frozen=True)
class PlannedSend:
    candidate: str
    step: int
    to_address: str | None  # None: an address someone else added by hand (access.shows)
    due_at: datetime
    bounced: tuple[str, ...] = ()  # the candidate's addresses that bounced, as the viewer may see them
    moved: bool = False  # the daily cap held it past its window: due_at is its next allowed window's
    back_from_away: bool = False  # held for an out-of-office candidate's return (bot.services.away)
    time_zone: str | None = None  # the candidate's own zone, whose time the send follows; None: the campaign's


def candidate_zones(session: Session, campaign: Campaign, *, limit: int = 3) -> list[str]:
    """The candidates' own time zones in the campaign (the first `limit`, by name), for its preview."""
    return list(session.scalars(
        select(Candidate.time_zone).distinct().join(Enrollment, Enrollment.candidate_id == Candidate.id)
        .where(Enrollment.campaign_id == campaign.id, Candidate.time_zone.is_not(None))
        .order_by(Candidate.time_zone).limit(limit)))


def upcoming_sends(session: Session, campaign: Campaign, *, viewer_id: int,
                   limit: int = 10) -> tuple[list[PlannedSend], int]:
    """The next planned sends, soonest first, and how many are planned in all, as `viewer_id` may see them.
    A paused candidate's planned step is not next: it waits for a resume (and is planned again from
    then if its time passed meanwhile)."""
    O = OutboundMessage
    base = (select(Candidate.id, Candidate.name, O.step_position, O.to_address, O.due_at, Enrollment.tried_addresses,
                   O.error, Candidate.time_zone).select_from(O)
            .join(Enrollment, Enrollment.id == O.enrollment_id).join(Candidate, Candidate.id == Enrollment.candidate_id)
            .where(Enrollment.campaign_id == campaign.id, O.status == OutboundStatus.PENDING,
                   Enrollment.status.in_(transitions.SENDS)))
    rows = session.execute(base.order_by(O.due_at).limit(limit)).all()
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    hidden = access.hidden_addresses(session, candidate_ids=[r[0] for r in rows], viewer_id=viewer_id)
    return [PlannedSend(name, step, None if (candidate_id, to) in hidden else to, due,
                        bounced=tuple(a for a in tried or () if (candidate_id, a) not in hidden),
                        moved=note == planner.MOVED_BY_CAP, back_from_away=note == MOVED_BY_AWAY, time_zone=zone)
            for candidate_id, name, step, to, due, tried, note, zone in rows], total


def preview_plan(session: Session, campaign: Campaign, *, now: datetime, rng: random.Random,
                 candidate_zone: str | None = None) -> list[when.PlannedStep]:
    """What starting the campaign now would plan for one candidate (for a campaign not started yet),
    in the campaign's zone or, given, a candidate's own."""
    steps = sorted(campaign.sequence.steps, key=lambda s: s.position)
    return when.plan(when.Preference(campaign.send_preference.value), zone_of(campaign.timezone, candidate_zone), now,
                     [s.delay_days for s in steps[1:]], rng, specific=campaign.specific_time,
                     calendar=planner.calendar_of(session, campaign))
