"""Views of the do-not-contact list (handlers/do_not_contact.py): the list a page at a time, the
import modal, and the answers. Pure builders: no database, no Slack calls."""
from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.models import DoNotContactSource
from bot.services.candidate_rows import RowProblem
from bot.services.do_not_contact import Added, Entry, Imported, ListPage, Shown
from bot.wording import agrees, counted
from handlers.ids import Action, Callback
from handlers.views.sequences import escape

SOURCES = {
    DoNotContactSource.COMMAND: "`/outreach dnc add`",
    DoNotContactSource.REPLY_BUTTON: "a reply's Do not contact button",
    DoNotContactSource.CSV: "a CSV import",
    DoNotContactSource.OPT_OUT_REPLY: "an opt-out reply",
    DoNotContactSource.UNSUBSCRIBE: "the unsubscribe link",
    DoNotContactSource.COMPLAINT: "a complaint",
}
PROBLEMS_SHOWN = 20  # bad lines named in an import's answer; the rest counted
USAGE = ("`/outreach dnc add <address or domain> [reason]`, `/outreach dnc remove <address or domain>` (admins), "
         "`/outreach dnc list [page]`, `/outreach dnc import` (a CSV of addresses).")


def _stopped(n: int) -> str:
    if not n:
        return "no candidate in a running campaign was covered"
    return f"{counted(n, 'candidate')} in running campaigns {agrees(n, 'was', 'were')} stopped"


def added_text(added: Added) -> str:
    what = f"the whole domain {added.value}" if added.is_domain else added.value
    if not added.new:
        return f"{what} was already on the do-not-contact list; {_stopped(added.stopped)}."
    return f":no_entry: Added {what} to the do-not-contact list: {_stopped(added.stopped)}."


def removed_text(entry: Entry) -> str:
    return (f"Took {entry.value} off the do-not-contact list. Candidates it stopped stay stopped; new emails to it may "
            "start again.")


def stopped_text(n: int) -> str:
    """Start or Resume, told how many the list stopped before anything was planned."""
    return (f":no_entry: {counted(n, 'candidate')} on the do-not-contact list {agrees(n, 'was', 'were')} stopped "
            "before anything was planned (`/outreach dnc list`).")


def _line(entry: Shown) -> str:
    kind = "domain" if entry.is_domain else "address"
    who = entry.added_by or "the bot"
    why = f": {escape(entry.reason[:200])}" if entry.reason else ""
    return (f"*{escape(entry.value)}* ({kind}), added by {escape(who)} on {entry.created_at:%Y-%m-%d} "
            f"through {SOURCES.get(entry.source, entry.source.value)}{why}")


def list_text(page: ListPage) -> str:
    return f"The do-not-contact list: {counted(page.total, 'entry', 'entries')}"


def list_blocks(page: ListPage) -> list[Block]:
    if not page.total:
        return [SectionBlock(text=MarkdownTextObject(text=f"The do-not-contact list is empty. {USAGE}"))]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=(
        f"*The do-not-contact list*: {counted(page.total, 'entry', 'entries')}, newest first "
        f"(page {page.page} of {page.pages}). No email starts to these addresses and domains.")))]
    blocks += [SectionBlock(text=MarkdownTextObject(text=_line(e)[:3000])) for e in page.entries]
    more = f"`/outreach dnc list {page.page + 1}` shows the next page. " if page.page < page.pages else ""
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more + USAGE)]))
    return blocks


def import_modal() -> View:
    F = Action.DNC_FIELD.value
    return View(type="modal", callback_id=Callback.DNC_IMPORT.value, title="Do not contact", submit="Add",
                close="Cancel", blocks=[
                    SectionBlock(text=MarkdownTextObject(text=(
                        "Addresses and whole domains no email may start to, one a line: the first column of a "
                        "CSV (a header is optional) or pasted lines. `ana@acme.example` is one address, "
                        "`acme.example` a whole domain. Candidates they cover are stopped in every campaign."))),
                    InputBlock(block_id="file", label="CSV file", optional=True,
                               element=FileInputElement(action_id=F, filetypes=["csv", "txt"], max_files=1)),
                    InputBlock(block_id="paste", label="Or paste addresses", optional=True,
                               element=PlainTextInputElement(action_id=F, multiline=True,
                                                             placeholder="ana@acme.example\nclient.example")),
                    InputBlock(block_id="reason", label="Why (kept with each entry)", optional=True,
                               element=PlainTextInputElement(action_id=F, max_length=500)),
                ])


def problems_text(problems: Sequence[RowProblem]) -> str:
    shown = "; ".join(str(p) for p in problems[:PROBLEMS_SHOWN])
    more = len(problems) - PROBLEMS_SHOWN
    return shown + (f"; and {counted(more, 'more line')}" if more > 0 else "")


def imported_text(source: str, imported: Imported) -> str:
    already = f" ({counted(imported.already, 'value')} already there)" if imported.already else ""
    text = (f":no_entry: {escape(source)}: added {counted(imported.added, 'entry', 'entries')} to the do-not-contact "
            f"list{already}; {_stopped(imported.stopped)}.")
    if imported.problems:
        text += (f" Not added, {counted(len(imported.problems), 'line')} to fix: "
                 f"{escape(problems_text(imported.problems))}.")
    return text[:3900]
