"""Campaign views: when it sends, the campaign modal and message, candidates, resume."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DividerBlock,
    EmailInputElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.models import CampaignStatus, EnrollmentStatus
from bot.services.campaign_lifecycle import REMOVABLE
from bot.services.engagement import HELD
from bot.services.campaign_list import SHOWS, AdminLine, CampaignPage
from bot.services.campaign_status import STATUS_LABELS, CampaignStatusView, CandidateLine, Wait
from bot.services.access import Role
from bot.services.campaigns import PlannedSend
from bot.services.time_zones import follows
from handlers.ids import Action, Callback
from handlers.views.open_tracking import track_opens_blocks
from bot.rules.when import PlannedStep
from handlers.payloads import MessagePage, CandidateChoice, Id, Offset, ShareTarget, UploadTarget
from bot.wording import agrees, counted


def _at(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d %b %H:%M}"


def _send_at(send: PlannedSend, zone: ZoneInfo) -> str:
    """A planned send's time in the zone it follows, saying whose: "Tue 08 Dec 09:12 (candidate's
    time, Europe/Berlin)" or "… (campaign's time)"."""
    own = ZoneInfo(send.time_zone) if send.time_zone else zone
    return f"{_at(send.due_at, own)} ({follows(send.time_zone)})"


def _sent_to(address: str | None, bounced: Sequence[str]) -> str:
    """Where a candidate is written to, and the addresses that bounced before it."""
    if not bounced:
        return address or ""
    gone = ", ".join(f"~{a}~" for a in bounced) + " bounced"
    return f"{address}, current; {gone}" if address else gone


WAIT_WORDS = {
    "spacing": lambda w, at: f"{w.mailbox} waits {w.number} seconds between emails (its spacing): the next one can "
                             f"leave at {at}.",
    "daily_cap": lambda w, at: f"{w.mailbox} reached its daily cap of {counted(w.number, 'email')} in 24 hours: sending "
                               f"resumes at {at}. A follow-up held past its window moves to its next one.",
    "rate_limit": lambda w, at: f"{w.detail} asked us to slow down (its rate limit): sending from {w.mailbox} resumes "
                                f"at {at}.",
    "held": lambda w, at: f"{w.mailbox} is waiting until {at}.",
    "send_days": lambda w, at: f"No emails go out on {w.detail} (the campaign's send days and holidays): the next ones "
                               f"wait for {at}.",
    "paused": lambda w, at: f"The campaign is paused ({w.detail}): nothing is sent until it is resumed.",
}
WAIT_ICONS = {"send_days": ":calendar:", "paused": ":double_vertical_bar:"}


def when_blocks(*, name: str, status: str, zone: ZoneInfo, sends: Sequence[PlannedSend], total: int,
                preview: Sequence[PlannedStep] | None = None, waits: Sequence[Wait] = (),
                own_previews: Sequence[tuple[str, Sequence[PlannedStep]]] = ()) -> list[Block]:
    """`own_previews`: the draft's plan for candidates with their own time zone, one per zone."""
    blocks: list[Block] = [HeaderBlock(text=f"When {name[:120]} sends")]
    if preview is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"*{name}* is not started. Started now, a candidate's emails would go out "
                 f"(campaign's time):\n{_preview_lines(preview, zone)}")))
        for own, steps in own_previews:
            blocks.append(SectionBlock(text=MarkdownTextObject(
                text=f"A candidate in {own} (candidate's time):\n{_preview_lines(steps, ZoneInfo(own))}")))
    elif not sends:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{name}* ({status}) has no sends planned.")))
    else:
        lines = "\n".join(f"{_send_at(s, zone)} · step {s.step} · {s.candidate}"
                          + (f" ({_sent_to(s.to_address, s.bounced)})" if s.to_address or s.bounced else "")
                          + (" · moved to its next window: the daily cap held it" if s.moved else "")
                          + (" · waits for their return from out of office" if s.back_from_away else "")
                          for s in sends)
        more = f"\n…and {total - len(sends)} more." if total > len(sends) else ""
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"*{name}* ({status}): the next {len(sends)} of {total} planned sends\n{lines}{more}"[:3000])))
    for wait in waits:
        words = WAIT_WORDS[wait.kind](wait, _at(wait.until, zone) if wait.until else "")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"{WAIT_ICONS.get(wait.kind, ':hourglass:')} {words}")))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"Times in {zone.key} (the campaign's), unless a send follows the candidate's own time.")]))
    return blocks


