"""The do-not-contact list in Slack (issue 18 §1): `/outreach dnc add|remove|list|import`, the import
modal, and the Start and Resume buttons' word on whom the list stopped.

Anyone of the organisation may add (an objection must be honoured whoever hears it); only a
workspace admin may remove, Slack's admin flag read fresh for the command (handlers.context
REFRESH_COMMANDS), as `admin campaigns` does. The list and its rules are bot.services.do_not_contact.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Campaign, User
from bot.runtime import Runtime
from bot.services import do_not_contact
from bot.services.candidate_rows import first_cells
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.files import file_or_paste
from handlers.ids import Action, Callback
from handlers.slack import Slack
from handlers.view_state import value_of
from handlers.views.do_not_contact import (
    USAGE,
    added_text,
    import_modal,
    imported_text,
    list_blocks,
    list_text,
    problems_text,
    removed_text,
    stopped_text,
)

T = TypeVar("T")


def add(call: CommandCall) -> None:
    """`/outreach dnc add <address or domain> [reason...]`."""
    value, _, reason = call.args.strip().partition(" ")
    if not value:
        raise UserError(f"Name the address or domain: `/outreach dnc add ana@acme.example moved on`. {USAGE}")
    runtime = runtime_of(call.context)
    with acting(call.context, write=True) as (session, user):
        added = do_not_contact.add_one(session, user=user, text=value, reason=reason, clock=runtime.clock)
    call.ack(text=added_text(added))


def remove(call: CommandCall) -> None:
    """`/outreach dnc remove <address or domain>`: workspace admins (read fresh from Slack)."""
    if not call.args.strip():
        raise UserError(f"Name the address or domain: `/outreach dnc remove ana@acme.example`. {USAGE}")
    runtime = runtime_of(call.context)
    with acting(call.context, write=True, refresh=True) as (session, user):  # admin now?
        entry = do_not_contact.remove(session, user=user, text=call.args, clock=runtime.clock)
    call.ack(text=removed_text(entry))


def show_list(call: CommandCall) -> None:
    """`/outreach dnc list [page]`, newest first."""
    word = call.args.strip()
    if word and not word.isdigit():
        raise UserError(f"`/outreach dnc list` takes a page number, such as `/outreach dnc list 2`. {USAGE}")
    with acting(call.context) as (session, user):
        page = do_not_contact.list_page(session, user=user, page=int(word[:6]) if word else 1)
    call.ack(text=list_text(page), blocks=[b.to_dict() for b in list_blocks(page)])


def usage(call: CommandCall) -> None:
    call.ack(text=USAGE)


def open_import(call: CommandCall) -> None:
    """`/outreach dnc import`: the modal with a file input and a paste box."""
    call.ack()
    Slack(call.client).open_modal(call.body["trigger_id"], import_modal())


def read_import(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The import modal's submission: every line read, the bad ones reported by number, the good ones
    added in one transaction; the person hears what came of it in a DM."""
    values, runtime = view["state"]["values"], runtime_of(context)
    files = values.get("file", {}).get(Action.DNC_FIELD.value, {}).get("files") or []
    pasted = (value_of(values, "paste", Action.DNC_FIELD.value) or "").strip()
    reason = value_of(values, "reason", Action.DNC_FIELD.value) or ""
    try:
        source, field, content = file_or_paste(client, files, pasted, what="addresses", hint=", one a line")
        cells, unreadable = first_cells(content)
        if not cells:
            raise UserError(f"Nothing could be read: {problems_text(unreadable)}"[:1900], field=field)
        with acting(context, write=True) as (session, user):
            imported = do_not_contact.add_many(session, organisation_id=user.organisation_id, cells=cells,
                                               reason=reason, added_by=user, clock=runtime.clock)
            if not imported.added and not imported.already:
                raise UserError(f"No line is an address or a domain: {problems_text(imported.problems)}"[:1900],
                                field=field)
            slack_user = user.slack_user_id
    except UserError as error:
        ack(response_action="errors", errors={error.field or "file": error.message})
        return
    ack()
    Slack(client).send_dm(slack_user, imported_text(source, imported))


def listed_first(act: Callable[[Session, Campaign, User, Runtime], T], told: list[str], *,
                 where: str) -> Callable[[Session, Campaign, User, Runtime], T]:
    """Start or Resume on a campaign message: the candidates the list covers are stopped first, audited
    as refused by whoever clicked, and `told` gets how many once the act went through."""
    def run(session: Session, campaign: Campaign, user: User, runtime: Runtime) -> T:
        stopped = do_not_contact.stop_listed(session, campaign_id=campaign.id, organisation_id=campaign.organisation_id,
                                             actor=user, where=where, clock=runtime.clock)
        result = act(session, campaign, user, runtime)
        if stopped:
            told.append(stopped_text(stopped))
        return result
    return run


def register(app: App, router: CommandRouter) -> None:
    router.add("dnc", "the do-not-contact list's commands")(usage)
    router.add("dnc add", "never email an address or domain: `dnc add <address or domain> [reason]`")(add)
    router.add("dnc remove", "admins: take one off the do-not-contact list")(remove)
    router.add("dnc list", "the do-not-contact list: `dnc list [page]`")(show_list)
    router.add("dnc import", "a CSV of addresses for the do-not-contact list")(open_import)
    app.view(Callback.DNC_IMPORT.value)(read_import)
