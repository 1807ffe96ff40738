"""Open tracking through Slack: `/outreach admin tracking` is for workspace admins (Slack's flag read
fresh), saved and audited; the campaign modal offers the switch only where the organisation allows
it (else says an admin must allow it first), refuses it on its field when tracking is no longer
allowed, and Edit turns it on or off for the emails sent from then on."""
from __future__ import annotations

import random
from typing import Any

from slack_bolt import App
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_blocks
from bot.models import AuditEntry, Campaign, Organisation
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.sequences import StepDraft, create_sequence
from bot.services.tracking_settings import NOT_ALLOWED
from handlers.commands import COMMAND
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import RITA


def _allow(runtime: Runtime, allowed: bool) -> None:
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Organisation).values(open_tracking=allowed))


def _blocks(view: dict[str, Any]) -> set[str]:
    return {b.get("block_id") for b in view["blocks"]}


def test_admin_tracking_is_for_admins_and_is_saved_and_audited(
        rita: Person, workspace: LocalSlack, runtime: Runtime, app: App) -> None:
    rita.slash(COMMAND, "admin tracking")
    assert "Only workspace admins and owners can allow or stop open tracking" in rita.ephemerals()[-1].text
    assert workspace.open_views(RITA) == []
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=True)
    ada = Person(workspace, "U0ADA", BoltTarget(app))
    ada.slash(COMMAND, "admin tracking")
    (view,) = workspace.open_views("U0ADA")
    shown = render_blocks(view["blocks"])
    assert "records the time and the IP address of the fetch" in shown and "Apple Mail" in shown and "Gmail" in shown
    assert ada.submit({"allow": ["allow"]}).ok
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Organisation.open_tracking)) is True
        (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "tracking.saved"))
        assert audit.detail == {"open_tracking": {"from": False, "to": True}} and audit.actor == "U0ADA"
    assert "Open tracking is allowed" in ada.dm_messages()[-1].text
    refused = rita.forge_submission("admin.tracking", values={
        "allow": {Action.OPEN_TRACKING_FIELD.value: {"type": "checkboxes", "selected_options": []}}})
    assert "Only workspace admins" in refused.body  # a forged submission by a non-admin, refused on its field
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Organisation.open_tracking)) is True
    workspace.add_user("U0ADA", name="ada", real_name="Ada Admin", is_admin=False)  # no longer an admin in Slack
    ada.slash(COMMAND, "admin tracking")  # read fresh: refused at once
    assert "Only workspace admins" in ada.ephemerals()[-1].text and workspace.open_views("U0ADA") == []


def _sequence_and_mailbox(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        factories.sandbox_mailbox(session, rita, clock)
        create_sequence(session, owner=rita, name="Backend engineers", clock=clock, steps=[
            StepDraft("Backend role", "Hi {{ first_name }}, would you like to talk?")])


def test_the_new_campaign_modal_offers_the_switch_only_where_tracking_is_allowed(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _sequence_and_mailbox(runtime, clock)
    rita.slash(COMMAND, "campaign new")
    view = workspace.open_views(RITA)[-1]
    assert "track_opens" not in _blocks(view) and NOT_ALLOWED in render_blocks(view["blocks"])
    rita.close_view()
    _allow(runtime, True)
    rita.slash(COMMAND, "campaign new")
    view = workspace.open_views(RITA)[-1]
    (switch,) = [b for b in view["blocks"] if b.get("block_id") == "track_opens"]
    assert "records the time and IP address" in switch["hint"]["text"] and "initial_options" not in switch["element"]
    _allow(runtime, False)  # an admin stops tracking while Rita fills the modal in
    result = rita.submit({"name": "Backend Q4", "track_opens": ["yes"]})
    assert result.errors == {"track_opens": NOT_ALLOWED}
    _allow(runtime, True)
    assert rita.submit({"name": "Backend Q4", "track_opens": ["yes"]}).ok
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign.track_opens)) is True


def test_edit_turns_tracking_on_and_off_and_keeps_it_where_not_offered(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        campaign = factories.campaign_with_candidates(session, owner, factories.sandbox_mailbox(session, owner, clock),
                                                      clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    _allow(runtime, True)
    rita.slash(COMMAND, "campaign edit backend q4")
    assert rita.submit({"track_opens": ["yes"]}).ok
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign.track_opens)) is True
    rita.slash(COMMAND, "campaign edit backend q4")
    view = workspace.open_views(RITA)[-1]
    assert [o["value"] for o in next(b for b in view["blocks"] if b.get("block_id") == "track_opens")[
        "element"]["initial_options"]] == ["yes"]
    assert rita.submit({"track_opens": []}).ok
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Campaign.track_opens)) is False
    with transaction(runtime.sessions, write=True) as session:
        session.execute(update(Campaign).values(track_opens=True))
    _allow(runtime, False)
    rita.slash(COMMAND, "campaign edit backend q4")
    view = workspace.open_views(RITA)[-1]
    assert "track_opens" not in _blocks(view) and NOT_ALLOWED in render_blocks(view["blocks"])
    assert rita.submit({"name": "Backend Q4 renamed"}).ok
    with transaction(runtime.sessions) as session:  # not offered: left as it was (no image goes out anyway)
        assert session.scalar(select(Campaign.track_opens)) is True
