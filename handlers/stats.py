"""`/outreach stats [campaign | @user | team] [period]`: results per step and in total. Parse, ask
bot.services.result_scopes (who may see what), draw with handlers/views/results.py. The asker's
admin flag is read fresh (handlers.context.REFRESH_COMMANDS) for a teammate's or the team's results."""
from __future__ import annotations

import re

from bot.errors import UserError
from bot.services import result_scopes
from bot.services.result_periods import parse_period, split_period
from handlers.commands import CommandCall, CommandRouter
from handlers.context import acting, runtime_of
from handlers.views.results import stats_blocks, stats_text

# A mention arrives escaped (the manifest's should_escape): <@U123|name>
MENTION = re.compile(r"^<@(?P<user>[UW][A-Z0-9]+)(?:\|[^>]*)?>$")
USAGE = ("`/outreach stats` (your campaigns), `/outreach stats <campaign>`, `/outreach stats @teammate` or "
         "`/outreach stats team` (admins), then a period if you like: `30d`, `last month`, `2026-11`.")


def show_stats(call: CommandCall) -> None:
    now = runtime_of(call.context).clock.now()
    head, _, rest = call.args.strip().partition(" ")
    # `team` and a mention are one word: what follows is the period; a campaign's name may be longer
    target, words = (head, rest.strip()) if head.lower() == "team" or MENTION.match(head) else split_period(call.args)
    recruiters = None
    with acting(call.context, refresh=True) as (session, user):  # refresh: is the asker an admin now?
        zone = result_scopes.zone_of(user)
        mention = MENTION.match(target)
        if not target:
            period = parse_period(words, now=now, zone=zone)
            results = result_scopes.own(session, viewer=user, period=period)
        elif target.lower() == "team":
            period = parse_period(words, now=now, zone=zone)
            results, recruiters = result_scopes.of_team(session, viewer=user, period=period)
        elif mention is not None:
            period = parse_period(words, now=now, zone=zone)
            results = result_scopes.of_recruiter(session, viewer=user, slack_team_id=call.context.team_id or "",
                                                 slack_user_id=mention.group("user"), period=period)
        elif target.startswith("@"):
            raise UserError("Pick the teammate from the list Slack shows as you type @, so their name turns into a "
                            "mention. " + USAGE)
        else:
            results, period = result_scopes.of_campaign(session, viewer=user, text=call.args, now=now)
    call.ack(text=stats_text(results, period), blocks=stats_blocks(results, period, recruiters=recruiters))


def register(router: CommandRouter) -> None:
    router.add("stats", "results per step (sent, bounced, out of office, opened, replied, reply rate, median time "
                        "to reply): `/outreach stats [campaign | @teammate | team] [30d | last month | 2026-11]`")(
        show_stats)
