"""A mailbox's daily cap and spacing, set in Slack (issue 17 §3): Settings on `/outreach mailboxes`
opens a modal prefilled with them and the provider's range; a value outside it is refused on its
field saying the range; only the owner changes them, audited; and the sends waiting for the mailbox
follow the change (a lower cap holds them and tells the owner they finish later, a higher one lets
them go at once)."""
from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from slack_bolt import App
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import BoltTarget, LocalSlack, Person, render_view
from bot.local.slack.person import Result
from bot.models import AuditEntry, Mailbox, Notification, Provider
from bot.runtime import Runtime
from bot.services import delegations
from bot.services.campaigns import start_campaign
from bot.services.directory import Profile, ensure_user
from handlers.commands import COMMAND
from handlers.ids import Action
from providers.sandbox import PostOffice
from scheduling.dispatcher import Dispatcher
from tests import factories
from tests.handlers.conftest import RITA

IVO = "U0IVO"


def _rita_mailbox(runtime: Runtime, clock: FakeClock, *, candidates: int = 0, provider: Provider = Provider.SANDBOX,
                  address: str = "rita@acme.example") -> int:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=address)
        mailbox.provider, mailbox.min_spacing_seconds = provider, 0 if provider == Provider.SANDBOX else 60
        if candidates:
            campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=candidates)
            start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        return mailbox.id


def _limits(runtime: Runtime, mailbox_id: int) -> tuple[int, int]:
    with transaction(runtime.sessions) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        return mailbox.daily_cap, mailbox.min_spacing_seconds


def _errors(result: Result) -> object:
    """A forged submission's answer (the stand-in parses errors only for the modal it showed)."""
    return json.loads(result.body or "{}").get("errors")


def _open_settings(rita: Person, workspace: LocalSlack) -> dict:  # type: ignore[type-arg]
    rita.slash(COMMAND, "mailboxes")
    rita.click(Action.MAILBOX_SETTINGS.value, in_message=workspace.ephemerals(RITA)[-1])
    return workspace.open_views(RITA)[-1]


def test_settings_opens_the_limits_prefilled_with_the_range_and_saves_them_audited(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    mailbox_id = _rita_mailbox(runtime, clock)
    view = _open_settings(rita, workspace)
    shown = render_view(view)
    assert "rita@acme.example" in shown and "1 to 2000: the provider's own limit" in shown
    assert "0 to 3600 seconds" in shown
    before = _limits(runtime, mailbox_id)
    assert {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"} == {
        "daily_cap": str(before[0]), "min_spacing_seconds": str(before[1])}
    assert rita.submit({"daily_cap": "250", "min_spacing_seconds": "90"}).ok
    assert _limits(runtime, mailbox_id) == (250, 90)
    assert rita.dm_messages()[-1].text == (":white_check_mark: rita@acme.example now sends at most 250 emails in any "
                                           "24 hours, at least 90 seconds apart. Sends waiting for it follow the change.")
    with transaction(runtime.sessions) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "mailbox.limits_changed")).all()
        assert (entry.actor, entry.subject_id) == (RITA, mailbox_id)
        assert entry.detail == {"before": {"daily_cap": before[0], "min_spacing_seconds": before[1]},
                                "after": {"daily_cap": 250, "min_spacing_seconds": 90}}


