"""The end of a campaign's life, and of a candidate's place in one (issue 17 §1):

| what | who | allowed when | what happens |
|---|---|---|---|
| archive | the owner | finished, not yet archived | archived_at set: out of the default lists and of lookups by name (the name is free again); everything it did is kept |
| delete a draft | the owner | draft (never started) | the campaign, its enrollments and its staged uploads are deleted; the candidates stay in the organisation |
| remove a candidate | the owner, an edit share | the candidate has not ended | enrollment → removed (ended); its planned sends cancelled; what was sent and received is kept; a running campaign with nobody left finishes. In a draft (nothing sent) the enrollment is deleted |

A send already claimed by a worker when a removal commits is withdrawn at the dispatcher's last look
(scheduling.last_look: a removed candidate no longer sends) and cancelled, never sent.
Slack-free: the handlers (handlers/campaign_manage.py) redraw or delete the campaign message after
the commit. Each change is written to the audit log.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import UserError
from bot.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    OutboundStatus,
    User,
)
from bot.services import transitions
from bot.services.access import Access, Need, check, find
from bot.services.campaign_marks import mark_stale
from bot.services.campaigns import finish_if_done

# Who may leave a campaign: anyone whose sequence has not ended (paused ones too).
REMOVABLE = transitions.SENDS | {EnrollmentStatus.PAUSED}


def _audit(session: Session, access: Access, action: str, clock: Clock, **detail: object) -> None:
    session.add(AuditEntry(organisation_id=access.campaign.organisation_id, actor=access.user.slack_user_id,
                           action=action, subject_type="campaign", subject_id=access.campaign.id,
                           detail={"name": access.campaign.name, **detail}, created_at=clock.now()))


def _owner_only(access: Access, what: str) -> None:
    if not access.is_owner:
        owner = access.campaign.owner.name or "its owner"
        raise UserError(f"Only {owner}, who owns '{access.campaign.name}', can {what} it.")


# ---- archive ---------------------------------------------------------------------------------------
def archive(session: Session, *, access: Access, clock: Clock) -> int:
    """A finished campaign leaves the lists; its history stays (and `/outreach campaigns archived` shows
    it). Returns its id."""
    _owner_only(access, "archive")
    campaign = access.campaign
    name = campaign.name
    # Guarded: a campaign that stopped being finished meanwhile (a candidate added, a late bounce
    # moving someone on) is not archived.
    archived = session.execute(update(Campaign).where(
        Campaign.id == campaign.id, Campaign.status == CampaignStatus.FINISHED, Campaign.archived_at.is_(None))
        .values(archived_at=clock.now()).execution_options(synchronize_session="fetch")).rowcount == 1
    if not archived:
        session.refresh(campaign, ["status", "archived_at"])
        raise UserError(_not_archivable(campaign, name))
    mark_stale(session, [campaign.id])  # its message now says it is archived, without buttons
    _audit(session, access, "campaign.archived", clock)
    session.flush()
    return campaign.id


def _not_archivable(campaign: Campaign, name: str) -> str:
    if campaign.archived_at is not None:
        return f"'{name}' is archived already."
    if campaign.status == CampaignStatus.DRAFT:
        return (f"'{name}' was never started, so there is nothing to keep: delete the draft instead "
                f"(`/outreach campaign delete {name}`).")
    if campaign.status == CampaignStatus.PAUSED:
        return (f"'{name}' is paused, not finished: resume it, and archive it when every candidate has ended "
                "(replied, bounced, finished or removed). Removing the candidates left also finishes it.")
    return (f"'{name}' is still running: archive it when it finishes (every candidate replied, bounced, finished "
            "or removed). Pause it to stop sending now.")


# ---- delete a draft ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deleted:
    name: str
    candidates: int  # enrollments deleted; the candidates themselves stay
    channel: str | None  # where its Slack message was, to delete after the commit
    ts: str | None


def delete_draft(session: Session, *, access: Access, clock: Clock) -> Deleted:
    """A campaign never started: deleted with its enrollments and staged uploads (foreign keys
    cascade: shares, alerts, a delegation asked for this campaign only). The candidates stay."""
    _owner_only(access, "delete")
    campaign = access.campaign
    name, channel, ts = campaign.name, campaign.status_channel, campaign.status_ts
    # The guard takes the row's lock (PostgreSQL), so a Start committing meanwhile either wins (and
    # this refuses) or waits and then finds nothing to start.
    still_draft = session.execute(update(Campaign).where(Campaign.id == campaign.id,
                                                         Campaign.status == CampaignStatus.DRAFT)
                                  .values(message_version=Campaign.message_version + 1)
                                  .execution_options(synchronize_session=False)).rowcount == 1
    if not still_draft:
        raise UserError(f"'{name}' has started, so what it sent and received is kept: archive it when it "
                        f"finishes (`/outreach campaign archive {name}`), or pause it to stop sending now.")
    candidates = session.scalar(select(func.count()).where(Enrollment.campaign_id == campaign.id)) or 0
    _audit(session, access, "campaign.deleted", clock, candidates=candidates)
    session.flush()
    session.expunge(campaign)  # deleted below in SQL; the identity map must not write it back
    session.execute(delete(Campaign).where(Campaign.id == campaign.id).execution_options(synchronize_session=False))
    return Deleted(name=name, candidates=int(candidates), channel=channel, ts=ts)


# ---- remove a candidate ------------------------------------------------------------------------------
def planned_for(session: Session, enrollment: Enrollment) -> int:
    """How many sends are planned for this candidate (the removal's confirm names them)."""
    return session.scalar(select(func.count()).select_from(OutboundMessage).where(
        OutboundMessage.enrollment_id == enrollment.id, OutboundMessage.status == OutboundStatus.PENDING)) or 0


def find_candidate(session: Session, *, user: User, words: list[str]) -> tuple[Access, Enrollment]:
    """`<campaign> <candidate>` as typed, both names possibly of several words: each split is tried,
    the longest campaign name first, among the campaigns the user may see (access.find)."""
    if len(words) < 2:
        raise UserError("Name the campaign, then the candidate: `/outreach campaign remove Backend Q4 Ana Lima`.")
    for split in range(len(words) - 1, 0, -1):
        try:
            seen = find(session, user=user, name=" ".join(words[:split]))
        except UserError:
            continue
        candidate = " ".join(words[split:]).lower()
        found = list(session.scalars(select(Enrollment).join(Candidate).where(
            Enrollment.campaign_id == seen.campaign.id, func.lower(Candidate.name) == candidate).limit(2)))
        if len(found) == 1:
            return check(session, user=user, campaign=seen.campaign, need=Need.CHANGE), found[0]
        if found:
            raise UserError(f"Two candidates of '{seen.campaign.name}' have that name: use \"Remove from campaign\" "
                            "in the candidate's menu on the campaign message.")
    shown = " ".join(words)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    raise UserError(f"No candidate found in '{shown}': write the campaign's name, then the candidate's, as they "
                    "are shown on the campaign message.")


def remove_candidate(session: Session, *, access: Access, enrollment: Enrollment, clock: Clock) -> int:
    """The candidate leaves the campaign: removed (ended), their planned sends cancelled; what was
    sent to them and what they answered stay. Returns how many planned sends were cancelled."""
    if not access.may(Need.CHANGE):  # the same rule as pausing a candidate
        raise UserError("Only the owner, or a teammate it is shared with to edit, can remove a candidate.")
    name = enrollment.candidate.name
    if enrollment.campaign.status == CampaignStatus.DRAFT:  # nothing sent, nothing to keep: off the list
        _audit(session, access, "campaign.candidate_removed", clock, enrollment=enrollment.id,
               candidate=enrollment.candidate_id, cancelled=0)
        session.expunge(enrollment)  # deleted in SQL; Start would otherwise plan a step for it
        session.execute(delete(Enrollment).where(Enrollment.id == enrollment.id)
                        .execution_options(synchronize_session=False))
        mark_stale(session, [enrollment.campaign_id])
        return 0
    if not transitions.move(session, enrollment, leaving=REMOVABLE, to=EnrollmentStatus.REMOVED,
                            ended_at=clock.now(), status_reason=f"removed by {access.user.name or 'a teammate'}"):
        raise UserError(f"{name} is {enrollment.status.value.replace('_', ' ')}: their sequence has ended already, "
                        "so nothing is planned for them.")
    cancelled = transitions.cancel_planned(session, enrollment.id)
    finish_if_done(session, [enrollment.campaign_id])  # the last one left: the campaign finishes
    _audit(session, access, "campaign.candidate_removed", clock, enrollment=enrollment.id,
           candidate=enrollment.candidate_id, cancelled=cancelled)
    session.flush()
    return cancelled

