"""How the demo shows what happened: emails, buttons, the Home tab and the last ephemeral message."""
from __future__ import annotations

from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from bot.local.demo.cast import RITA
from bot.local.slack import LocalSlack
from bot.local.slack.model import Message as LocalMessage


def buttons(message: LocalMessage | None) -> list[str]:
    """The labels of a message's buttons, in order."""
    blocks = (message.blocks if message else None) or []
    return [e["text"]["text"] for b in blocks if b.get("type") == "actions" for e in b["elements"]
            if e.get("type") == "button"]


def sent_at(email: Message) -> datetime:
    return parsedate_to_datetime(str(email["Date"]))


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def render_email(email: Message) -> str:
    headers = [f"{name}: {email[name]}" for name in ("From", "To", "Subject", "Date", "In-Reply-To")
               if email[name]]
    text = email.get_body(("plain",)) or email  # a tracked email is multipart/alternative: its text part
    lines = [*headers, "", *text.get_content().rstrip().splitlines()]
    return "✉ email sent\n" + "\n".join(f"  │ {line}".rstrip() for line in lines)


def last_ephemeral_text(ws: LocalSlack, user: str) -> str:
    from bot.local.slack import render_blocks

    shown = ws.ephemerals(user)
    return render_blocks(shown[-1].blocks) if shown and shown[-1].blocks else (shown[-1].text if shown else "")


def home_text(ws: LocalSlack, user: str = RITA) -> str:
    from bot.local.slack import render_view

    home = ws.home(user)
    return render_view(home) if home else ""
