"""Candidates from a CSV file or rows pasted from a spreadsheet: read every row, report every bad one
with its line and what to do, and add the good ones to a campaign only when the recruiter confirms.

Reading is pure (`read_csv`, `read_pasted`), so a handler can show the problems before anything is
written. The good rows wait in a CandidateUpload (`stage_upload`) until the person who uploaded them
confirms (`confirm_upload`), which writes them in bulk, in the caller's transaction.

The file's shape: a header row, then one row per candidate.
- `name`, or `first name` and `last name`;
- email columns, in relevancy order (SPEC "Choosing the recipient address"): `work email`,
  `personal email`, `other email`, or a bare `email` (type unknown: other); numbered variants such
  as `work email 2` or `email 3` are allowed;
- every other column is a template field, keyed by its header in snake_case (`Company Name` →
  `{{ company_name }}`).
Headers match whatever their case, spaces, underscores or hyphens.
"""
from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from bot.clock import Clock
from bot.errors import NotFound, UserError
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateAddress,
    CandidateUpload,
    Enrollment,
    User,
)
from bot.services.mailboxes import normalise_address
from scheduling import planner

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
MAX_CELL = 1_000
MAX_NAME = 200  # Candidate.name
MAX_ADDRESS = 320  # CandidateAddress.address
PASTED = "pasted rows"

NOT_CSV = "this is not a CSV file (it looks like a spreadsheet or binary file): export it as CSV"
NO_ROWS = "the file has no candidate rows"
NO_NAME_COLUMN = "no name column: add a column called name (or first name and last name)"
NO_EMAIL_COLUMN = ("no email column: add a column called work email, personal email or email "
                   "(one per address; work email 2, email 3 … for more)")


# --- What reading gives ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RowProblem:
    line: int  # the physical line in the file where the row starts; the header is line 1
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowProblem:
        return cls(line=int(data["line"]), message=str(data["message"]))


@dataclass
class CandidateRow:
    line: int
    name: str
    addresses: list[tuple[str, AddressKind]]  # normalised, in relevancy order, each once
    fields: dict[str, str]  # template fields; empty cells are absent

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "name": self.name, "fields": self.fields,
                "addresses": [[address, kind.value] for address, kind in self.addresses]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRow:
        return cls(line=int(data["line"]), name=str(data["name"]), fields=dict(data.get("fields") or {}),
                   addresses=[(str(a), AddressKind(k)) for a, k in data["addresses"]])


