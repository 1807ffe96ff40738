"""Resuming several campaigns with progress shown (issue 17 §7): `/outreach resume` with several chosen,
and "Resume all" after a reconnect. Each campaign resumes in a transaction of its own
(bot.services.bulk_resume); between them, outside any transaction, a ProgressMessage moves, and it ends
with a summary: how many resumed, how many sends were planned again, and any that could not resume."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from slack_bolt import BoltContext

from bot.errors import UserError
from bot.services import bulk_resume
from bot.services.bulk_resume import Resumable, ResumeRun
from bot.services.fresh_statistics import refresh_after_bulk_write
from handlers.context import acting, runtime_of
from handlers.upload_progress import ProgressMessage

log = logging.getLogger(__name__)


def resume_with_progress(context: BoltContext, progress: ProgressMessage, campaigns: Sequence[Resumable]) -> ResumeRun:
    """Resume `campaigns` one by one for the acting user, showing where it stands; the summary last."""
    runtime = runtime_of(context)
    run = ResumeRun(campaigns)
    progress.show(runtime.clock.now(), run.progress(), force=True)  # before the first campaign
    for campaign in campaigns:
        try:
            with acting(context, write=True) as (session, user):
                run.replanned += bulk_resume.resume_one(session, user=user, campaign_id=campaign.id,
                                                        clock=runtime.clock, rng=runtime.rng)
            run.resumed.append(campaign)
        except UserError as error:  # changed since it was checked (resumed elsewhere, mailbox lost, …)
            run.failed.append((campaign, error.message))
        except Exception:  # noqa: BLE001 - told in the summary (with a reference to the log); the rest go on
            reference = uuid.uuid4().hex[:8]
            log.exception("resuming campaign %s failed (ref %s)", campaign.id, reference)
            run.failed.append((campaign, f"something went wrong on our side (reference {reference})"))
        if run.done < len(campaigns):  # the last one's news is the summary
            progress.show(runtime.clock.now(), run.progress())
    if run.replanned:
        refresh_after_bulk_write(runtime.sessions, rows=run.replanned)
    progress.update(run.summary())
    return run