def _preview_lines(preview: Sequence[PlannedStep], zone: ZoneInfo) -> str:
    return "\n".join(f"Step {p.step}: {_at(p.send_at, zone)} (window {_at(p.window.start, zone)}"
                     f"–{p.window.end.astimezone(zone):%H:%M})" for p in preview)


# ---- the campaign modal ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignChoices:
    sequences: list[tuple[int, str]]  # id, name
    mailboxes: list[tuple[int, str]]  # id, label ("rita@acme.example" or "omar@… (Omar's, delegated)")
    timezone: str  # the user's Slack time zone: the default
    tracking_allowed: bool = False  # the organisation allows open tracking: the switch is offered


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
PREFERENCES = [("started", "When the campaign is started"), ("specific", "At a specific time"),
               ("best", "At the best time (mornings and late afternoons)")]
ADDRESS_KINDS = [("work", "Work email"), ("personal", "Personal email")]


def _options(pairs: Sequence[tuple[object, str]]) -> list[Option]:
    return [Option(value=str(value), label=label[:75]) for value, label in pairs]


def _field(block: str, label: str, element: Any, *, optional: bool = False, hint: str | None = None) -> InputBlock:
    return InputBlock(block_id=block, label=label, element=element, optional=optional, hint=hint)


@dataclass(frozen=True)
class CampaignInitial:
    """An existing campaign's settings, to edit: the modal shows them and saves them (Callback.CAMPAIGN_EDIT)."""

    campaign_id: int
    name: str
    sequence_id: int
    mailbox_id: int
    preference: str
    specific_time: str | None  # "HH:MM"
    timezone: str
    send_days: str  # "01234"
    holidays: str  # "2026-12-24, 2026-12-25"
    email_preference: str
    strict: bool
    alert_channel: str | None
    same_thread: bool
    started: bool  # its pending sends are re-planned on Save
    sources: str | None  # why the sequence and mailbox are not offered (then `sources_shown` says which), or None
    sources_shown: str = ""
    organisation_holidays: str = ""
    track_opens: bool = False


def _initial(options: Sequence[Option], value: object) -> Option | None:
    return next((o for o in options if o.value == str(value)), None)


def _sources_blocks(choices: CampaignChoices, initial: CampaignInitial | None, F: str) -> list[Block]:
    """The sequence and mailbox selects, or (an edit where they are fixed) what they are and why."""
    if initial is not None and initial.sources is not None:
        return [SectionBlock(text=MarkdownTextObject(text=f"{initial.sources_shown}\n_{initial.sources}_"[:3000]))]
    sequences, mailboxes = _options(choices.sequences), _options(choices.mailboxes)
    return [
        _field("sequence", "Sequence", StaticSelectElement(action_id=F, options=sequences[:100], initial_option=(
            initial and _initial(sequences[:100], initial.sequence_id)) or sequences[0])),
        _field("mailbox", "Send from", StaticSelectElement(action_id=F, options=mailboxes[:100], initial_option=(
            initial and _initial(mailboxes[:100], initial.mailbox_id)) or mailboxes[0])),
    ]


