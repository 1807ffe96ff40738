"""LocalSlack: a local, offline Slack workspace for the demo and the tests.

    with LocalSlack() as ws:
        ws.add_user("U1", name="rita", tz="America/New_York")
        client = WebClient(token=ws.bot_token, base_url=ws.api_url)   # the bot's side
        rita = Person(ws, "U1", BoltTarget(app))                      # a human's side
        rita.slash("/outreach", "help")
        rita.upload("leads.csv", b"email\\nana@example.com\\n")           # file_shared reaches the bot

It enforces what Slack enforces (each rule cites its source where it is enforced): Block Kit and
view limits (validation.py), required arguments, scopes and errors per method (webapi.py, spec.py),
rate limits per method tier with 429 + Retry-After (ratelimits.py), and the app's manifest: scopes,
subscribed events, slash-command escaping, the Messages tab (manifest.py). Give it a SkipClock and
the bot's WebClient that clock's sleep, and Slack's waits cost no real time.
"""
from .clock import SkipClock
from .manifest import Manifest
from .model import Activity, Call, Channel, Ephemeral, Message, ApiError, User
from .person import Person, Result, SharedFile
from .render import render_activity, render_blocks, render_mrkdwn, render_view
from .signing import sign_request, signature
from .targets import BoltTarget, HttpTarget, Target, TargetResponse
from .workspace import LocalSlack

__all__ = [
    "Activity", "BoltTarget", "Call", "Channel", "Ephemeral", "HttpTarget", "LocalSlack", "Manifest", "Message",
    "Person", "SkipClock",
    "ApiError", "Result", "SharedFile", "Target", "TargetResponse", "User", "render_activity", "render_blocks",
    "render_mrkdwn", "render_view", "sign_request", "signature",
]
