"""Notices from the outbox, drawn as a DM with the button their kind calls for."""
from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, MarkdownTextObject, SectionBlock

from handlers.ids import Action

BUTTONS = {
    "reconnect": [("Reconnect", Action.RECONNECT)],
    "resume_all": [("Resume all", Action.RESUME_ALL)],
    "reply": [("Mark handled", Action.REPLY_HANDLED), ("This was an auto-reply: continue", Action.REPLY_WAS_AUTO),
              ("Do not contact", Action.REPLY_DO_NOT_CONTACT)],
    # a reply that reads as a request to stop (bot.services.reply_opt_out): "Do not contact" first
    "reply_opt_out": [("Do not contact", Action.REPLY_DO_NOT_CONTACT), ("Mark handled", Action.REPLY_HANDLED),
                      ("This was an auto-reply: continue", Action.REPLY_WAS_AUTO)],
    "reply_listed": [("Mark handled", Action.REPLY_HANDLED)],  # listed already, by the organisation's setting
    "reply_direct": [("Do not contact", Action.REPLY_DO_NOT_CONTACT)],  # a one-off's reply: no sequence
    "reply_direct_opt_out": [("Do not contact", Action.REPLY_DO_NOT_CONTACT)],
    "auto_reply": [("This was a real reply", Action.AUTO_WAS_REPLY)],
    "delegation_request": [("Approve", Action.DELEGATION_APPROVE),
                           ("Approve, and tell me about replies", Action.DELEGATION_APPROVE_NOTIFY),
                           ("Deny", Action.DELEGATION_DENY)],
}


def notice_blocks(text: str, action: str | None, value: str | None) -> list[Block] | None:
    if action not in BUTTONS:
        return None
    buttons = [ButtonElement(text=label, action_id=action_id.value, value=value, style="primary" if n == 0 else None)
               for n, (label, action_id) in enumerate(BUTTONS[action])]  # type: ignore[index]
    return [SectionBlock(text=MarkdownTextObject(text=text[:3000])), ActionsBlock(elements=buttons)]


def alert_text(lines: list[str]) -> str:
    """A channel's waiting alerts as one message: a busy campaign never floods its channel."""
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} updates:\n" + "\n".join(f"• {line}" for line in lines)
