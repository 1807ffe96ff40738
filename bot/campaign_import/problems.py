"""What an import reports: each Problem (file, line, field path, message), ImportProblems (a
UserError holding them all, in file order) and the ImportResult of a good file."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Union
from zoneinfo import ZoneInfo

from bot.errors import UserError

Loc = tuple[Union[str, int], ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where (line, field path) and what to do about it."""

    file: str
    line: int | None  # 1-based; None when no line applies (an unreadable file)
    path: str  # e.g. "sequence.steps[2].delay_days"; "" for the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ImportProblems(UserError):
    """The file cannot be imported; `problems` holds every problem found, in file order."""

    def __init__(self, problems: list[Problem], file: str) -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        self.file = file
        count = len(self.problems)
        header = f"{file}: {count} problem{'s' if count != 1 else ''}, nothing was imported"
        super().__init__("\n".join([header, *(str(p) for p in self.problems)]))


@dataclass(frozen=True)
class ImportResult:
    campaign_id: int
    campaign_name: str
    owner_id: int
    mailbox_id: int
    mailbox_address: str
    sequence_id: int
    candidate_ids: list[int]
    steps: int
    timezone: str
    started: bool
    first_due: datetime | None = None  # earliest step-1 send time, when started (aware, UTC)
    last_due: datetime | None = None
    created_owner: bool = False
    created_mailbox: bool = False  # created, or a disconnected sandbox mailbox connected again
    dry_run: bool = False  # everything was rolled back

    @property
    def candidates(self) -> int:
        return len(self.candidate_ids)

    def summary(self) -> str:
        what = (f"campaign '{self.campaign_name}'" if self.dry_run
                else f"campaign {self.campaign_id} '{self.campaign_name}'")
        line = (f"{'Checked' if self.dry_run else 'Imported'} {what}: "
                f"{_count(self.candidates, 'candidate')}, {_count(self.steps, 'step')}, "
                f"from {self.mailbox_address}")
        if self.started and self.first_due and self.last_due:
            line += f"; started, step 1 due {_due_range(self.first_due, self.last_due, self.timezone)}"
        elif not self.started:
            line += "; not started (a draft; --start or `start: true` starts it at import)"
        if self.dry_run:
            line += "; dry run, nothing was written"
        return line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _due_range(first: datetime, last: datetime, zone_name: str) -> str:
    zone = ZoneInfo(zone_name)
    a, b = first.astimezone(zone), last.astimezone(zone)
    if a == b:
        return f"at {a:%Y-%m-%d %H:%M} ({zone_name})"
    end = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{end} ({zone_name})"
