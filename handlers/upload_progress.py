"""Progress on long work in Slack (issues 16 and 17 §7): ProgressMessage, one message updated in place
while the work goes on and ending with a summary, used by the confirm of an upload below, the reading
of a shared CSV and bulk resumes (handlers/bulk_resume.py).

Adding a confirmed upload's rows (issue 16: nothing slow before the person sees something). After the ack, the message with the Add button becomes a progress message at once,
before any row is written; the rows are then written a chunk at a time, one transaction each
(bot/services/candidate_uploads.py), and between chunks, outside any transaction, the message is
updated at most every PROGRESS_EVERY by the runtime's clock; it ends with the summary. A run that
stops (an error, a crash) leaves its progress recorded: Resume on the message goes on from there."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk.errors import SlackApiError

from bot.db import transaction
from bot.errors import UserError
from bot.runtime import Runtime
from bot.services import access, candidate_uploads, fresh_statistics
from bot.services.access import Need
from handlers.context import acting, runtime_of
from handlers.payloads import UploadTarget, action_value
from handlers.slack import Slack
from handlers.views.uploads import progress_blocks, progress_text

log = logging.getLogger(__name__)
PROGRESS_EVERY = timedelta(seconds=1)  # Slack allows about one chat.update a second per message
Redraw = Callable[[Runtime, Slack, int], None]


class ProgressMessage:
    """A message in Slack updated in place (chat.update; response_url allows only five answers) as work
    goes on: at most every PROGRESS_EVERY by the runtime's clock, except when `force`d. Never called
    inside a database transaction; Slack failing to show progress never stops the work."""

    def __init__(self, slack: Slack, channel: str | None, ts: str | None = None, *, what: str = "work") -> None:
        self.slack, self.channel, self.ts, self.what = slack, channel, ts, what
        self.shown_at: datetime | None = None

    def show(self, now: datetime, text: str, blocks: Sequence[Any] = (), *, force: bool = False) -> None:
        if not force and self.shown_at is not None and now - self.shown_at < PROGRESS_EVERY:
            return
        self.shown_at = now
        self.update(text, blocks)

    def update(self, text: str, blocks: Sequence[Any] = ()) -> None:
        """Show this now (the summary at the end): the message, or a new one if it is gone."""
        try:
            if self.channel and self.ts and self.slack.update_if_there(self.channel, self.ts, text, list(blocks)):
                return
            if self.channel:  # the message is gone (or never was): the person still hears how it went
                self.ts = self.slack.post(self.channel, text, list(blocks))
        except SlackApiError as exc:
            log.warning("could not show the progress of %s: %s", self.what, exc.response.get("error"))


class _Progress:
    """The upload's message in the person's DM, where the Add button was."""

    def __init__(self, slack: Slack, container: dict[str, Any], job: candidate_uploads.ConfirmJob,
                 target: UploadTarget) -> None:
        self.job, self.target = job, target
        self.message = ProgressMessage(slack, container.get("channel_id"), container.get("message_ts"),
                                       what=f"upload {job.upload_id}")
        self.slack = slack

    def show(self, now: datetime, *, stopped: str | None = None) -> None:
        job = self.job
        self.message.show(now, progress_text(job.done, job.total, job.campaign_name, stopped=stopped),
                          progress_blocks(job.done, job.total, job.campaign_name, self.target, stopped=stopped),
                          force=stopped is not None)

    def finish(self) -> None:
        self.message.update(f":white_check_mark: {self.job.result.describe()} to *{self.job.campaign_name}*.")


def add_upload(body: dict[str, Any], context: BoltContext, respond: Respond, redraw: Redraw) -> None:
    """Write a staged upload into the campaign a button or the select names ("<upload>:<campaign>"),
    both re-checked for the clicking user, with progress on the message clicked; Resume on that
    message comes here too."""
    runtime = runtime_of(context)
    target = UploadTarget.load(action_value(body))
    try:
        with acting(context, write=True) as (session, user):
            campaign = access.campaign(session, user=user, campaign_id=target.campaign, need=Need.CHANGE).campaign
            job = candidate_uploads.begin_confirm(session, upload_id=target.upload, user=user, campaign=campaign,
                                                  clock=runtime.clock)
    except candidate_uploads.UploadExpired as expired:
        respond(replace_original=True, text=f":hourglass: {expired.message}")
        return
    except candidate_uploads.ConfirmRunning as running:
        respond(text=f":warning: {running.message}", response_type="ephemeral", replace_original=False)
        return
    progress = _Progress(Slack(context.client), body.get("container") or {}, job, target)
    progress.show(runtime.clock.now())  # before the first row is written
    analyze_at = 2 * fresh_statistics.BULK_ROWS
    while not job.finished:
        try:
            with acting(context, write=True) as (session, user):
                candidate_uploads.confirm_chunk(session, job=job, user=user, clock=runtime.clock, rng=runtime.rng)
        except candidate_uploads.ConfirmRunning:  # a Resume took over: that run shows its own progress here
            return
        except Exception as error:  # noqa: BLE001 - told on the message (with a reference to the log), then Resume
            _stopped(runtime, context, progress, error)
            return
        if not job.finished:  # the last chunk's news is the summary
            progress.show(runtime.clock.now())
        if job.done >= analyze_at or job.finished:  # each time the rows written double, and at the end: a
            analyze_at *= 2  # chunk's lookups must not plan on statistics of tables a fraction of their size
            fresh_statistics.refresh_after_bulk_write(runtime.sessions, rows=job.done)  # in a transaction of its own
    progress.finish()
    redraw(runtime, progress.slack, job.campaign_id)


def _stopped(runtime: Runtime, context: BoltContext, progress: _Progress, error: Exception) -> None:
    """Say where the rows stand and give up the claim, so Resume goes on at once (were the database
    itself what failed, Resume waits for the claim's lease instead)."""
    if isinstance(error, UserError):  # the campaign finished meanwhile, the rows expired, …
        why = error.message
    else:
        reference = uuid.uuid4().hex[:8]
        log.error("adding upload %s stopped (ref %s)", progress.job.upload_id, reference, exc_info=error)
        why = f"Something went wrong on our side (reference {reference})."
    progress.show(runtime.clock.now(), stopped=why)
    try:
        with transaction(runtime.sessions, write=True) as session:
            candidate_uploads.release_confirm(session, job=progress.job, clock=runtime.clock)
    except Exception:  # noqa: BLE001 - the lease runs out by itself
        log.exception("could not release upload %s", progress.job.upload_id)
