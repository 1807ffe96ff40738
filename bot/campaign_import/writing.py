"""Writing a checked file in one transaction (owner, mailbox, sequence, campaign, candidates,
and Start when asked), and the Python API: import_campaign, import_campaign_text. Candidates and
enrollments go in by multi-row INSERTs (services/bulk_candidates.py) and Start plans step 1 in one
batch, so 10,000 candidates take about as long as a CSV confirm of the same rows (bench/campaign_import.py)."""
from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import yaml_limits
from bot.campaign_import.checks import Parsed, Target, check_database, parse
from bot.campaign_import.problems import ImportProblems, ImportResult, Problem
from bot.db import transaction
from bot.errors import UserError
from bot.models import AddressKind, Enrollment, OutboundMessage, Provider
from bot.runtime import Runtime
from bot.services.bulk_candidates import NewCandidate, add_candidates, enroll_candidates
from bot.services.campaign_marks import mark_stale
from bot.services.campaigns import create_campaign, start_campaign
from bot.services.directory import Profile, ensure_user
from bot.services.fresh_statistics import refresh_after_bulk_write
from bot.services.mailboxes import connect_mailbox, set_limits
from bot.services.sequences import StepDraft, create_sequence
from bot.wording import counted

Progress = Callable[[str], None]  # told each phase of a large import, for the command line's stderr
PROGRESS_FROM = 1_000  # candidates: smaller files import in about a second, without phases told


def _quiet(_: str) -> None:
    pass


def write(session: Session, runtime: Runtime, parsed: Parsed, target: Target, start: bool,
          progress: Progress = _quiet) -> ImportResult:
    assert parsed.owner and parsed.mailbox and parsed.sequence and parsed.campaign
    clock, owner_spec, mailbox_spec, settings = runtime.clock, parsed.owner, parsed.mailbox, parsed.campaign
    owner = target.owner
    if owner is None:
        owner = ensure_user(session, slack_team_id=owner_spec.team, clock=clock, profile=Profile(
            owner_spec.user, name=owner_spec.name, email=owner_spec.email, tz=owner_spec.tz or "UTC"))
    mailbox = target.mailbox
    if target.connect_sandbox:
        mailbox = connect_mailbox(session, owner=owner, provider=Provider.SANDBOX, address=mailbox_spec.address,
                                  credentials=None, clock=clock)
    assert mailbox is not None
    set_limits(mailbox, daily_cap=mailbox_spec.daily_cap, min_spacing_seconds=mailbox_spec.min_spacing_seconds)
    steps = [s for s in parsed.steps if s is not None]
    sequence = target.sequence or create_sequence(  # reused: the same name and steps (checks._check_names)
        session, owner=owner, name=parsed.sequence.name, clock=clock,
        steps=[StepDraft(s.subject, s.body, s.delay_days) for s in steps])
    campaign = create_campaign(
        session, owner=owner, sequence=sequence, mailbox=mailbox, name=settings.name or sequence.name,
        clock=clock, timezone=settings.timezone, preference=settings.preference, specific_time=settings.at,
        send_days=settings.send_days, email_preference=AddressKind(settings.email_preference),
        strict_preference=settings.strict, alert_channel_id=settings.alert_channel, same_thread=settings.same_thread,
    )
    campaign.holidays = [d.isoformat() for d in sorted(set(settings.holidays))]  # create_campaign has no holidays
    people = add_candidates(session, added_by=owner, now=clock.now(), checked=True, people=[NewCandidate(
        spec.name, [(a.address, a.type) for a in spec.addresses], dict(spec.fields),
        next((a.address for a in spec.addresses if a.use_first), None))
        for spec in parsed.candidates if spec is not None])
    progress(f"added {counted(len(people), 'candidate')}")
    enroll_candidates(session, campaign_id=campaign.id, candidate_ids=people, now=clock.now())
    mark_stale(session, [campaign.id])
    session.flush()
    progress(f"enrolled {counted(len(people), 'candidate')} in '{campaign.name}'")
    first_due = last_due = None
    if start:
        start_campaign(session, campaign=campaign, clock=clock, rng=runtime.rng)
        progress(f"started: step 1 planned for {counted(len(people), 'candidate')}")
        first_due, last_due = session.execute(
            select(func.min(OutboundMessage.due_at), func.max(OutboundMessage.due_at))
            .join(Enrollment, Enrollment.id == OutboundMessage.enrollment_id)
            .where(Enrollment.campaign_id == campaign.id, OutboundMessage.step_position == 1)
        ).one()
    return ImportResult(
        campaign_id=campaign.id, campaign_name=campaign.name, owner_id=owner.id, mailbox_id=mailbox.id,
        mailbox_address=mailbox.address, sequence_id=sequence.id, candidate_ids=people,
        steps=len(steps), timezone=campaign.timezone, started=start, first_due=_aware(first_due),
        last_due=_aware(last_due), created_owner=target.owner is None, created_mailbox=target.connect_sandbox,
    )


