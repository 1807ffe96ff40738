"""What the Slack-side benches share: Rita, her sandbox mailbox, one sequence and her campaigns,
made through the services; and the bot's settings against a local Slack workspace."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Settings
from bot.crypto import new_key
from bot.local.slack import LocalSlack
from bot.models import Mailbox, Provider, User
from bot.services.campaigns import create_campaign
from bot.services.directory import Profile, ensure_user
from bot.services.mailboxes import connect_mailbox, set_limits
from bot.services.sequences import StepDraft, create_sequence

RITA, TEAM = "U0RITA", "T0LOCAL"


def rita_and_campaigns(session: Session, clock: Clock, names: Sequence[str]) -> tuple[User, Mailbox, dict[str, int]]:
    """Rita, her mailbox (daily cap 1,000) and a draft campaign per name, created in that order."""
    rita = ensure_user(session, slack_team_id=TEAM, clock=clock,
                       profile=Profile(RITA, name="Rita Recruiter", email="rita@acme.example", tz="UTC"))
    mailbox = connect_mailbox(session, owner=rita, provider=Provider.SANDBOX, address="rita@acme.example",
                              credentials=None, clock=clock)
    set_limits(mailbox, daily_cap=1000)
    sequence = create_sequence(session, owner=rita, name="Backend engineers", clock=clock, steps=[
        StepDraft("A role at {{ company }}", "Hi {{ first_name }}, would you like to talk?"),
        StepDraft("Following up", "Hi {{ first_name }}, any thoughts?", delay_days=2)])
    ids = {name: create_campaign(session, owner=rita, sequence=sequence, mailbox=mailbox, name=name, clock=clock).id
           for name in names}
    return rita, mailbox, ids


def workspace_settings(ws: LocalSlack, url: str, workdir: Path) -> Settings:
    """The bot's settings against the local workspace `ws` and the database at `url`."""
    return Settings(_env_file=None,  # type: ignore[call-arg]
                    DATABASE_URL=url, SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET=ws.signing_secret,
                    SLACK_API_URL=ws.api_url, OUTREACH_SANDBOX_MAILBOXES=True,
                    OUTREACH_SANDBOX_DIR=str(workdir / "sandbox-mail"), OUTREACH_ENCRYPTION_KEYS=new_key())
