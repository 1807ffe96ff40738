"""One-off emails and previews go through the dispatcher's claim → send → record (issue 15, "One send
path"): a worker that dies after claiming one leaves it to the reconcile, which looks it up by
Message-ID and never sends it twice; one left pending is sent by the next run; one held too long is
cancelled; and none of them is ever taken by a campaign's claim or shown in its status or counts.
Real database, sandbox mailbox."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import (
    Delegation,
    DelegationStatus,
    DirectMessage,
    Mailbox,
    MailboxSendCount,
    Notification,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    User,
)
from bot.runtime import Runtime
from bot.services import direct_send
from bot.services.campaign_list import counts_of
from bot.services.campaign_status import campaign_status
from bot.services.campaigns import start_campaign
from bot.services.sequences import StepDraft, create_sequence
from providers.base import OutgoingEmail
from providers.sandbox import PostOffice
from scheduling import one_off
from scheduling.dispatcher import Dispatcher
from tests import factories

MAILBOX = "recruiting@acme.example"
LEASE = timedelta(minutes=5)


def _setup(runtime: Runtime, clock: FakeClock) -> tuple[int, int, int]:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock, address=MAILBOX)
        sequence = create_sequence(session, owner=rita, name="Backend", clock=clock, steps=[
            StepDraft("Backend role", "Hi {{ first_name }}, shall we talk?"),
            StepDraft("Following up", "Any thoughts?", delay_days=2)])
        return rita.id, mailbox.id, sequence.id


def _queue_one(runtime: Runtime, clock: FakeClock, ids: tuple[int, int, int]) -> direct_send.Queued:
    user_id, mailbox_id, sequence_id = ids
    draft = direct_send.Draft(sequence_id, "Backend", 1, "noor@new.example", "Noor Haddad", "Backend role",
                              "Hi Noor, shall we talk?")
    return direct_send.queue_one(runtime.sessions, user_id=user_id, draft=draft, mailbox_id=mailbox_id, clock=clock)


def _dispatcher(runtime: Runtime, clock: FakeClock, worker: str) -> Dispatcher:
    return Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock, concurrency=1,
                      worker_id=worker, lease=LEASE)


def _row(runtime: Runtime, row_id: int) -> OutboundMessage:
    with transaction(runtime.sessions) as session:
        row = session.get(OutboundMessage, row_id)
        assert row is not None
        return row


def _sent(runtime: Runtime) -> list[str]:
    return [str(m["Message-ID"]) for m in PostOffice(runtime.providers.sandbox).sent(MAILBOX)]  # type: ignore[attr-defined]


def _counted(runtime: Runtime, mailbox_id: int) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.coalesce(func.sum(MailboxSendCount.sends), 0))
                              .where(MailboxSendCount.mailbox_id == mailbox_id)) or 0


def _notices(runtime: Runtime) -> list[str]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(Notification.text).where(Notification.kind == "one_off_settled")))


def _claim_and_die(runtime: Runtime, clock: FakeClock, row_id: int, *, sent: bool) -> None:
    """A worker claims the row, maybe gets it to the provider, and is killed before recording."""
    with transaction(runtime.sessions, write=True) as session:
        taken = one_off.claim(session, now=clock.now(), worker_id="doomed", lease=LEASE, ids=[row_id])
    assert taken
    if sent:
        with transaction(runtime.sessions) as session:
            ((_, mailbox_id, email),) = one_off.load(session, [row_id], clock.now())
            mailbox = session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            provider = runtime.providers.for_mailbox(mailbox)
        assert isinstance(email, OutgoingEmail)
        provider.send(email)


def test_a_one_off_claimed_then_its_worker_killed_after_the_send_is_found_and_never_sent_twice(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    queued = _queue_one(runtime, clock, ids)
    (row_id,) = queued.ids
    _claim_and_die(runtime, clock, row_id, sent=True)
    assert len(_sent(runtime)) == 1

    survivor = _dispatcher(runtime, clock, "survivor")
    survivor.run_until_idle()  # the lease has not run out: nothing to take over, and the row is not pending
    assert _row(runtime, row_id).status == OutboundStatus.SENDING
    clock.advance(LEASE + timedelta(seconds=1))
    survivor.run_until_idle()
    survivor.send_now(queued.ids)  # the command's own send_now, late: nothing left to claim
    row = _row(runtime, row_id)
    assert (row.status, row.subject, row.body) == (OutboundStatus.SENT, None, None)  # no body of sent mail kept
    assert _sent(runtime) == [row.message_id]  # once
    assert _counted(runtime, ids[1]) == 1
    with transaction(runtime.sessions) as session:
        kept = session.scalar(select(DirectMessage))
        assert kept is not None and kept.message_id == row.message_id  # a reply reaches Rita
    assert _notices(runtime) == [f":envelope: Your email to noor@new.example went out from {MAILBOX} after all."]


def test_a_one_off_claimed_then_its_worker_killed_before_the_send_fails_and_is_never_sent(
        runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    queued = _queue_one(runtime, clock, ids)
    _claim_and_die(runtime, clock, queued.ids[0], sent=False)
    clock.advance(LEASE + timedelta(seconds=1))
    _dispatcher(runtime, clock, "survivor").run_until_idle()
    row = _row(runtime, queued.ids[0])
    assert (row.status, row.error_kind, row.subject) == (OutboundStatus.FAILED, "not_sent", None)
    assert _sent(runtime) == []
    assert _counted(runtime, ids[1]) == 0  # it never went out: its count is given back
    assert len(_notices(runtime)) == 1 and "was not sent" in _notices(runtime)[0]
    clock.advance(timedelta(hours=1))
    _dispatcher(runtime, clock, "later").run_until_idle()
    assert _sent(runtime) == []  # never resent


def test_a_preview_left_pending_by_a_dead_worker_is_sent_by_the_next_run_each_step_once(
        runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    queued = direct_send.queue_preview(runtime.sessions, user_id=user_id, sequence_id=sequence_id,
                                       mailbox_id=mailbox_id, samples={}, clock=clock)
    # the command's process died before its send_now
    dispatcher = _dispatcher(runtime, clock, "next")
    dispatcher.run_until_idle()
    with transaction(runtime.sessions) as session:
        rows = list(session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(queued.ids))
                                    .order_by(OutboundMessage.id)))
        assert [r.status for r in rows] == [OutboundStatus.SENT, OutboundStatus.SENT]
        assert _sent(runtime) == [r.message_id for r in rows]
        assert session.scalar(select(func.count()).select_from(DirectMessage)) == 0  # a preview is not kept
    assert _notices(runtime) == [f":envelope: Your preview went out from {MAILBOX} after all."]


def test_a_one_off_held_too_long_is_cancelled_and_its_sender_told(runtime: Runtime, clock: FakeClock) -> None:
    ids = _setup(runtime, clock)
    queued = _queue_one(runtime, clock, ids)
    with transaction(runtime.sessions, write=True) as session:  # a provider's Retry-After, after the queue
        mailbox = session.get(Mailbox, ids[1])
        assert mailbox is not None
        mailbox.not_before = clock.now() + timedelta(minutes=30)
    _dispatcher(runtime, clock, "w").send_now(queued.ids)
    with transaction(runtime.sessions) as session:
        user = session.get(User, ids[0])
    try:
        direct_send.result(runtime.sessions, queued, clock=clock)
    except direct_send.UserError as error:
        assert "is held for a moment" in error.message
    else:
        raise AssertionError("a held one-off was reported sent")
    clock.advance(one_off.HOLD_LIMIT + timedelta(seconds=1))
    _dispatcher(runtime, clock, "w").run_until_idle()
    row = _row(runtime, queued.ids[0])
    assert (row.status, row.error_kind) == (OutboundStatus.CANCELLED, "held")
    assert _sent(runtime) == [] and _counted(runtime, ids[1]) == 0
    assert user is not None and len(_notices(runtime)) == 1


def test_one_off_rows_never_appear_in_a_campaigns_claim_status_or_counts(runtime: Runtime, clock: FakeClock) -> None:
    user_id, mailbox_id, sequence_id = _setup(runtime, clock)
    with transaction(runtime.sessions, write=True) as session:
        rita, mailbox = session.get(User, user_id), session.get(Mailbox, mailbox_id)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=2)  # type: ignore[arg-type]
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        campaign_id = campaign.id
    preview = direct_send.queue_preview(runtime.sessions, user_id=user_id, sequence_id=sequence_id,
                                        mailbox_id=mailbox_id, samples={}, clock=clock)
    one = _queue_one(runtime, clock, (user_id, mailbox_id, sequence_id))
    dispatcher = _dispatcher(runtime, clock, "w")
    dispatcher.send_now(preview.ids)
    dispatcher.send_now(one.ids)
    with transaction(runtime.sessions) as session:
        kinds = dict(session.execute(select(OutboundMessage.kind, func.count()).where(
            OutboundMessage.status == OutboundStatus.SENT).group_by(OutboundMessage.kind)).all())
        assert kinds == {OutboundKind.PREVIEW: 2, OutboundKind.ONE_OFF: 1}
        view = campaign_status(session, session.get(type(campaign), campaign_id))  # type: ignore[arg-type]
        assert view.planned == 2 and sum(view.counts.values()) == 2
        assert all(line.enrollment_id is not None for line in view.candidates)
        assert (counts_of(session, [campaign_id])[campaign_id].sent) == 0
    clock.advance(timedelta(minutes=30))
    for _ in range(4):
        clock.advance(timedelta(seconds=61))
        dispatcher.run_until_idle()
    with transaction(runtime.sessions) as session:
        assert counts_of(session, [campaign_id])[campaign_id].sent == 2  # the campaign's own two step-1 sends
        view = campaign_status(session, session.get(type(campaign), campaign_id))  # type: ignore[arg-type]
        assert sum(view.counts.values()) == 2
        assert session.scalar(select(func.count()).where(
            OutboundMessage.kind != OutboundKind.CAMPAIGN, OutboundMessage.enrollment_id.is_not(None))) == 0
    assert len(_sent(runtime)) == 2 + 2 + 1  # the preview's two steps, the one-off, the campaign's two


def test_a_one_off_from_a_mailbox_someone_else_was_delegated_is_not_claimed(
        runtime: Runtime, clock: FakeClock) -> None:
    """The delegation check is about the row's own sender: Hana let Rita send from her mailbox, so
    Omar's one-off queued from it (his access gone, or forged) is never claimed, though Rita has
    rows of her own. (Its delegation test once ignored which row it was asked about.)"""
    with transaction(runtime.sessions, write=True) as session:
        hana = factories.recruiter(session, clock, slack_id="U0HANA")
        rita = factories.recruiter(session, clock)
        omar = factories.recruiter(session, clock, slack_id="U0OMAR")
        mailbox = factories.sandbox_mailbox(session, hana, clock, address=MAILBOX)
        session.add(Delegation(mailbox_id=mailbox.id, grantor_id=hana.id, grantee_id=rita.id,
                               status=DelegationStatus.APPROVED, requested_at=clock.now(),
                               expires_at=clock.now() + timedelta(days=7), decided_at=clock.now()))
        session.flush()
        rows = {}
        for sender in (rita, omar):
            rows[sender.slack_user_id] = OutboundMessage(
                kind=OutboundKind.ONE_OFF, sender_id=sender.id, mailbox_id=mailbox.id, step_position=1,
                to_address=f"noor+{sender.slack_user_id.lower()}@new.example", subject="Backend role",
                body="Hi Noor", message_id=f"<{sender.slack_user_id}@acme.example>",
                status=OutboundStatus.PENDING, due_at=clock.now(), created_at=clock.now())
            session.add(rows[sender.slack_user_id])
        session.flush()
        ids = {name: row.id for name, row in rows.items()}
    with transaction(runtime.sessions, write=True) as session:
        claimed = one_off.claim(session, now=clock.now(), worker_id="w", lease=LEASE)
    assert [i for ids_ in claimed.values() for i in ids_] == [ids["U0RITA"]]
    assert _row(runtime, ids["U0OMAR"]).status == OutboundStatus.PENDING
