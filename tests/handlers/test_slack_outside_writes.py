"""No Slack call inside a database write transaction (issue 15, part 3): notices and alerts are
claimed with a lease, sent outside any transaction and recorded after; the campaign-message
refresher reads only what was marked stale; the acting user is resolved (acting()) before the
listener's transaction opens.
(tests/conftest.py also fails every test that calls out inside a write.)"""
from __future__ import annotations

import threading
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, event, func, select, update

from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import Activity, LocalSlack, Person
from bot.models import Campaign, Notification, User
from bot.runtime import Runtime
from bot.services.campaign_marks import mark_stale
from bot.services.notifications import LEASE, claim_notices, notify
from handlers.campaign_message import campaign_message, refresh_campaign_messages
from handlers.notices import deliver_notices
from handlers.slack import Slack
from tests import factories
from tests.handlers.conftest import OMAR, RITA


def _queue(runtime: Runtime, clock: FakeClock, count: int = 1) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock, slack_id=RITA)
        for n in range(count):
            notify(session, user=rita, kind="test", text=f"Notice {n}", dedupe_key=f"test:{n}", clock=clock)


def _dm_texts(workspace: LocalSlack) -> list[str]:
    return [m.text for m in workspace.messages(workspace.dm_channel(RITA))]


def test_two_overlapping_delivery_runs_deliver_each_notice_once_in_order(
        runtime: Runtime, workspace: LocalSlack, clock: FakeClock, client: WebClient) -> None:
    """While the first run waits on Slack for its first notice, a second run starts: everything is
    claimed by the first, so the second delivers nothing and nothing is posted twice."""
    _queue(runtime, clock, count=3)
    second: list[int] = []

    def overlap(activity: Activity) -> None:
        if activity.kind == "message" and not second:
            second.append(-1)
            second[0] = deliver_notices(runtime, client)  # on Slack's thread, mid-call of the first run
    unsubscribe = workspace.subscribe(overlap)
    try:
        assert deliver_notices(runtime, client) == 3
    finally:
        unsubscribe()
    assert second == [0]
    assert _dm_texts(workspace) == ["Notice 0", "Notice 1", "Notice 2"]
    assert deliver_notices(runtime, client) == 0


def test_a_crashed_runs_claim_expires_and_the_notice_is_delivered_then(
        runtime: Runtime, workspace: LocalSlack, clock: FakeClock, client: WebClient) -> None:
    _queue(runtime, clock, count=2)
    with transaction(runtime.sessions, write=True) as session:  # a run claims, then its process dies
        assert [n.text for n in claim_notices(session, clock=clock, claimant="crashed")] == ["Notice 0", "Notice 1"]
    assert deliver_notices(runtime, client) == 0  # held by the lease
    clock.advance(LEASE)
    assert deliver_notices(runtime, client) == 2
    assert _dm_texts(workspace) == ["Notice 0", "Notice 1"]
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).where(Notification.claimed_by.is_not(None))) == 0


def test_a_slow_slack_holds_no_write_lock(runtime: Runtime, workspace: LocalSlack, clock: FakeClock,
                                          client: WebClient) -> None:
    """Slack takes its time answering chat.postMessage; meanwhile another thread writes the very
    notice row being delivered (and, on SQLite, takes the database's write lock). It completes at
    once: delivery holds no transaction while Slack is called."""
    _queue(runtime, clock)
    written: list[bool] = []  # whether the other write had committed while Slack was still answering

    def write_meanwhile(activity: Activity) -> None:
        if activity.kind != "message" or written:
            return
        done = threading.Event()

        def write() -> None:
            with transaction(runtime.sessions, write=True) as session:
                session.execute(update(Notification).values(kind=Notification.kind))
            done.set()
        threading.Thread(target=write, daemon=True).start()
        written.append(done.wait(timeout=5))  # Slack answers only after this: a held lock would block it
    unsubscribe = workspace.subscribe(write_meanwhile)
    try:
        assert deliver_notices(runtime, client) == 1
    finally:
        unsubscribe()
    assert written == [True]


def _campaigns_with_messages(runtime: Runtime, clock: FakeClock, client: WebClient, count: int) -> list[int]:
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalar(select(User).where(User.slack_user_id == RITA)) or \
            factories.recruiter(session, clock, slack_id=RITA)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=f"rita{clock.now().timestamp()}@acme.example")
        ids = [factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=2).id for _ in range(count)]
    for campaign_id in ids:
        campaign_message(runtime, Slack(client), campaign_id)
    return ids


def _counting(engine: Engine) -> tuple[list[str], Any]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    return statements, count


def test_the_refresher_with_nothing_changed_draws_nothing_in_a_constant_number_of_queries(
        runtime: Runtime, workspace: LocalSlack, clock: FakeClock, client: WebClient, engine: Engine) -> None:
    ids = _campaigns_with_messages(runtime, clock, client, 2)
    assert refresh_campaign_messages(runtime, client) == 0
    statements, count = _counting(engine)
    try:
        mark = workspace.mark()
        assert refresh_campaign_messages(runtime, client) == 0
        at_two = len(statements)
        clock.advance(LEASE)
        ids += _campaigns_with_messages(runtime, clock, client, 4)
        assert refresh_campaign_messages(runtime, client) == 0
        statements.clear()
        mark = workspace.mark()
        assert refresh_campaign_messages(runtime, client) == 0
        assert len(statements) == at_two  # 2 campaigns or 6: the same queries
        assert workspace.transcript_since(mark) == []  # and nothing said to Slack
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with transaction(runtime.sessions, write=True) as session:  # one changes, as a worker would record it
        session.execute(update(Campaign).where(Campaign.id == ids[3]).values(name="Renamed"))
        mark_stale(session, [ids[3]])
    assert refresh_campaign_messages(runtime, client) == 1
    assert refresh_campaign_messages(runtime, client) == 0


def test_first_contact_reads_the_profile_before_the_listeners_transaction_and_outside_any_write(
        runtime: Runtime, workspace: LocalSlack, omar: Person) -> None:
    """Omar has never used the bot: acting() reads users.info once, before its transaction (the
    autouse fixture would fail this test were it inside a write), keeps his row, and the listener
    finds it."""
    assert omar.slash("/outreach", "delegations").ok
    assert [c.params.get("user") for c in workspace.calls_to("users.info")] == [OMAR]
    with transaction(runtime.sessions) as session:
        (user,) = session.scalars(select(User).where(User.slack_user_id == OMAR)).all()
        assert user.tz == "Europe/Paris"
    assert omar.slash("/outreach", "delegations").ok
    assert len(workspace.calls_to("users.info")) == 1  # known now: no second call