def campaign_modal(choices: CampaignChoices, initial: CampaignInitial | None = None) -> View:
    """The campaign modal: empty to create one, or filled with `initial` to edit it."""
    preferences, kinds, days = _options(PREFERENCES), _options(ADDRESS_KINDS), _options(enumerate(WEEKDAYS))
    same_thread = Option(value="yes", label="Send follow-ups in the same email thread")
    strict = Option(value="yes", label="If the preferred address type isn't available, don't send to other types")
    F = Action.CAMPAIGN_FIELD.value
    chosen_days = [d for d in days if initial is None or d.value in initial.send_days]
    blocks: list[Block] = []
    if initial is not None and initial.started:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
            "Changing when it sends (time, time zone, days, holidays) re-plans the emails not sent yet by the same "
            "rules, spread out, none sooner than 20 minutes from now. Emails already sent or being sent stay as "
            "they are."))]))
    blocks += [
        _field("name", "Campaign name", PlainTextInputElement(action_id=F, max_length=200,
                                                              initial_value=initial.name if initial else None,
                                                              placeholder="Backend engineers, Q4")),
        *_sources_blocks(choices, initial, F),
        _field("preference", "When to send", RadioButtonsElement(action_id=F, options=preferences, initial_option=(
            initial and _initial(preferences, initial.preference)) or preferences[0])),
        _field("specific_time", "Specific time", TimePickerElement(
            action_id=F, initial_time=initial.specific_time if initial else None), optional=True,
               hint="Only for 'At a specific time': the first emails go out between this time and 20 minutes later."),
        _field("timezone", "Time zone", PlainTextInputElement(
            action_id=F, initial_value=initial.timezone if initial else choices.timezone),
               hint="An IANA name such as Europe/Paris." + ("" if initial else " Yours from Slack is filled in.")),
        _field("send_days", "Send on", CheckboxesElement(action_id=F, options=days, initial_options=chosen_days or None)),
    ]
    if initial is not None:
        blocks.append(_field("holidays", "Holidays (no sends on these dates)", PlainTextInputElement(
            action_id=F, initial_value=initial.holidays or None, placeholder="2026-12-24, 2026-12-25"), optional=True,
            hint=("Dates as YYYY-MM-DD, separated by commas. The organisation's holidays apply too: "
                  + (initial.organisation_holidays or "none yet") + ".")[:150]))
    blocks += [
        _field("email_preference", "Send to the candidate's", RadioButtonsElement(
            action_id=F, options=kinds, initial_option=(initial and _initial(kinds, initial.email_preference)) or kinds[0])),
        _field("strict", "Address type", CheckboxesElement(
            action_id=F, options=[strict], initial_options=[strict] if initial and initial.strict else None), optional=True),
        _field("alert_channel", "Alert channel for replies and bounces",
               ConversationSelectElement(action_id=F, filter=ConversationFilter(include=["public", "private"]),
                                         initial_conversation=initial.alert_channel if initial else None),
               optional=True, hint="Invite @Outreach to the channel first."),
        _field("same_thread", "Follow-ups", CheckboxesElement(
            action_id=F, options=[same_thread],
            initial_options=[same_thread] if initial is None or initial.same_thread else None), optional=True),
        *track_opens_blocks(allowed=choices.tracking_allowed, on=bool(initial and initial.track_opens), action_id=F),
    ]
    if initial is not None:
        return View(type="modal", callback_id=Callback.CAMPAIGN_EDIT.value, title="Edit campaign", submit="Save",
                    close="Cancel", private_metadata=Id(id=initial.campaign_id).dump(), blocks=blocks)
    return View(type="modal", callback_id=Callback.CAMPAIGN_NEW.value, title="New campaign", submit="Create",
                close="Cancel", blocks=blocks)


# ---- the campaign message ------------------------------------------------------------------------
CAMPAIGN_STATUS = {"draft": ":memo: Draft", "scheduled": ":hourglass_flowing_sand: Scheduled",
                   "active": ":arrow_forward: Active", "paused": ":double_vertical_bar: Paused",
                   "finished": ":checkered_flag: Finished"}
ARCHIVED = ":file_cabinet: Archived"


def _button(text: str, action: Action, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action.value, value=value, style=style)


