"""`/outreach admin holidays [list | add DATE... | remove DATE...]`: the organisation's calendar,
kept by workspace admins (Slack's flag read fresh for the command, as `admin campaigns` does).
Adding or removing a date re-plans the running campaigns' pending sends around it
(bot.services.holidays)."""
from __future__ import annotations

from bot.errors import UserError
from bot.services.holidays import change_holidays, describe_change, organisation_holidays, parse_dates, shown
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of

USAGE = ("Usage: `/outreach admin holidays` (or `list`), `/outreach admin holidays add 2026-12-24 2026-12-25`, "
         "`/outreach admin holidays remove 2026-12-24`.")


def admin_holidays(call: CommandCall) -> None:
    words = call.args.split()
    verb = words[0].lower() if words else "list"
    if verb not in ("list", "add", "remove") or (verb == "list" and len(words) > 1):
        raise UserError(USAGE)
    if verb == "list":
        with acting(call.context, refresh=True) as (session, user):  # admin now?
            days = organisation_holidays(session, user=user)
        call.ack(text=f"The organisation's holidays (no campaign sends on them): {shown(days)}. "
                      "Each campaign may add its own (its Edit button).")
        return
    dates = parse_dates(" ".join(words[1:]), field="dates")
    if not dates:
        raise UserError(f"Name the dates: `/outreach admin holidays {verb} 2026-12-24 2026-12-25`.")
    runtime = runtime_of(call.context)
    with acting(call.context, write=True, refresh=True) as (session, user):  # admin now?
        change = change_holidays(session, user=user, add=dates if verb == "add" else (),
                                 remove=dates if verb == "remove" else (), now=runtime.clock.now(), rng=runtime.rng)
    call.ack(text=describe_change(change, added=verb == "add"))


def register(router: CommandRouter) -> None:
    router.add("admin holidays", "admins: the organisation's holidays, on which no campaign sends: "
                                 "`admin holidays [list | add DATE… | remove DATE…]`")(admin_holidays)
