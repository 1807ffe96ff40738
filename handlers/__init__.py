"""The Slack surface: one module per feature, its listeners module-level functions wired by its
register(app[, router]). The runtime reaches them through the Bolt context (runtime_middleware)."""
from __future__ import annotations

from slack_bolt import App

from bot.runtime import Runtime
from handlers import (campaign_edit, campaign_export, campaign_manage, campaigns, commands, delegations, do_not_contact,
                      engagement, errors, holidays, home, mailboxes, open_tracking, protection_settings, replies, sending,
                      sequences, sharing, stats)
from handlers.context import acting_user_middleware, runtime_middleware


def register_all(app: App, runtime: Runtime) -> commands.CommandRouter:
    router = commands.CommandRouter()
    app.use(runtime_middleware(runtime))  # listeners find the runtime in their context
    errors.register(app)
    commands.register(app, router)
    home.register(app)
    mailboxes.register(app, router)
    sequences.register(app, router)
    campaigns.register(app, router)
    campaign_manage.register(app, router)
    campaign_edit.register(app, router)
    campaign_export.register(app, router)
    sending.register(app, router)
    replies.register(app)
    delegations.register(app, router)
    sharing.register(app, router)
    holidays.register(router)
    do_not_contact.register(app, router)
    engagement.register(app)
    protection_settings.register(app, router)
    open_tracking.register(app, router)
    stats.register(router)
    app.use(acting_user_middleware(runtime, router))  # notes who acts; acting() resolves them after the ack
    return router
