"""How long a mailbox is read for replies (SPEC "Replies, bounces, out-of-office": 30 days after a
campaign's last send, and after a one-off send): the real MailboxSync against a sandbox store that
counts what it reads, so "not polled" means not one provider request, and an idle poll is one."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db import transaction
from bot.models import Enrollment, EnrollmentStatus, Mailbox
from bot.runtime import Runtime
from bot.services.campaigns import start_campaign
from bot.services.direct_send import Draft
from bot.services.sequences import StepDraft, create_sequence
from tests import factories
from tests.bot.test_direct_send import send_one, send_preview
from tests.clock_jobs import SYNC_INTERVAL, dispatch_for, sync_mailboxes
from tests.standins.counting_store import CountingStore

DAY = timedelta(days=1)


def _counting(runtime: Runtime) -> CountingStore:
    store = CountingStore(runtime.providers.sandbox.root)  # type: ignore[attr-defined]
    runtime.providers.sandbox = store  # type: ignore[attr-defined]
    return store


def _reads_of_a_sync_at(runtime: Runtime, clock: FakeClock, store: CountingStore, moment: datetime) -> int:
    """Provider reads of one sync run at `moment` (sync_mailboxes lets the interval pass first)."""
    clock.set(moment - 2 * SYNC_INTERVAL)
    store.reads = 0
    sync_mailboxes(runtime, clock)
    return store.reads


def test_a_finished_campaigns_mailbox_is_read_for_29_days_after_its_last_send_not_31(
        runtime: Runtime, clock: FakeClock) -> None:
    store = _counting(runtime)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        mailbox = factories.sandbox_mailbox(session, rita, clock)
        campaign = factories.campaign_with_candidates(session, rita, mailbox, clock)
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
    sync_mailboxes(runtime, clock)
    dispatch_for(runtime, clock, 4 * DAY)
    with transaction(runtime.sessions) as session:
        status, last_send = session.execute(select(Enrollment.status, Enrollment.last_sent_at)).one()
    assert status == EnrollmentStatus.FINISHED

    assert _reads_of_a_sync_at(runtime, clock, store, last_send + 28 * DAY) > 0  # catches up with our own sends
    assert _reads_of_a_sync_at(runtime, clock, store, last_send + 29 * DAY) == 1  # an idle poll: one read
    assert _reads_of_a_sync_at(runtime, clock, store, last_send + 31 * DAY) == 0  # not polled at all


def test_a_one_off_email_keeps_its_mailbox_read_and_a_preview_does_not(runtime: Runtime, clock: FakeClock) -> None:
    store = _counting(runtime)
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        one_off = factories.sandbox_mailbox(session, rita, clock, address="rita@acme.example").id
        preview = factories.sandbox_mailbox(session, rita, clock, address="previews@acme.example").id
        sequence = create_sequence(session, owner=rita, name="Backend", clock=clock,
                                   steps=[StepDraft("Backend role", "Hi {{ first_name }}, would you like to talk?")])
        rita_id, sequence_id = rita.id, sequence.id
    assert _reads_of_a_sync_at(runtime, clock, store, clock.now() + DAY) == 2  # each read once, to start its cursor
    assert _reads_of_a_sync_at(runtime, clock, store, clock.now() + DAY) == 0  # nothing sent: nothing to watch

    send_preview(runtime.sessions, user_id=rita_id, sequence_id=sequence_id, mailbox_id=preview, samples={},
                 providers=runtime.providers, clock=clock)
    draft = Draft(sequence_id, "Backend", 1, "noor@new.example", "Noor Haddad", "Backend role", "Hi Noor, shall we talk?")
    send_one(runtime.sessions, user_id=rita_id, draft=draft, mailbox_id=one_off, providers=runtime.providers,
             clock=clock)
    sent_at = clock.now()

    assert _reads_of_a_sync_at(runtime, clock, store, sent_at + 28 * DAY) > 0
    assert _reads_of_a_sync_at(runtime, clock, store, sent_at + 29 * DAY) == 1  # idle, and only that mailbox
    with transaction(runtime.sessions) as session:
        assert session.get(Mailbox, one_off).last_synced_at == sent_at + 29 * DAY  # type: ignore[union-attr]
        assert session.get(Mailbox, preview).last_synced_at < sent_at  # type: ignore[union-attr,operator]
    assert _reads_of_a_sync_at(runtime, clock, store, sent_at + 31 * DAY) == 0