@pytest.mark.parametrize("provider, address, typed, field, message", [
    (Provider.SANDBOX, "rita@acme.example", {"daily_cap": "2001"}, "daily_cap",
     "The daily cap must be between 1 and 2000 for this mailbox (its provider's own limit)."),
    (Provider.GMAIL, "rita@gmail.com", {"daily_cap": "501"}, "daily_cap",
     "The daily cap must be between 1 and 500 for this mailbox (its provider's own limit)."),
    (Provider.SANDBOX, "rita@acme.example", {"daily_cap": "0"}, "daily_cap",
     "The daily cap must be between 1 and 2000 for this mailbox (its provider's own limit)."),
    (Provider.GRAPH, "rita@acme.example", {"min_spacing_seconds": "1"}, "min_spacing_seconds",
     "The spacing between sends must be between 2 and 3600 seconds for this mailbox."),
    (Provider.SANDBOX, "rita@acme.example", {"min_spacing_seconds": "3601"}, "min_spacing_seconds",
     "The spacing between sends must be between 0 and 3600 seconds for this mailbox."),
    (Provider.SANDBOX, "rita@acme.example", {"daily_cap": "lots"}, "daily_cap", "Enter a whole number."),
])
def test_a_limit_outside_the_providers_range_is_refused_on_its_field_saying_the_range(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock, provider: Provider, address: str,
        typed: dict[str, str], field: str, message: str) -> None:
    mailbox_id = _rita_mailbox(runtime, clock, provider=provider, address=address)
    before = _limits(runtime, mailbox_id)
    view = _open_settings(rita, workspace)
    result = rita.forge_submission(view["callback_id"], private_metadata=view["private_metadata"], values={
        block: {Action.FIELD.value: {"type": "number_input", "value": value}}
        for block, value in {"daily_cap": str(before[0]), "min_spacing_seconds": str(before[1]), **typed}.items()})
    assert _errors(result) == {field: message}
    assert _limits(runtime, mailbox_id) == before


def test_only_the_owner_changes_the_limits_not_a_delegate_she_approved(
        omar: Person, workspace: LocalSlack, app: App, runtime: Runtime, clock: FakeClock) -> None:
    """Omar and Xena are in the access matrix; Ivo may send from the mailbox, yet its limits are Rita's."""
    mailbox_id = _rita_mailbox(runtime, clock)
    workspace.add_user(IVO, name="ivo", real_name="Ivo Other")
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        ivo = ensure_user(session, slack_team_id="T0LOCAL", clock=clock, profile=Profile(IVO, name="Ivo Other"))
        granted = delegations.request(session, recruiter=ivo, manager=owner, campaign=None, clock=clock)
        delegations.answer(session, user=owner, delegation_id=granted.id, approve=True, clock=clock,
                           mailbox_id=mailbox_id)
    before = _limits(runtime, mailbox_id)
    for who in (Person(workspace, IVO, BoltTarget(app)), omar):
        who.forge_action(Action.MAILBOX_SETTINGS.value, value=str(mailbox_id))
        assert workspace.open_views(who.user_id) == []
        result = who.forge_submission("mailbox.limits", private_metadata=str(mailbox_id), values={
            "daily_cap": {Action.FIELD.value: {"type": "number_input", "value": "5"}},
            "min_spacing_seconds": {Action.FIELD.value: {"type": "number_input", "value": "5"}}})
        assert _errors(result) == {"daily_cap": "That mailbox is not one of yours."}
    assert _limits(runtime, mailbox_id) == before


def _dispatch(runtime: Runtime) -> int:
    return Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=runtime.clock,
                      rng=random.Random(2), worker_id="w1").run_until_idle().sent


def test_a_lower_cap_holds_the_sends_and_says_they_finish_later_and_a_higher_one_lets_them_go(
        rita: Person, workspace: LocalSlack, runtime: Runtime, clock: FakeClock) -> None:
    _rita_mailbox(runtime, clock, candidates=5)
    _open_settings(rita, workspace)
    assert rita.submit({"daily_cap": "2", "min_spacing_seconds": "0"}).ok
    clock.advance(timedelta(minutes=41))  # step 1 is due for all five
    assert _dispatch(runtime) == 2
    with transaction(runtime.sessions) as session:
        [notice] = session.scalars(select(Notification).where(Notification.kind == "daily_cap")).all()
        assert "reached its limit of 2 emails in 24 hours" in notice.text
        assert "3 due emails wait until" in notice.text and "will finish later than planned" in notice.text
    clock.advance(timedelta(hours=1))
    assert _dispatch(runtime) == 0  # held for the day
    _open_settings(rita, workspace)
    assert rita.submit({"daily_cap": "100", "min_spacing_seconds": "0"}).ok
    assert _dispatch(runtime) == 3  # at once, not when the day's window reopens
    assert len(PostOffice(runtime.providers.sandbox).all_sent()) == 5  # type: ignore[attr-defined]