def _aware(value: datetime | None) -> datetime | None:
    """func.min() skips the column type, so the value may come back naive (UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a file becomes objects and rows: 10,000 candidates are
    millions of young objects, none garbage yet, which it would walk again and again (two thirds of
    reading the file). Whatever cycles an import leaves are collected as usual afterwards."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        self.result = result


def import_campaign(runtime: Runtime, source: str | PathLike[str], *, start: bool = False,
                    dry_run: bool = False, progress: Progress | None = None) -> ImportResult:
    """Import the campaign file at `source` (a path). Raises ImportProblems listing every problem;
    then nothing is written. `start` (or `start: true` in the file) starts the campaign at once;
    `dry_run` does everything, then rolls it back. `progress` is told each phase of a file of at least
    PROGRESS_FROM candidates."""
    name = str(source)
    try:
        too_big = yaml_limits.size_problem(Path(source).stat().st_size)  # before reading it into memory
        if too_big:
            raise ImportProblems([Problem(name, None, "", too_big)], name)
        text = Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblems([Problem(name, None, "", f"not UTF-8 text ({exc.reason}): expected a UTF-8 "
                                                      "YAML file")], name) from None
    except OSError as exc:
        raise ImportProblems([Problem(name, None, "", f"cannot read the file: {exc.strerror or exc}")],
                             name) from None
    return import_campaign_text(runtime, text, file=name, start=start, dry_run=dry_run, progress=progress)


def import_campaign_text(runtime: Runtime, text: str, *, file: str = "<text>", start: bool = False,
                         dry_run: bool = False, progress: Progress | None = None) -> ImportResult:
    """As import_campaign, from YAML text; `file` names it in problems."""
    too_big = yaml_limits.size_problem(len(text))
    if too_big:
        raise ImportProblems([Problem(file, None, "", too_big)], file)
    with _collector_paused():
        return _import(runtime, text, file=file, start=start, dry_run=dry_run, progress=progress)


def _import(runtime: Runtime, text: str, *, file: str, start: bool, dry_run: bool,
            progress: Progress | None) -> ImportResult:
    parsed = parse(text, file)
    if not parsed.structure_ok:
        raise ImportProblems(parsed.doc.problems, file)
    tell = progress if progress is not None and len(parsed.candidates) >= PROGRESS_FROM else _quiet
    tell(f"read {counted(len(parsed.candidates), 'candidate')} from {file}")
    start = start or bool(parsed.campaign and parsed.campaign.start)
    if start and not parsed.candidates and not parsed.doc.is_bad(("candidates",)):
        parsed.doc.report(("candidates",), "a campaign without candidates cannot start: expected a list of "
                                           "candidates, or no --start (and no `start: true`)")
    try:
        with transaction(runtime.sessions, write=True) as session:
            target = check_database(session, runtime, parsed, start)
            if not parsed.complete:
                raise ImportProblems(parsed.doc.problems, file)
            tell("checked: no problems; writing")
            try:
                result = write(session, runtime, parsed, target, start, tell)
            except ImportProblems:
                raise
            except UserError as exc:  # a rule a service keeps that the checks above did not foresee
                raise ImportProblems([Problem(file, None, exc.field or "", exc.message)], file) from exc
            if dry_run:
                raise _DryRun(result)
    except _DryRun as rolled_back:
        tell("dry run: everything rolled back")
        return replace(rolled_back.result, dry_run=True)
    tell("committed; refreshing the database's statistics")
    refresh_after_bulk_write(runtime.sessions, rows=len(result.candidate_ids))  # after the commit: fresh plans
    return result