def _candidate_block(line: CandidateLine, zone: ZoneInfo, may_change: bool) -> SectionBlock:
    """A candidate's line and its menu; `may_change` is False for a view-only share and an archived campaign."""
    text = f"*{line.name}* · {line.label}"
    if line.status == EnrollmentStatus.REPLIED and line.address:
        text += f" · replied from {line.address}"
        if line.bounced:
            text += f" · {_sent_to(None, line.bounced)}"
    elif line.address or line.bounced:
        text += f" · {_sent_to(line.address, line.bounced)}"
    if line.next_due:
        text += f" · next {_at(line.next_due, zone)}"
    if line.reason and line.status == EnrollmentStatus.PAUSED:
        text += f"\n_{line.reason}_"
    menu = []  # none for a view-only share or the mailbox's owner
    if may_change and line.status.sends:
        menu.append(Option(value=CandidateChoice(action="pause", enrollment=line.enrollment_id).dump(), label="Pause this candidate"))
    if may_change and line.status == EnrollmentStatus.PAUSED and line.reason == HELD:  # rules of engagement
        menu.append(Option(value=CandidateChoice(action="override", enrollment=line.enrollment_id).dump(),
                           label="Override: contact them anyway"))
    elif may_change and line.status == EnrollmentStatus.PAUSED:
        menu.append(Option(value=CandidateChoice(action="resume", enrollment=line.enrollment_id).dump(), label="Resume this candidate"))
    if may_change and (line.status.sends or line.status == EnrollmentStatus.PAUSED):
        menu.append(Option(value=CandidateChoice(action="edit", enrollment=line.enrollment_id).dump(), label="Address and fields for this campaign"))
    if may_change and line.status in REMOVABLE:  # confirmed in a modal (handlers/campaign_manage.py)
        menu.append(Option(value=CandidateChoice(action="remove", enrollment=line.enrollment_id).dump(), label="Remove from campaign"))
    return SectionBlock(text=MarkdownTextObject(text=text), accessory=OverflowMenuElement(
        action_id=Action.CANDIDATE_MENU.value, options=menu) if menu else None)


ROLE_NOTE = {Role.EDITOR: "shared with you to edit", Role.VIEWER: "shared with you to view",
             Role.MAILBOX_OWNER: "it sends from your mailbox, so you can pause it"}
SHARES_SHOWN = 8  # each share is a block with its Remove button; a message holds 50 blocks


def _share_blocks(view: CampaignStatusView) -> list[Block]:
    """Whom the owner shared the campaign with, each with Remove (only the owner's view has shares)."""
    if not view.shares:
        return []
    blocks: list[Block] = [ContextBlock(elements=[MarkdownTextObject(
        text=f"Shared with {counted(len(view.shares), 'teammate')}. `/outreach share {view.name[:60]} @name view|edit` "
             "adds one.")])]
    for share in view.shares[:SHARES_SHOWN]:
        blocks.append(SectionBlock(
            text=MarkdownTextObject(text=f"<@{share.slack_user_id}> · can {share.level.value}"),
            accessory=ButtonElement(text="Remove", action_id=Action.SHARE_REVOKE.value,
                                    value=ShareTarget(campaign=view.id, user=share.user_id).dump())))
    if len(view.shares) > SHARES_SHOWN:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"…and {len(view.shares) - SHARES_SHOWN} more: `/outreach unshare {view.name[:60]} @name` removes one.")]))
    return blocks