@dataclass
class ParsedRows:
    rows: list[CandidateRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # "line 7 merged into line 3: same address x@y"
    encoding: str = "utf-8"


# --- Decoding -------------------------------------------------------------------------------------

# Magic numbers of what people upload instead of a CSV: xlsx/ods/numbers (zip), xls (OLE2), PDF, images.
_BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff")
_SPREADSHEET_SUFFIXES = (".xlsx", ".xls", ".xlsm", ".ods", ".numbers")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class _NotText(Exception):
    pass


def _decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with. Raises _NotText for binary data."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise _NotText from None
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data:
        raise _NotText
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _detect(data)
    if encoding is not None:
        return data.decode(encoding), encoding
    return data.decode("cp1252", errors="replace"), "cp1252"


def _detect(data: bytes) -> str | None:
    """charset_normalizer's guess, except that Windows-1252 (what Excel writes in Western Europe and
    the Americas) wins whenever it reads the bytes as cleanly: on short files of Latin names the
    detector often picks a look-alike code page (cp775, cp1250) that turns "José" into "Josķ"."""
    import charset_normalizer  # imported here: a slow import, needed only for files that are not UTF-8

    best = charset_normalizer.from_bytes(data).best()
    western = charset_normalizer.from_bytes(data, cp_isolation=["cp1252"]).best()
    if western is not None and (best is None or western.chaos <= best.chaos):
        return "cp1252"
    return best.encoding if best is not None else None


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    return bool(sample) and len(_CONTROL.findall(sample)) > max(2, len(sample) // 100)


# --- Headers --------------------------------------------------------------------------------------

_EMAIL_HEADER = re.compile(r"(work|personal|other)?e?mail(?:address)?(\d*)")
_NAME_HEADERS = {"name": "name", "fullname": "name", "firstname": "first", "givenname": "first",
                 "lastname": "last", "surname": "last", "familyname": "last"}
_KINDS = {"work": AddressKind.WORK, "personal": AddressKind.PERSONAL, "other": AddressKind.OTHER, "": AddressKind.OTHER}
# Words a Jinja expression reads as an operator or a constant, so `{{ in }}` could never be a field.
_RESERVED = {"and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "loop", "self"}
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _compact(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.strip().lower())


def _field_key(header: str) -> str:
    """`Company Name` → `company_name`; accents dropped (`Société` → `societe`)."""
    ascii_text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


@dataclass
class _Columns:
    name: int | None = None
    first: int | None = None
    last: int | None = None
    emails: list[tuple[int, AddressKind]] = field(default_factory=list)  # header order = relevancy order
    fields: list[tuple[int, str]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # the headers as written, for messages
    unnamed: set[int] = field(default_factory=set)  # empty headers: fine while their cells are empty
    delimiter: str = ","

    @property
    def has_name(self) -> bool:
        return self.name is not None or self.first is not None or self.last is not None


def _read_header(cells: list[str], line: int, problems: list[RowProblem]) -> _Columns:
    columns = _Columns(titles=[c.strip() for c in cells])
    seen: dict[str, int] = {}  # compact header → column number (1-based), to find duplicates
    for index, title in enumerate(columns.titles):
        number = index + 1
        if not title:
            columns.unnamed.add(index)
            continue
        compact = _compact(title)
        key = _field_key(title)
        identity = compact if compact in _NAME_HEADERS or _EMAIL_HEADER.fullmatch(compact) else key or compact
        if identity in seen:
            problems.append(RowProblem(line, f'column {number} ("{title}") has the same header as column '
                                             f'{seen[identity]}: rename or remove one of them'))
            continue
        seen[identity] = number
        if compact in _NAME_HEADERS:
            setattr(columns, _NAME_HEADERS[compact], index)
        elif email := _EMAIL_HEADER.fullmatch(compact):
            columns.emails.append((index, _KINDS[email.group(1) or ""]))
        elif not key:
            problems.append(RowProblem(line, f'column {number} ("{title}") cannot name a template field: use '
                                             "letters, digits and spaces in its header"))
        elif not _IDENTIFIER.fullmatch(key):
            problems.append(RowProblem(line, f'column {number} ("{title}") cannot name a template field: start '
                                             "its header with a letter"))
        elif key in _RESERVED:
            problems.append(RowProblem(line, f'column {number} ("{title}") is a word templates reserve: rename it '
                                             f'(e.g. "{key} value")'))
        else:
            columns.fields.append((index, key))
    if not columns.has_name:
        problems.append(RowProblem(line, NO_NAME_COLUMN))
    if not columns.emails:
        problems.append(RowProblem(line, NO_EMAIL_COLUMN))
    return columns


def _sniff_delimiter(header_line: str) -> str:
    """The delimiter the header uses most, outside quotes; comma when it uses none."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts.values())
    if best == 0:
        return ","
    return next(d for d in ("\t", ";", ",") if counts[d] == best)  # a tie: tabs and semicolons are deliberate


# --- Rows -----------------------------------------------------------------------------------------

# An address: no spaces or list punctuation, one @, a dotted domain ending in a name of 2+ letters.
_ADDRESS = re.compile(r"[^\s@,;:<>()\[\]\"]+@(?:[^\s@,;:<>()\[\]\".]+\.)+[^\s@,;:<>()\[\]\".\d]{2,}")
_SEPARATORS = re.compile(r"[\s,;]+")


def _address_problem(cell: str) -> str | None:
    if len(cell) <= MAX_ADDRESS and _ADDRESS.fullmatch(cell):
        return None
    parts = [p for p in _SEPARATORS.split(cell) if p]
    if len(parts) > 1 and all(_ADDRESS.fullmatch(p) for p in parts):
        return (f'"{cell}" holds more than one address: put each address in its own column '
                '(work email 2, email 3 …)')
    shown = cell if len(cell) <= 80 else cell[:77] + "…"
    return f'"{shown}" is not an email address: expected name@example.com'


@dataclass
class _Record:
    line: int
    cells: list[str]


class _Lines:
    """Feeds csv.reader line by line, noting when the text ran out: a record the reader hands over
    after that is one whose quote was never closed (csv swallows the rest of the file into it)."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.exhausted = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._lines)
        except StopIteration:
            self.exhausted = True
            raise


def _records(text: str, delimiter: str, problems: list[RowProblem]) -> Iterator[_Record]:
    """Every non-empty record with the physical line it starts on (quoted cells may span lines)."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=False)
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:  # csv's own limit on a cell (128 KiB): far over ours
            problems.append(RowProblem(previous_end + 1, f"a cell is over {MAX_CELL:,} characters: shorten it "
                                                         f"to at most {MAX_CELL:,}"))
            previous_end = reader.line_num
            continue
        start, previous_end = previous_end + 1, reader.line_num
        if lines.exhausted and any("\n" in c or "\r" in c for c in cells):
            problems.append(RowProblem(start, "a quote (\") opened on this line is never closed, so the rest of "
                                              "the file was read as one cell: close the quote or remove it"))
            return
        if any(c.strip() for c in cells):
            yield _Record(start, cells)


def _read_row(record: _Record, columns: _Columns, problems: list[RowProblem]) -> CandidateRow | None:
    cells, line = record.cells, record.line
    found: list[str] = []
    width = len(columns.titles)
    if any(c.strip() for c in cells[width:]):
        used = max(i for i, c in enumerate(cells) if c.strip()) + 1
        found.append(f"this row has {used} cells but the header has {width} columns: remove the extra cells, "
                     f"or put quotes around values that contain {columns.delimiter}")
    for index, cell in enumerate(cells):
        if len(cell) > MAX_CELL:
            where = f'"{columns.titles[index]}"' if index < width and columns.titles[index] else f"{index + 1}"
            found.append(f"the cell in column {where} has {len(cell):,} characters: shorten it to at most "
                         f"{MAX_CELL:,}")
    for index in sorted(columns.unnamed):
        if index < len(cells) and cells[index].strip():
            found.append(f"column {index + 1} has a value but no header: name the column in the header, or "
                         "remove the value")

    def cell(index: int | None) -> str:
        return cells[index].strip() if index is not None and index < len(cells) else ""

    name = cell(columns.name) or " ".join(p for p in (cell(columns.first), cell(columns.last)) if p)
    name = " ".join(name.split())
    if not name:
        found.append("no name: fill in the " + ("name column" if columns.name is not None
                                                 else "first name and last name columns"))
    elif len(name) > MAX_NAME:
        found.append(f"the name has {len(name)} characters: shorten it to at most {MAX_NAME}")
    addresses: list[tuple[str, AddressKind]] = []
    bad_address = False
    for index, kind in columns.emails:
        value = cell(index)
        if not value:
            continue
        problem = _address_problem(value)
        if problem:
            found.append(problem)
            bad_address = True
            continue
        address = normalise_address(value)
        if all(address != a for a, _ in addresses):
            addresses.append((address, kind))
    if not addresses and not bad_address:
        found.append("no email address: fill in at least one email column")
    if found:
        problems.extend(RowProblem(line, message) for message in found)
        return None
    fields = {key: value for index, key in columns.fields if (value := cell(index))}
    return CandidateRow(line=line, name=name, addresses=addresses, fields=fields)


def _merge_duplicates(rows: list[CandidateRow]) -> tuple[list[CandidateRow], list[str]]:
    """Rows sharing an address are one person: merged into the earliest, addresses unioned in order,
    the first non-empty value of each field kept."""
    kept: list[CandidateRow] = []
    owner: dict[str, CandidateRow] = {}
    notes: list[str] = []
    for row in rows:
        targets: list[tuple[CandidateRow, str]] = []
        for address, _ in row.addresses:
            target = owner.get(address)
            if target is not None and all(t is not target for t, _ in targets):
                targets.append((target, address))
        if not targets:
            kept.append(row)
            for address, _ in row.addresses:
                owner[address] = row
            continue
        targets.sort(key=lambda t: t[0].line)
        into, shared = targets[0]
        for other, other_shared in [*targets[1:], (row, shared)]:  # a row may join two earlier people
            why = f"same address {shared}" if other is row else f"line {row.line} shares {other_shared} with it"
            notes.append(f"line {other.line} merged into line {into.line}: {why}")
            for address, kind in other.addresses:
                if address not in (a for a, _ in into.addresses):
                    into.addresses.append((address, kind))
                owner[address] = into
            for key, value in other.fields.items():
                into.fields.setdefault(key, value)
            if other is not row:
                kept.remove(other)
    return kept, notes


def _parse(text: str, encoding: str) -> ParsedRows:
    result = ParsedRows(encoding=encoding)
    text = text.removeprefix("\ufeff")
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), None)
    if first is None:
        result.problems.append(RowProblem(1, NO_ROWS))
        return result
    delimiter = _sniff_delimiter(first)
    problems: list[RowProblem] = []
    records = _records(text, delimiter, problems)
    header = next(records, None)
    if header is None:
        result.problems = problems or [RowProblem(1, NO_ROWS)]
        return result
    columns = _read_header(header.cells, header.line, problems)
    columns.delimiter = {"\t": "a tab", ";": "a semicolon", ",": "a comma"}[delimiter]
    header_ok = not problems
    rows: list[CandidateRow] = []
    count = 0
    for record in records:
        count += 1
        if count > MAX_ROWS:
            result.problems = [RowProblem(record.line, f"the file has more than {MAX_ROWS:,} rows: split it into "
                                                       f"files of at most {MAX_ROWS:,} rows")]
            return result
        if columns.has_name and columns.emails:
            row = _read_row(record, columns, problems)
            if row is not None:
                rows.append(row)
    result.problems = sorted(problems, key=lambda p: p.line)
    if count == 0 and not result.problems:
        result.problems = [RowProblem(header.line, NO_ROWS)]
    if header_ok:  # a header with problems keeps nothing: its columns cannot be trusted
        result.rows, result.merged = _merge_duplicates(rows)
    return result


def read_csv(data: bytes, *, source: str) -> ParsedRows:
    """Candidate rows from an uploaded file's bytes (`source` is its name)."""
    if len(data) > MAX_BYTES:
        return ParsedRows(problems=[RowProblem(1, f"the file is over {MAX_BYTES // (1024 * 1024)} MB: split it "
                                                  f"into smaller files")], encoding="")
    if source.lower().endswith(_SPREADSHEET_SUFFIXES) and not _is_plain_text(data):
        return ParsedRows(problems=[RowProblem(1, NOT_CSV)], encoding="")
    try:
        text, encoding = _decode(data)
    except _NotText:
        return ParsedRows(problems=[RowProblem(1, NOT_CSV)], encoding="")
    if _looks_binary(text):
        return ParsedRows(problems=[RowProblem(1, NOT_CSV)], encoding=encoding)
    return _parse(text, encoding)


def _is_plain_text(data: bytes) -> bool:
    try:
        _decode(data[:65536])
    except _NotText:
        return False
    return True


def read_pasted(text: str) -> ParsedRows:
    """Candidate rows pasted as text (from a spreadsheet: tab-separated)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        return ParsedRows(problems=[RowProblem(1, f"the text is over {MAX_BYTES // (1024 * 1024)} MB: add it in "
                                                  "smaller parts")])
    if "\x00" in text or _looks_binary(text):
        return ParsedRows(problems=[RowProblem(1, NOT_CSV)])
    return _parse(text, "utf-8")


# --- Writing --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfirmResult:
    added: int  # candidates newly enrolled in the campaign (new people and people already known)
    merged_with_existing: int  # rows that matched a candidate the organisation already had
    already_enrolled: int  # rows whose candidate was already in this campaign: not enrolled twice

    def describe(self) -> str:
        """E.g. "Added 3 candidates (2 already known; 1 was already in the campaign)"."""
        text = f"Added {self.added or 'no'} candidate{'' if self.added == 1 else 's'}"
        notes = []
        if self.merged_with_existing:
            notes.append(f"{self.merged_with_existing} already known")
        if self.already_enrolled:
            notes.append(f"{self.already_enrolled} {'was' if self.already_enrolled == 1 else 'were'} already in "
                         "the campaign")
        return f"{text} ({'; '.join(notes)})" if notes else text


LOOKUP_CHUNK = 5_000  # addresses per IN (...): few queries, far below SQLite's and PostgreSQL's limits


def _campaign_takes_candidates(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.FINISHED:
        raise UserError(f"'{campaign.name}' has finished, so it cannot take new candidates: "
                        "start a new campaign for them.")


def _check_campaign(campaign: Campaign, user: User) -> None:
    if campaign.organisation_id != user.organisation_id:
        raise NotFound("That campaign was not found.")
    _campaign_takes_candidates(campaign)


def stage_upload(session: Session, *, campaign: Campaign | None, user: User, parsed: ParsedRows, source: str,
                 clock: Clock) -> CandidateUpload:
    """Keep the parsed rows and problems until the uploader confirms; nothing else is written.
    `campaign` may be None (a file shared with the bot): the campaign is then named at confirmation."""
    if campaign is not None:
        _check_campaign(campaign, user)
    upload = CandidateUpload(
        organisation_id=user.organisation_id, user_id=user.id, campaign_id=campaign.id if campaign else None,
        source=(source.strip() or PASTED)[:200], rows=[row.to_json() for row in parsed.rows],
        problems=[problem.to_json() for problem in parsed.problems], created_at=clock.now(),
    )
    session.add(upload)
    session.flush()
    return upload


def _pending_upload(session: Session, upload_id: int, user: User) -> CandidateUpload:
    """The upload, locked against a second click confirming it at the same time."""
    upload = session.scalar(select(CandidateUpload).where(CandidateUpload.id == upload_id).with_for_update())
    if upload is None or upload.organisation_id != user.organisation_id:
        raise NotFound("Those rows are no longer waiting to be added: upload the file again.")
    if upload.user_id != user.id:
        raise UserError("Only the person who uploaded these rows can add them to a campaign.")
    if upload.confirmed_at is not None:
        raise UserError("These rows were already added to the campaign.")
    return upload


def confirm_upload(session: Session, *, upload_id: int, user: User, clock: Clock, campaign: Campaign | None = None,
                   rng: random.Random | None = None) -> ConfirmResult:
    """Write a staged upload's rows into its campaign (or `campaign`, for an upload staged without
    one): new candidates are created, known ones (an address this user can see already belongs to
    them) are reused. In a started campaign each new enrollment gets step 1 planned as at Start; in a
    paused one, resume_campaign plans it. `rng` picks send times (the runtime's, in the bot)."""
    upload = _pending_upload(session, upload_id, user)
    if campaign is None:
        campaign = session.get(Campaign, upload.campaign_id) if upload.campaign_id is not None else None
        if campaign is None:
            raise UserError("Pick the campaign to add these candidates to.", field="campaign")
    elif upload.campaign_id not in (None, campaign.id):
        raise UserError("These rows were uploaded for another campaign: add them there, or upload them again.")
    _check_campaign(campaign, user)
    rows = [CandidateRow.from_json(r) for r in upload.rows]
    if not rows:
        raise UserError("There are no good rows to add: fix the problems and upload the file again.")
    now = clock.now()
    result, enrollment_ids = _Writer(session, campaign=campaign, user=user, now=now).write(rows)
    if enrollment_ids and campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
        _plan_first_steps(session, enrollment_ids, rng=rng or random.Random(), now=now)
    upload.campaign_id, upload.confirmed_at = campaign.id, now
    session.flush()
    return result


def discard_upload(session: Session, *, upload_id: int, user: User) -> None:
    """Drop rows waiting for confirmation (only their uploader may); nothing else changes."""
    session.delete(_pending_upload(session, upload_id, user))
    session.flush()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class _Known:
    """A candidate the organisation already has, as far as this upload changes it."""

    id: int
    name: str
    fields: dict[str, Any]
    addresses: set[str]
    next_position: int
    fields_changed: bool = False


class _Writer:
    """One confirm: a few bulk reads, then bulk inserts; no query per row."""

    def __init__(self, session: Session, *, campaign: Campaign, user: User, now: datetime) -> None:
        self.session, self.campaign, self.user, self.now = session, campaign, user, now

    def write(self, rows: list[CandidateRow]) -> tuple[ConfirmResult, list[int]]:
        owners = self._owners_of([a for row in rows for a, _ in row.addresses])
        known = self._load_known(set(owners.values()))
        enrolled_before = self._enrolled(list(known))
        new_candidates: list[CandidateRow] = []
        enrollments: dict[int, dict[str, Any]] = {}  # known candidate id → its new enrollment's overrides
        new_addresses: list[dict[str, Any]] = []
        merged = already = 0
        for row in rows:
            match = next((owners[a] for a, _ in row.addresses if a in owners), None)
            if match is None:
                new_candidates.append(row)
                continue
            merged += 1
            candidate = known[match]
            for address, kind in row.addresses:
                if address not in candidate.addresses and owners.get(address, match) == match:
                    new_addresses.append({"candidate_id": candidate.id, "address": address, "kind": kind,
                                          "position": candidate.next_position, "use_first": False,
                                          "added_by_id": None})
                    candidate.addresses.add(address)
                    candidate.next_position += 1
            overrides = self._absorb_fields(candidate, row)
            if candidate.id in enrolled_before:
                already += 1
            elif candidate.id in enrollments:  # two rows of the file are the same known person
                for key, value in overrides.items():
                    enrollments[candidate.id].setdefault(key, value)
            else:
                enrollments[candidate.id] = overrides
        new_ids = self._insert_candidates(new_candidates)
        for candidate_id, row in zip(new_ids, new_candidates):
            enrollments[candidate_id] = {}
            new_addresses.extend({"candidate_id": candidate_id, "address": address, "kind": kind,
                                  "position": position, "use_first": False, "added_by_id": None}
                                 for position, (address, kind) in enumerate(row.addresses, start=1))
        changed = [c for c in known.values() if c.fields_changed]
        if changed:
            self.session.execute(update(Candidate), [{"id": c.id, "fields": c.fields} for c in changed])
        for chunk in _chunks(new_addresses, LOOKUP_CHUNK):
            self.session.execute(insert(CandidateAddress), list(chunk))
        enrollment_ids = self._insert_enrollments(enrollments)
        self._forget_stale({c.id for c in changed} | {a["candidate_id"] for a in new_addresses})
        return ConfirmResult(added=len(enrollment_ids), merged_with_existing=merged, already_enrolled=already), \
            enrollment_ids

    def _owners_of(self, addresses: list[str]) -> dict[str, int]:
        """Address → the candidate of this organisation it belongs to, among addresses this user may
        see (SPEC: one added by hand is seen only by who added it); the oldest candidate on a tie."""
        owners: dict[str, int] = {}
        unique = sorted(set(addresses))
        for chunk in _chunks(unique, LOOKUP_CHUNK):
            found = self.session.execute(
                select(CandidateAddress.address, CandidateAddress.candidate_id)
                .join(Candidate, Candidate.id == CandidateAddress.candidate_id)
                .where(Candidate.organisation_id == self.user.organisation_id,
                       CandidateAddress.address.in_(chunk),
                       or_(CandidateAddress.added_by_id.is_(None), CandidateAddress.added_by_id == self.user.id))
                .order_by(CandidateAddress.candidate_id.desc()))
            owners.update({address: candidate_id for address, candidate_id in found})  # lowest id written last
        return owners

    def _load_known(self, ids: set[int]) -> dict[int, _Known]:
        known: dict[int, _Known] = {}
        ordered = sorted(ids)
        for chunk in _chunks(ordered, LOOKUP_CHUNK):
            for id_, name, fields in self.session.execute(
                    select(Candidate.id, Candidate.name, Candidate.fields).where(Candidate.id.in_(chunk))):
                known[id_] = _Known(id_, name, dict(fields or {}), set(), 1)
            # Every address, hidden ones included: they fix the next position and may not be added twice.
            for id_, address, position in self.session.execute(
                    select(CandidateAddress.candidate_id, CandidateAddress.address, CandidateAddress.position)
                    .where(CandidateAddress.candidate_id.in_(chunk))):
                known[id_].addresses.add(address)
                known[id_].next_position = max(known[id_].next_position, position + 1)
        return known

    def _enrolled(self, candidate_ids: list[int]) -> set[int]:
        enrolled: set[int] = set()
        for chunk in _chunks(sorted(candidate_ids), LOOKUP_CHUNK):
            enrolled.update(self.session.scalars(select(Enrollment.candidate_id).where(
                Enrollment.campaign_id == self.campaign.id, Enrollment.candidate_id.in_(chunk))))
        return enrolled

    @staticmethod
    def _absorb_fields(candidate: _Known, row: CandidateRow) -> dict[str, Any]:
        """New keys go on the candidate; values that differ stay in this campaign (fields_override),
        so other campaigns do not change (SPEC, seed 002). So does a different spelling of the name."""
        overrides: dict[str, Any] = {}
        for key, value in row.fields.items():
            if key not in candidate.fields:
                candidate.fields[key] = value
                candidate.fields_changed = True
            elif str(candidate.fields[key]) != value:
                overrides[key] = value
        if " ".join(candidate.name.split()).casefold() != row.name.casefold():
            first, _, last = row.name.partition(" ")
            overrides.update({"name": row.name, "first_name": first, "last_name": last.strip()})
        return overrides

    def _insert_candidates(self, rows: list[CandidateRow]) -> list[int]:
        return _insert_returning_ids(self.session, Candidate, [
            {"organisation_id": self.user.organisation_id, "name": row.name, "fields": row.fields,
             "created_by_id": self.user.id, "created_at": self.now} for row in rows])

    def _insert_enrollments(self, enrollments: dict[int, dict[str, Any]]) -> list[int]:
        return _insert_returning_ids(self.session, Enrollment, [
            {"campaign_id": self.campaign.id, "candidate_id": candidate_id, "fields_override": overrides,
             "tried_addresses": [], "created_at": self.now} for candidate_id, overrides in enrollments.items()])

    def _forget_stale(self, candidate_ids: set[int]) -> None:
        """Bulk statements bypass the session: expire loaded candidates they changed, so the caller's
        objects read the new fields and addresses."""
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Candidate) and obj.id in candidate_ids:
                self.session.expire(obj)


def _insert_returning_ids(session: Session, model: type[Candidate] | type[Enrollment],
                          rows: list[dict[str, Any]]) -> list[int]:
    """Insert in batches and return the new ids in the order of `rows`. PostgreSQL keeps the order
    itself (sort_by_parameter_order); SQLAlchemy can do that on SQLite only one row per statement,
    so there the ids are sorted instead: SQLite numbers a statement's rows upwards in the order given,
    and the write transaction (BEGIN IMMEDIATE) keeps anyone else from inserting in between."""
    if not rows:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    statement = insert(model).returning(model.id, sort_by_parameter_order=not sqlite)
    ids = list(session.scalars(statement, rows))
    return sorted(ids) if sqlite else ids


def _plan_first_steps(session: Session, enrollment_ids: list[int], *, rng: random.Random, now: datetime) -> None:
    """Step 1 for each new enrollment, as start_campaign plans it (no send sooner than 20 minutes).
    One Planner for all (plan_step's, for many: the steps are read once); the rows it makes are then
    written in one batch, since the ORM would insert them one by one on SQLite to learn their ids,
    which nothing here needs."""
    batch = planner.Planner(session, rng=rng, now=now)
    for chunk in _chunks(enrollment_ids, LOOKUP_CHUNK):
        enrollments = session.scalars(
            select(Enrollment).where(Enrollment.id.in_(chunk))
            .options(selectinload(Enrollment.candidate).selectinload(Candidate.addresses))
            .execution_options(populate_existing=True).order_by(Enrollment.id)).all()
        with session.no_autoflush:
            planned = [row for enrollment in enrollments if (row := batch.plan(enrollment, 1)) is not None]
            unflushed = {id(obj) for obj in session.new}  # not already flushed by the planner
            pending = [row for row in planned if id(row) in unflushed]
            for row in pending:
                session.expunge(row)
        session.bulk_save_objects(pending)
    session.flush()
