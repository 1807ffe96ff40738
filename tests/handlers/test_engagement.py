"""Rules of engagement and the protection settings, through Slack: a shared CSV's summary names the
candidates a teammate has (who, which campaign, when; never an address), a held-back one is
overridden with a reason from the summary and the teammate gets the DM; Start says who; and
`/outreach admin protection` is a modal for admins only, saved and audited."""
from __future__ import annotations

import random
from datetime import timedelta

from slack_bolt import App
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.models import AuditEntry, Campaign, EngagementRule, Enrollment, Organisation
from bot.runtime import Runtime
from bot.services.campaigns import create_campaign, start_campaign
from bot.services.directory import Profile, ensure_user
from handlers.commands import COMMAND
from handlers.ids import Action
from handlers.notices import deliver_notices
from tests import factories
from tests.handlers.conftest import OMAR, RITA

CSV = b"name,email,company\nAna Elsewhere,ana0@home.example,Acme\nBo New,bo@x.example,Beta\n"


def _world(runtime: Runtime, clock: FakeClock, rule: EngagementRule) -> int:
    """Omar's started 'Backend Q4' with Ana (ana0@work, ana0@home) emailed 3 days ago; Rita's draft 'Platform Q1'."""
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        omar = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(OMAR, name="Omar Other"))
        session.get(Organisation, rita.organisation_id).engagement_rule = rule  # type: ignore[union-attr]
        theirs = factories.campaign_with_candidates(session, omar, factories.sandbox_mailbox(
            session, omar, clock, address="omar.mail@acme.example"), clock)
        start_campaign(session, campaign=theirs, clock=clock, rng=random.Random(1))
        for enrollment in session.scalars(select(Enrollment).where(Enrollment.campaign_id == theirs.id)):
            enrollment.last_sent_at = clock.now()
        mine = create_campaign(session, owner=rita, sequence=theirs.sequence, name="Platform Q1", clock=clock,
                               mailbox=factories.sandbox_mailbox(session, rita, clock))
        campaign_id = mine.id
    clock.advance(timedelta(days=3))
    return campaign_id


def test_the_summary_names_who_and_when_and_an_override_lets_one_in_and_tells_the_teammate(
        rita: Person, omar: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: App) -> None:
    _world(runtime, clock, EngagementRule.BLOCK)
    rita.upload("team.csv", CSV)
    summary = rita.dm_messages()[-1]
    shown = render_blocks(summary.blocks)
    assert ("Ana Elsewhere is in Omar Other's 'Backend Q4' (scheduled), last emailed 3 days ago" in shown), shown
    assert "ana0@" not in shown and "held back unless you override" in shown
    (pick,) = [e for b in summary.blocks for e in b.get("elements", []) if e.get("action_id") ==
               Action.ENGAGEMENT_OVERRIDE.value]
    assert [o["text"]["text"] for o in pick["options"]] == ["Ana Elsewhere (line 2)"]
    assert rita.click(Action.ENGAGEMENT_OVERRIDE.value, in_message=summary,
                      selected_option_value=pick["options"][0]["value"]).ok
    assert rita.submit({"reason": "   "}).errors == {"reason": "Say why you contact them anyway: your teammate reads it."}
    result = rita.submit({"reason": "She asked me to call"})
    assert result.ok and not result.errors
    assert "Overridden: Ana Elsewhere goes ahead" in rita.dm_messages()[-1].text
    deliver_notices(runtime, app.client)
    # a file shared in the DM names its campaign only when added: the DM says who, whom and why
    assert omar.dm_messages()[-1].text == "Rita Recruiter is also contacting Ana Elsewhere: She asked me to call"
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=summary).ok
    with transaction(runtime.sessions) as session:
        mine = session.scalar(select(Campaign).where(Campaign.name == "Platform Q1"))
        assert {e.engagement_override for e in session.scalars(select(Enrollment).where(
            Enrollment.campaign_id == mine.id))} == {"She asked me to call", None}


def test_start_says_who_a_teammate_has(rita: Person, workspace: LocalSlack, runtime: Runtime,
                                       clock: FakeClock) -> None:
    campaign_id = _world(runtime, clock, EngagementRule.WARN)
    rita.upload("team.csv", CSV)
    assert rita.click(Action.UPLOAD_CONFIRM.value, in_message=rita.dm_messages()[-1]).ok
    message = next(m for m in rita.dm_messages() if any(
        e.get("action_id") == Action.CAMPAIGN_START.value for b in m.blocks for e in b.get("elements", [])))
    assert rita.click(Action.CAMPAIGN_START.value, in_message=message, value=str(campaign_id)).ok
    said = [e.text for e in rita.ephemerals()]
    assert any("is in Omar Other's 'Backend Q4' (scheduled), last emailed 3 days ago" in t
               and "emailed all the same" in t for t in said), said


def test_admin_protection_is_for_admins_and_is_saved_and_audited(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, app: App) -> None:
    rita.slash(COMMAND, "admin protection")
    assert "Only workspace admins and owners can change the organisation's protection settings" in \
        rita.ephemerals()[-1].text
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", BoltTarget(app))
    ada.slash(COMMAND, "admin protection")
    (view,) = workspace.open_views("U0ADA")
    assert "adds a last line to every email" in render_blocks(view["blocks"])
    result = ada.submit({"rule": "block", "days": "45", "opt_out": ["opt_out_link"]})
    assert result.ok and not result.errors
    with transaction(runtime.sessions) as session:
        org = session.scalar(select(Organisation).where(Organisation.slack_team_id == "T0LOCAL"))
        assert (org.engagement_rule, org.engagement_days, org.opt_out_replies_to_dnc, org.opt_out_link) == (
            EngagementRule.BLOCK, 45, False, True)
        (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "protection.saved"))
        assert audit.detail["engagement_days"] == {"from": 30, "to": 45} and audit.actor == "U0ADA"
    assert "are held back" in ada.dm_messages()[-1].text
    bad = ada.forge_submission("admin.protection", values={
        "rule": {Action.PROTECTION_FIELD.value: {"type": "radio_buttons", "selected_option": {"value": "block"}}},
        "days": {Action.PROTECTION_FIELD.value: {"type": "number_input", "value": "0"}}})
    assert '"days": "Write a whole number of days from 1 to 365."' in bad.body  # on its field
    rita.forge_submission("admin.protection", values={
        "rule": {Action.PROTECTION_FIELD.value: {"type": "radio_buttons", "selected_option": {"value": "warn"}}},
        "days": {Action.PROTECTION_FIELD.value: {"type": "number_input", "value": "5"}}})
    with transaction(runtime.sessions) as session:  # a forged submission by a non-admin changes nothing
        assert session.scalar(select(Organisation.engagement_days)) == 45
