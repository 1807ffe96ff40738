"""Delegation views: the manager's choice of mailbox, and `/outreach delegations`."""
from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.models import Delegation, DelegationStatus, User
from bot.services.delegations import day, last_change
from handlers.ids import Action
from handlers.payloads import DelegationAnswer, ReplyAlerts

STATUS = {
    DelegationStatus.REQUESTED: ":hourglass_flowing_sand: waiting for an answer",
    DelegationStatus.APPROVED: ":large_green_circle: approved",
    DelegationStatus.DENIED: ":no_entry_sign: declined",
    DelegationStatus.REVOKED: ":lock: revoked",
    DelegationStatus.EXPIRED: ":hourglass: expired unanswered",
}


def mailbox_choice_blocks(question: str, original: str, delegation_id: int, notify: bool,
                          choices: list[tuple[int, str]]) -> list[Block]:
    """The request again, with one Approve button per mailbox the manager has connected."""
    action = Action.DELEGATION_APPROVE_NOTIFY if notify else Action.DELEGATION_APPROVE
    # Slack refuses two elements with one action_id in a block: one actions block per mailbox.
    rows: list[Block] = [ActionsBlock(block_id=f"approve_{mailbox_id}", elements=[ButtonElement(
        text=f"Approve {address}"[:75], action_id=action.value, value=DelegationAnswer(delegation=delegation_id, mailbox=mailbox_id).dump(),
        style="primary")]) for mailbox_id, address in choices[:40]]
    deny = ActionsBlock(elements=[ButtonElement(text="Deny", action_id=Action.DELEGATION_DENY.value,
                                                value=str(delegation_id))])
    return [SectionBlock(text=MarkdownTextObject(text=original[:3000])),
            SectionBlock(text=MarkdownTextObject(text=f"*{question}*")), *rows, deny]


def _what(delegation: Delegation) -> str:
    mailbox = delegation.mailbox.address if delegation.mailbox else "their mailbox (none connected yet)"
    only = f", for *{delegation.campaign.name}* only" if delegation.campaign else ""
    return f"{mailbox}{only}"


def _granted_row(delegation: Delegation, viewer: User) -> list[Block]:
    line = (f"*{delegation.grantee.name}* · {_what(delegation)} · {STATUS[delegation.status]} "
            f"{day(last_change(delegation), viewer)}")
    if delegation.status == DelegationStatus.APPROVED:
        line += " · " + ("you hear of replies" if delegation.notify_grantor else "replies go to them only")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=line))]
    if delegation.status == DelegationStatus.APPROVED:
        on = delegation.notify_grantor
        blocks.append(ActionsBlock(elements=[
            ButtonElement(text="Revoke", action_id=Action.DELEGATION_REVOKE.value, value=str(delegation.id),
                          style="danger", confirm=ConfirmObject(
                              title="Revoke this delegation?", confirm="Revoke", deny="Keep it", style="danger",
                              text=(f"{delegation.grantee.name}'s campaigns sending from your mailbox pause at once, "
                                    "and nothing more is sent from it for them."))),
            ButtonElement(text="Stop telling me about replies" if on else "Tell me about replies too",
                          action_id=Action.DELEGATION_REPLIES.value,
                          value=ReplyAlerts(delegation=delegation.id, state="off" if on else "on").dump()),
        ]))
    elif delegation.status == DelegationStatus.REQUESTED:
        blocks.append(ActionsBlock(elements=[
            ButtonElement(text="Approve", action_id=Action.DELEGATION_APPROVE.value, value=str(delegation.id),
                          style="primary"),
            ButtonElement(text="Deny", action_id=Action.DELEGATION_DENY.value, value=str(delegation.id))]))
    return blocks


def _received_row(delegation: Delegation, viewer: User) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=(
        f"*{delegation.grantor.name}* · {_what(delegation)} · {STATUS[delegation.status]} "
        f"{day(last_change(delegation), viewer)}")))


def delegations_blocks(granted: list[Delegation], received: list[Delegation], viewer: User) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="Mailboxes you let others send from")]
    if granted:
        for delegation in granted[:15]:
            blocks += _granted_row(delegation, viewer)
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Nobody: no one has asked yet.")]))
    blocks += [DividerBlock(), HeaderBlock(text="Mailboxes you may send from")]
    if received:
        blocks += [_received_row(d, viewer) for d in received[:15]]
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
            "Only your own. Ask a hiring manager with `/outreach delegate @name`, "
            "or `/outreach delegate @name Campaign name` for one campaign."))]))
    return blocks
