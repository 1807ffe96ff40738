"""Candidates from a CSV file or rows pasted from a spreadsheet: read every row, report every bad one
with its line and what to do, and add the good ones to a campaign only when the recruiter confirms.

Reading is pure (`read_csv`, `read_pasted`), so a handler can show the problems before anything is
written; bot/services/candidate_uploads.py keeps the good rows until the recruiter confirms.

The file's shape: a header row, then one row per candidate.
- `name`, or `first name` and `last name` (given, they are the template's `first_name` and
  `last_name`; else those are read from the name by bot/names.py);
- email columns, in relevancy order (SPEC "Choosing the recipient address"): `work email`,
  `personal email`, `other email`, or a bare `email` (type unknown: other); numbered variants such
  as `work email 2` or `email 3` are allowed;
- `time zone` (optional): an IANA name or a city (bot/services/time_zones.py); the send-time rules
  then run in the candidate's zone;
- every other column is a template field, keyed by its header in snake_case (`Company Name` →
  `{{ company_name }}`).
Headers match whatever their case, spaces, underscores or hyphens.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.models import AddressKind
from bot.services.addresses import check_address, control_problem
from bot.services.time_zones import read_zone

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
MAX_CELL = 1_000
MAX_NAME = 200  # Candidate.name
PROGRESS_ROWS = 500  # how often a reader with progress is told (about 10 ms of reading)
Progress = Callable[[int], None]  # told the rows read so far
PASTED = "pasted rows"

NOT_CSV = "this is not a CSV file (it looks like a spreadsheet or binary file): export it as CSV"
NO_ROWS = "the file has no candidate rows"
NO_NAME_COLUMN = "no name column: add a column called name (or first name and last name)"
NO_EMAIL_COLUMN = ("no email column: add a column called work email, personal email or email "
                   "(one per address; work email 2, email 3 … for more)")
SEVERAL = "put each address in its own column (work email 2, email 3 …)"


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
    time_zone: str | None = None  # IANA name, from the `time zone` column

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "name": self.name, "fields": self.fields, "time_zone": self.time_zone,
                "addresses": [[address, kind.value] for address, kind in self.addresses]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRow:
        return cls(line=int(data["line"]), name=str(data["name"]), fields=dict(data.get("fields") or {}),
                   addresses=[(str(a), AddressKind(k)) for a, k in data["addresses"]],
                   time_zone=data.get("time_zone"))


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
_ZONE_HEADERS = {"timezone", "tz"}  # "time zone", "Time-Zone", "timezone", "TZ"
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
    zone: int | None = None
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
        identity = compact if compact in _NAME_HEADERS or compact in _ZONE_HEADERS or _EMAIL_HEADER.fullmatch(compact) else key or compact
        if identity in seen:
            problems.append(RowProblem(line, f'column {number} ("{title}") has the same header as column '
                                             f'{seen[identity]}: rename or remove one of them'))
            continue
        seen[identity] = number
        if compact in _NAME_HEADERS:
            setattr(columns, _NAME_HEADERS[compact], index)
        elif compact in _ZONE_HEADERS:
            columns.zone = index
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

    def unreadable(index: int | None, *, multiline: bool = False) -> bool:
        """A control character in a name or a field: reported, since either may go into a subject,
        where a line break would start a header of its own and a NUL would break the email."""
        problem = control_problem(cell(index), multiline=multiline) if index is not None else None
        if problem:
            title = columns.titles[index] if index is not None and index < width else ""
            found.append(f'the cell in column "{title}" contains {problem}: remove it'
                         + ("" if multiline else ", a name is one line of plain text"))
        return bool(problem)

    name_columns = (columns.name,) if columns.name is not None else (columns.first, columns.last)
    broken_name = any([unreadable(i) for i in name_columns])  # a list: each column is reported
    name = cell(columns.name) or " ".join(p for p in (cell(columns.first), cell(columns.last)) if p)
    name = " ".join(name.split())
    if not name and not broken_name:
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
        address, problem = check_address(value, several=SEVERAL)
        if address is None:
            found.append(problem or "")
            bad_address = True
            continue
        if all(address != a for a, _ in addresses):
            addresses.append((address, kind))
    if not addresses and not bad_address:
        found.append("no email address: fill in at least one email column")
    zone, zone_problem = read_zone(cell(columns.zone)) if cell(columns.zone) else (None, None)
    if zone_problem:
        found.append(zone_problem)
    for index, _ in columns.fields:  # line breaks may stay: a field can be a paragraph of a body
        unreadable(index, multiline=True)
    if found:
        problems.extend(RowProblem(line, message) for message in found)
        return None
    fields = {key: value for index, key in columns.fields if (value := cell(index))}
    for key, index in (("first_name", columns.first), ("last_name", columns.last)):
        if cell(index):  # the file's own first or last name wins over what is read from the full name
            fields[key] = " ".join(cell(index).split())
    return CandidateRow(line=line, name=name, addresses=addresses, fields=fields, time_zone=zone)


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
            into.time_zone = into.time_zone or other.time_zone
            if other is not row:
                kept.remove(other)
    return kept, notes


def _parse(text: str, encoding: str, progress: Progress | None = None) -> ParsedRows:
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
        if progress is not None and count % PROGRESS_ROWS == 0:
            progress(count)
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


def read_csv(data: bytes, *, source: str, progress: Progress | None = None) -> ParsedRows:
    """Candidate rows from an uploaded file's bytes (`source` is its name); `progress` is told how many
    rows were read every PROGRESS_ROWS rows."""
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
    return _parse(text, encoding, progress)


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


def first_cells(data: bytes | str) -> tuple[list[tuple[int, str]], list[RowProblem]]:
    """The first cell of every non-empty row, with its line, for a one-column list (the do-not-contact
    list's CSV): decoded, split and refused as a candidate file is; any header is the caller's to skip.
    Returns the cells and what made the text unreadable."""
    if len(data) > MAX_BYTES:
        return [], [RowProblem(1, f"the file is over {MAX_BYTES // (1024 * 1024)} MB: split it into smaller files")]
    if isinstance(data, bytes):
        try:
            text, _ = _decode(data)
        except _NotText:
            return [], [RowProblem(1, NOT_CSV)]
    else:
        text = data
    if "\x00" in text or _looks_binary(text):
        return [], [RowProblem(1, NOT_CSV)]
    text = text.removeprefix("\ufeff")
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), None)
    if first is None:
        return [], [RowProblem(1, "there are no rows: one address or domain a line")]
    problems: list[RowProblem] = []
    cells = [(record.line, record.cells[0].strip()) for record in _records(text, _sniff_delimiter(first), problems)]
    if len(cells) > MAX_ROWS + 1:  # a header and MAX_ROWS values
        return [], [RowProblem(cells[MAX_ROWS + 1][0], f"there are more than {MAX_ROWS:,} rows: split the list into "
                                                        f"files of at most {MAX_ROWS:,} rows")]
    return cells, problems