def campaign_blocks(view: CampaignStatusView) -> list[Block]:
    zone = ZoneInfo(view.timezone)
    status = ARCHIVED if view.archived else CAMPAIGN_STATUS[view.status.value]
    if view.pause_reason:
        status += f" ({view.pause_reason})"
    summary = (f"{status} · sequence *{view.sequence}* ({counted(view.steps, 'step')}) · from {view.mailbox}"
               + (f" · alerts in <#{view.alert_channel}>" if view.alert_channel else ""))
    counts = " · ".join(f"{STATUS_LABELS[s]}: {view.counts[s]}" for s in STATUS_LABELS if view.counts.get(s))
    blocks: list[Block] = [HeaderBlock(text=view.name[:150]), SectionBlock(text=MarkdownTextObject(text=summary)),
                           ContextBlock(elements=[MarkdownTextObject(
                               text=counted(view.total, 'candidate') + (f": {counts}" if counts else ""))])]
    if view.role != Role.OWNER:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Run by {view.owner} · {ROLE_NOTE[view.role]}")]))
    value = Id(id=view.id).dump()
    buttons: list[ButtonElement] = []  # only what the viewer may do (access.py); a view-only share has none
    if view.status == CampaignStatus.DRAFT and view.may_change:
        buttons.append(ButtonElement(
            text="Start sequence for all", action_id=Action.CAMPAIGN_START.value, value=value, style="primary",
            confirm=ConfirmObject(title="Start this campaign?", confirm="Start", deny="Not yet", text=(
                f"The first emails go to {counted(view.total, 'candidate')} from {view.mailbox} no earlier than 20 minutes "
                "from now, so you can still pause."))))
    elif view.status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE) and view.may_pause:
        buttons.append(_button("Pause", Action.CAMPAIGN_PAUSE, value))
    elif view.status == CampaignStatus.PAUSED and view.may_change:
        buttons.append(_button("Resume", Action.CAMPAIGN_RESUME, value, "primary"))
    if view.may_change:
        buttons.append(_button("Add candidates", Action.CAMPAIGN_ADD_CANDIDATES, value))
        buttons.append(_button("Edit", Action.CAMPAIGN_EDIT, value))  # the owner and edit-shares (access.Need.CHANGE)
    buttons += _lifecycle_buttons(view, value)
    if view.archived:  # history only: nothing left to do on it
        buttons = []
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text="Archived: kept with its history. `/outreach campaigns archived` lists it.")]))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    blocks += _share_blocks(view)
    if view.candidates:
        blocks.append(DividerBlock())
        blocks += [_candidate_block(line, zone, view.may_change and not view.archived) for line in view.candidates]
    if view.pages > 1:
        pager = []  # action ids differ within a block: CAMPAIGN_PAGE + ".previous" / ".next"
        if view.page > 0:
            pager.append(ButtonElement(text="Previous", action_id=f"{Action.CAMPAIGN_PAGE.value}.previous",
                                       value=MessagePage(campaign=view.id, page=view.page - 1).dump()))
        if view.page < view.pages - 1:
            pager.append(ButtonElement(text="Next", action_id=f"{Action.CAMPAIGN_PAGE.value}.next",
                                       value=MessagePage(campaign=view.id, page=view.page + 1).dump()))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Page {view.page + 1} of {view.pages}")]))
        blocks.append(ActionsBlock(elements=pager))
    if view.next_sends:
        lines = "\n".join(f"{_send_at(s, zone)} · step {s.step} · {s.candidate}" for s in view.next_sends)
        more = f" (of {view.planned} planned)" if view.planned > len(view.next_sends) else ""
        title = "Planned sends, on hold while paused" if view.status == CampaignStatus.PAUSED else "Next sends"
        blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=f"*{title}*{more}\n{lines}")),
                   ContextBlock(elements=[MarkdownTextObject(
                       text=f"Times in {zone.key} (the campaign's), unless a send follows the candidate's own time.")])]
    return blocks


def _lifecycle_buttons(view: CampaignStatusView, value: str) -> list[ButtonElement]:
    """The owner's end-of-life buttons: Archive a finished campaign, Delete a draft (after a confirm)."""
    if view.role != Role.OWNER or view.archived:
        return []
    if view.status == CampaignStatus.FINISHED:
        return [_button("Archive", Action.CAMPAIGN_ARCHIVE, value)]
    if view.status == CampaignStatus.DRAFT:
        return [ButtonElement(
            text="Delete draft", action_id=Action.CAMPAIGN_DELETE.value, value=value, style="danger",
            confirm=ConfirmObject(title="Delete this draft?", confirm="Delete", deny="Keep it", style="danger", text=(
                f"*{view.name[:100]}* and its list of {counted(view.total, 'candidate')} are deleted. The candidates "
                "stay in your organisation, for other campaigns.")))]
    return []


