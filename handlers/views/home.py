"""The App Home tab: the user's mailboxes and campaigns, or what to do first."""
from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handlers.ids import Action
from handlers.views.mailboxes import STATUS_LABEL
from handlers.views.summaries import CampaignSummary, MailboxSummary
from bot.wording import counted

HOME_BLOCK_LIMIT = 100


def _warnings(mailboxes: Sequence[MailboxSummary], organisation_enhanced: bool) -> list[Block]:
    """A lost connection, and the enhanced-permission states of seed 000: the organisation on basic
    (offer the upgrade through an admin), opted in but this mailbox still basic (reconnect), or all
    enhanced (nothing)."""
    blocks: list[Block] = []
    for m in mailboxes:
        if m.status == "needs_reconnect":
            blocks.append(SectionBlock(
                text=MarkdownTextObject(text=f":warning: *{m.address} needs to be reconnected.* Its campaigns are "
                                             "paused until you sign in again."),
                accessory=ButtonElement(text="Reconnect", action_id=Action.RECONNECT.value, value=str(m.id),
                                        style="primary")))
        elif organisation_enhanced and m.permission == "basic":
            blocks.append(SectionBlock(
                text=MarkdownTextObject(text=f":information_source: Your organisation turned on enhanced permissions, "
                                             f"but *{m.address}* still has basic ones, so out-of-office replies and "
                                             "some bounces are missed. Reconnect it to upgrade."),
                accessory=ButtonElement(text="Reconnect", action_id=Action.RECONNECT.value, value=str(m.id))))
    if mailboxes and not organisation_enhanced:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text="Basic permissions: replies are tracked from their headers. To also recognise out-of-office replies "
                 "and bounces that arrive outside the thread, contact your Slack admin about enhanced permissions "
                 "(`/outreach admin permissions enhanced`).")]))
    return blocks


def _mailbox_lines(mailboxes: Sequence[MailboxSummary]) -> list[Block]:
    if not mailboxes:
        return [
            SectionBlock(text=MarkdownTextObject(
                text="*No mailbox connected yet.* Start here: connect the mailbox you send from, "
                     "then build a sequence and start a campaign.")),
            ActionsBlock(elements=[ButtonElement(text="Connect a mailbox", action_id=Action.OPEN_CONNECT.value,
                                                 style="primary")]),
        ]
    return [
        SectionBlock(text=MarkdownTextObject(
            text=f"*{m.address}* · {m.provider} · {STATUS_LABEL.get(m.status, m.status)} · {m.permission} permissions"
                 + (f" · also sent from by {', '.join(m.senders[1:])}" if len(m.senders) > 1 else "")))
        for m in mailboxes
    ]


def _campaign_lines(campaigns: Sequence[CampaignSummary], has_mailbox: bool) -> list[Block]:
    if not campaigns:
        hint = ("Create one with `/outreach campaign new`." if has_mailbox
                else "Once a mailbox is connected, your campaigns show here, with those teammates share with you.")
        return [SectionBlock(text=MarkdownTextObject(text=f"*No campaigns yet.* {hint}"))]
    return [
        SectionBlock(text=MarkdownTextObject(
            text=f"*{c.name}* · {c.status} · {counted(c.candidates, 'candidate')} · {counted(c.sent, 'email')} sent"
                 + (f" · _{c.whose}_" if c.whose else "")))
        for c in campaigns
    ]


def home_view(mailboxes: Sequence[MailboxSummary], campaigns: Sequence[CampaignSummary], *,
              organisation_enhanced: bool = False, chart: Block | None = None,
              team: Sequence[Block] | None = None, team_chart: Block | None = None) -> View:
    """`chart`: the results chart's image block (your campaigns, last 30 days), under the header;
    `team` (admins only): the team's chart and each recruiter's total, under it."""
    header: list[Block] = [HeaderBlock(text="Outreach"), *_warnings(mailboxes, organisation_enhanced)]
    if chart is not None:
        header += [SectionBlock(text=MarkdownTextObject(text="*Your results, last 30 days*")), chart]
    if team is not None:
        header += [SectionBlock(text=MarkdownTextObject(text="*The team's results, last 30 days* (admins see this)")),
                   *([team_chart] if team_chart is not None else []), *team, DividerBlock()]
    mailbox_part = [SectionBlock(text=MarkdownTextObject(text="*Your mailboxes*")), *_mailbox_lines(mailboxes)]
    campaign_part = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Your campaigns*")),
                     *_campaign_lines(campaigns, bool(mailboxes))]
    footer = [ContextBlock(elements=[MarkdownTextObject(text="Type `/outreach help` for every command.")])]
    blocks = header + mailbox_part + campaign_part
    room = HOME_BLOCK_LIMIT - len(footer) - 1
    if len(blocks) > room:  # keep within Slack's 100 blocks per view
        hidden = len(blocks) - room
        blocks = blocks[:room] + [ContextBlock(elements=[MarkdownTextObject(
            text=f"… and {hidden} more. Use `/outreach status` to see everything.")])]
    return View(type="home", blocks=blocks + footer)