def _mrkdwn_escaped(text: str) -> str:
    """A name shown in mrkdwn: Slack reads &, < and > as markup unless escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SHOW_LABELS = {"": "All but archived", **{show: show.capitalize() for show in SHOWS}}


def _kept(page: CampaignPage) -> str:
    """The filter in words: "" for the default list, " archived" / " paused"…"""
    return f" {page.show}" if page.show else ""


def campaign_list_text(page: CampaignPage) -> str:
    if page.total:
        return f"Your{_kept(page)} campaigns {page.first}–{page.last} of {page.total}"
    return f"You have no{_kept(page)} campaigns." if page.show else "You have no campaigns yet."


def _filter(page: CampaignPage) -> StaticSelectElement:
    """Which campaigns the list keeps; a pick redraws it (handlers/campaign_manage.py)."""
    options = [Option(value=show or "all", label=label) for show, label in SHOW_LABELS.items()]
    return StaticSelectElement(action_id=Action.CAMPAIGN_LIST_FILTER.value, options=options,
                               initial_option=options[[*SHOW_LABELS].index(page.show or "")])


def campaign_list_blocks(page: CampaignPage) -> list[Block]:
    """One page of the person's campaigns (a block each: status and candidates by status), the count
    ("Campaigns 1–20 of 57") with the filter beside it, and Previous / Next, whose values are offsets
    (and the filter) the handler re-checks."""
    if not page.total and not page.show:
        return [SectionBlock(text=MarkdownTextObject(
            text="You have no campaigns yet. Create one with `/outreach campaign new`."), accessory=_filter(page))]
    if not page.total:
        return [SectionBlock(text=MarkdownTextObject(text=f"You have no{_kept(page)} campaigns."),
                             accessory=_filter(page))]
    title = f"{page.show.capitalize()} campaigns" if page.show else "Campaigns"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
        text=f"*{title} {page.first}–{page.last} of {page.total}*, the newest first"), accessory=_filter(page))]
    for campaign in page.campaigns:
        status = (f"{ARCHIVED} · #{campaign.id}" if campaign.archived else CAMPAIGN_STATUS[campaign.status.value]) \
            + (f" ({campaign.pause_reason})" if campaign.pause_reason else "")
        counts = " · ".join(f"{STATUS_LABELS[s]}: {campaign.counts[s]}" for s in STATUS_LABELS
                            if campaign.counts.get(s))
        people = f"{campaign.total} candidate{'' if campaign.total == 1 else 's'}" + (f": {counts}" if counts else "")
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=f"*{_mrkdwn_escaped(campaign.name[:200])}* · {status}"
                 + (f" · {_mrkdwn_escaped(campaign.owner[:100])}'s" if campaign.owner else "") + f"\n{people}")))
    pager = []  # action ids differ within the block: CAMPAIGN_LIST_PAGE + ".previous" / ".next"
    if page.previous_offset is not None:
        pager.append(ButtonElement(text="Previous", action_id=f"{Action.CAMPAIGN_LIST_PAGE.value}.previous",
                                   value=Offset(offset=page.previous_offset, show=page.show).dump()))
    if page.next_offset is not None:
        pager.append(ButtonElement(text="Next", action_id=f"{Action.CAMPAIGN_LIST_PAGE.value}.next",
                                   value=Offset(offset=page.next_offset, show=page.show).dump()))
    if pager:
        blocks.append(ActionsBlock(elements=pager))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
        "`/outreach status &lt;number&gt;` shows an archived one in full." if page.show == "archived"
        else "`/outreach status &lt;campaign&gt;` shows one in full."))]))
    return blocks


# ---- candidates ----------------------------------------------------------------------------------
def candidates_modal(campaign_id: int, campaign_name: str) -> View:
    F = Action.CAMPAIGN_FIELD.value
    return View(type="modal", callback_id=Callback.CANDIDATES_ADD.value, title="Add candidates", submit="Read",
                close="Cancel", private_metadata=Id(id=campaign_id).dump(), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=(
                        f"Candidates for *{campaign_name[:100]}*. Upload a CSV or paste rows from a spreadsheet. "
                        "The first row names the columns: `name` (or `first name`, `last name`), the email columns "
                        "in order of relevancy (`work email`, `personal email`, `other email`, `email`), and any "
                        "field your templates use, such as `company`. Nothing is added until you confirm."))),
                    InputBlock(block_id="file", label="CSV file", optional=True,
                               element=FileInputElement(action_id=F, filetypes=["csv", "txt"], max_files=1)),
                    InputBlock(block_id="paste", label="Or paste rows", optional=True, element=PlainTextInputElement(
                        action_id=F, multiline=True,
                        placeholder="name, work email, personal email, company\nAna Lima, ana@acme.com, , Acme")),
                ])


@dataclass(frozen=True)
class UploadSummary:
    upload_id: int
    source: str
    good: int
    problems: list[tuple[int, str]]  # line, message
    merged: list[str]
    encoding: str
    engagement: list[Block] = field(default_factory=list)  # who a teammate has (handlers/views/engagement.py)


CHOICES_MAX = 100  # Slack's limit on a static_select's options


def upload_blocks(summary: UploadSummary, campaigns: Sequence[tuple[int, str]]) -> list[Block]:
    """What was read, every problem by line, and where the rows can go (`campaigns`: id and name, the
    newest first). One campaign: one "Add N to <campaign>" button. Several: a select of them (Slack
    asks to confirm the pick), since buttons would share an action_id in one block, which Slack
    refuses, and 25 of them at most fit in a block. A select holds 100 options: past that, the newest
    100 are offered and the message says how to reach the others."""
    text = f"*{summary.source[:100]}*: {counted(summary.good, 'candidate')} ready to add."
    if summary.merged:
        text += f" {counted(len(summary.merged), 'duplicate row')} merged."
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    if summary.problems:
        shown = "\n".join(f"• line {line}: {message}" for line, message in summary.problems[:20])
        more = f"\n…and {len(summary.problems) - 20} more." if len(summary.problems) > 20 else ""
        blocks.append(SectionBlock(text=MarkdownTextObject(text=(
            f":warning: {counted(len(summary.problems), 'row')} {agrees(len(summary.problems), 'has', 'have')} problems and will not be added; fix them in the file "
            f"and upload it again:\n{shown}{more}")[:3000])))
    if summary.merged:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="; ".join(summary.merged[:10])[:1900])]))
    blocks += summary.engagement
    elements: list[Any] = []
    if summary.good and len(campaigns) == 1:
        (cid, name), = campaigns
        elements.append(_button(f"Add {summary.good} to {name}"[:75], Action.UPLOAD_CONFIRM,
                                UploadTarget(upload=summary.upload_id, campaign=cid).dump(), "primary"))
    elif summary.good and campaigns:
        elements.append(StaticSelectElement(
            action_id=Action.UPLOAD_CHOOSE.value, placeholder=f"Add {summary.good} to…",
            options=[Option(value=UploadTarget(upload=summary.upload_id, campaign=cid).dump(), label=name[:75])
                     for cid, name in campaigns[:CHOICES_MAX]],
            confirm=ConfirmObject(
                title=f"Add {counted(summary.good, 'candidate')}?", confirm=f"Add {summary.good}", deny="Pick again",
                text=("They go to the campaign you picked. In a campaign that is already running, each one's "
                      "first email is planned at once, none sooner than 20 minutes from now."))))
    elements.append(_button("Discard", Action.UPLOAD_DISCARD, str(summary.upload_id)))
    blocks.append(ActionsBlock(elements=elements))
    notes = []
    if summary.good and len(campaigns) > CHOICES_MAX:
        notes.append(f"Your {CHOICES_MAX} newest open campaigns are listed, of {len(campaigns)}. For an older one, "
                     "press *Add candidates* on its campaign message (`/outreach status &lt;campaign&gt;` shows it) and "
                     "upload the file there.")
    if summary.good and not campaigns:
        notes.append("You have no campaign to add them to: create one with `/outreach campaign new`, then upload "
                     "again.")
    elif summary.good:
        notes.append("Rows not added within a day are deleted.")
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=note)]) for note in notes]
    return blocks


def candidate_modal(*, enrollment_id: int, name: str, addresses: Sequence[tuple[str, str]],
                    send_to: str | None, fields: dict[str, str], current: str | None = None,
                    bounced: Sequence[str] = ()) -> View:
    """`current`: the address the candidate is written to now; `bounced`: those that bounced."""
    F = Action.CAMPAIGN_FIELD.value

    def label(address: str, kind: str) -> str:
        state = ", bounced" if address in bounced else ", current" if address == current else ""
        return f"{address} ({kind}{state})"

    options = _options([(address, label(address, kind)) for address, kind in addresses])
    initial = next((o for o in options if o.value == send_to), None)
    kinds = _options([("work", "Work"), ("personal", "Personal"), ("other", "Other")])
    field_text = "\n".join(f"{key}: {value}" for key, value in fields.items())
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=(
        f"Changes for *{name[:100]}* in this campaign only: other campaigns keep the candidate as it is.")))]
    if current or bounced:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Written to: {_sent_to(current, bounced)}"[:3000])]))
    if options:
        blocks.append(_field("send_to", "Send to", StaticSelectElement(action_id=F, options=options[:100],
                                                                       initial_option=initial), optional=True))
    blocks += [
        _field("new_address", "Add an address (only you will see it)", EmailInputElement(action_id=F), optional=True),
        _field("new_kind", "Its type", StaticSelectElement(action_id=F, options=kinds, initial_option=kinds[0])),
        _field("use_first", "Use this address first", CheckboxesElement(action_id=F, options=[Option(
            value="yes", label="Always use this address first for this candidate, in every campaign")]),
            optional=True),
        _field("fields", "Template fields for this campaign", PlainTextInputElement(
            action_id=F, multiline=True, initial_value=field_text or None, placeholder="company: Acme"),
            optional=True, hint="One `name: value` per line."),
    ]
    return View(type="modal", callback_id=Callback.CANDIDATE_EDIT.value, title="Candidate", submit="Save",
                close="Cancel", private_metadata=Id(id=enrollment_id).dump(), blocks=blocks)


# ---- resume --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PausedCampaign:
    id: int
    name: str
    reason: str
    blocker: str | None  # why it cannot resume now


def resume_modal(paused: Sequence[PausedCampaign]) -> View:
    options = [Option(value=str(p.id), label=p.name[:75],
                      description=(f"{p.reason}; cannot resume: {p.blocker}" if p.blocker else p.reason)[:75])
               for p in paused[:10]]
    why = "\n".join(f"• *{p.name}*: {p.reason}" + (f"; it cannot resume yet: {p.blocker}" if p.blocker else "")
                    for p in paused[:10])
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=(
        "Pick the campaigns to resume. Sending restarts within 20 minutes, from where each left off: nothing is "
        "skipped, and steps that fell due meanwhile are spread out again, not sent in a burst."))),
        SectionBlock(text=MarkdownTextObject(text=why[:3000]))]
    blocks.append(InputBlock(block_id="campaigns", label="Paused campaigns", element=CheckboxesElement(
        action_id=Action.CAMPAIGN_FIELD.value, options=options)))
    return View(type="modal", callback_id=Callback.RESUME.value, title="Resume campaigns", submit="Resume",
                close="Cancel", blocks=blocks)


# ---- workspace admins ----------------------------------------------------------------------------
def admin_campaign_blocks(lines: Sequence[AdminLine], total: int) -> list[Block]:
    """Names, owners and counts only: an admin never sees a candidate or an address here."""
    if not lines:
        return [SectionBlock(text=MarkdownTextObject(text="Nobody in this workspace has a campaign yet."))]
    rows = [f"*{line.name}* · {line.owner} · {CAMPAIGN_STATUS[line.status]} · {counted(line.candidates, 'candidate')} · "
            f"{line.sent} sent · {line.replied} replied" for line in lines]
    blocks: list[Block] = [HeaderBlock(text="Campaigns in this workspace")]
    chunk: list[str] = []
    for row in rows:  # a section's text holds 3,000 characters
        if sum(len(r) + 1 for r in chunk) + len(row) > 2900:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(row[:2900])
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    more = f" (the newest {len(lines)} of {total})" if total > len(lines) else ""
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"{counted(total, 'campaign')}{more}. Candidates and their "
                                                                 "addresses stay with each campaign's owner.")]))
    return blocks
