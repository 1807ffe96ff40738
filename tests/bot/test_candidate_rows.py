"""Candidates from a CSV file or pasted rows: every bad row reported with its line and what to do,
the good ones kept; confirmed rows written into a campaign, reusing candidates already known.
Reading is pure; writing runs on the real database (SQLite, and PostgreSQL when set)."""
from __future__ import annotations

import io
import json
import random
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from bot.clock import Clock, FakeClock
from bot.db import transaction
from bot.errors import UserError
from bot.models import (
    AddressKind,
    Campaign,
    CampaignStatus,
    Candidate,
    CandidateUpload,
    Enrollment,
    Mailbox,
    OutboundMessage,
    User,
)
from bot.runtime import Runtime
from bot.services import candidate_uploads
from bot.services.campaigns import enroll, pause_campaign, resume_campaign, start_campaign
from bot.services.candidate_uploads import confirm_upload, stage_upload
from bot.services.candidate_rows import (
    NO_EMAIL_COLUMN,
    NO_NAME_COLUMN,
    NO_ROWS,
    NOT_CSV,
    CandidateRow,
    ParsedRows,
    RowProblem,
    read_csv,
    read_pasted,
)
from bot.services.candidates import add_candidate
from bot.templates import candidate_values
from providers.sandbox import PostOffice, recipient_of
from scheduling.dispatcher import Dispatcher
from tests import factories

FIXTURES = Path(__file__).parent / "fixtures" / "candidates"
W, P, O = AddressKind.WORK, AddressKind.PERSONAL, AddressKind.OTHER


def fixture(name: str) -> ParsedRows:
    return read_csv((FIXTURES / name).read_bytes(), source=name)


def problems(parsed: ParsedRows) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in parsed.problems]


# --- Reading --------------------------------------------------------------------------------------

def test_a_good_file_gives_each_candidate_with_addresses_in_column_order_and_fields_in_snake_case() -> None:
    parsed = fixture("good.csv")
    assert parsed.problems == [] and parsed.merged == [] and parsed.encoding == "utf-8"
    assert parsed.rows == [
        CandidateRow(2, "Ana Lima", [("ana@acme.example", W), ("ana.lima@mail.example", P)],
                     {"company_name": "Acme", "role": "Backend engineer"}),
        CandidateRow(3, "Bo Chen", [("bo.chen@mail.example", P), ("bo@old.example", O)],  # lower-cased
                     {"company_name": "Initech, Inc."}),  # an empty cell is no field
        CandidateRow(4, "Cleo Park", [("cleo@globex.example", W)], {"company_name": "Globex", "role": "Data engineer"}),
    ]


def test_every_bad_row_is_reported_on_its_own_line_and_the_good_rows_are_kept() -> None:
    parsed = fixture("bad_rows.csv")
    # Line 3's quoted note spans lines 3-5, so the rows after it are on the lines an editor shows.
    assert problems(parsed) == [
        (6, "no name: fill in the name column"),
        (7, "no email address: fill in at least one email column"),
        (8, '"bob(at)x.com" is not an email address: expected name@example.com'),
        (10, "this row has 5 cells but the header has 4 columns: remove the extra cells, or put quotes "
             "around values that contain a comma"),
        (11, 'the cell in column "notes" has 1,001 characters: shorten it to at most 1,000'),
    ]
    assert [(r.line, r.name) for r in parsed.rows] == [(2, "Ana Lima"), (3, "Bo Chen"), (12, "Gus Grey")]
    assert parsed.rows[1].fields == {"notes": "a note\nover three\nlines"}


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv"])
def test_a_file_without_candidate_rows_says_so_once(name: str) -> None:
    parsed = fixture(name)
    assert problems(parsed) == [(1, NO_ROWS)] and parsed.rows == []


def test_a_header_without_a_name_or_an_email_column_is_reported_on_its_line() -> None:
    assert problems(read_csv(b"\n\ncompany,notes\nAcme,x\n", source="x.csv")) == [(3, NO_NAME_COLUMN),
                                                                                (3, NO_EMAIL_COLUMN)]
    assert problems(read_csv(b"company,email\nAcme,a@acme.example\n", source="x.csv")) == [(1, NO_NAME_COLUMN)]
    assert problems(read_csv(b"name,company\nAna,Acme\n", source="x.csv")) == [(1, NO_EMAIL_COLUMN)]


def test_header_names_match_whatever_their_case_spaces_underscores_or_numbering() -> None:
    parsed = read_csv(b"FIRST_NAME,last-name,WorkEmail,Work Email 2,E-mail 3,personal_email,Years Of XP\n"
                      b"Ana,Lima,ana@acme.example,ana@acme2.example,ana@x.example,ana@home.example,7\n", source="x.csv")
    assert parsed.problems == []
    assert parsed.rows == [CandidateRow(2, "Ana Lima", [("ana@acme.example", W), ("ana@acme2.example", W),
                                                        ("ana@x.example", O), ("ana@home.example", P)],
                                        {"years_of_xp": "7", "first_name": "Ana", "last_name": "Lima"})]


def test_a_first_name_column_is_the_templates_first_name_over_what_the_full_name_reads_as() -> None:
    """The file knows best: "Mary Ann" is her first name, though a parser of "Mary Ann Smith" says Mary."""
    parsed = read_csv(b"first name,last name,email\nMary Ann,Smith,mary@acme.example\n,Okafor,ob@acme.example\n",
                      source="x.csv")
    first, second = parsed.rows
    assert (first.name, first.fields) == ("Mary Ann Smith", {"first_name": "Mary Ann", "last_name": "Smith"})
    assert candidate_values(first.name, first.fields)["first_name"] == "Mary Ann"
    assert (second.name, second.fields) == ("Okafor", {"last_name": "Okafor"})


def test_a_header_that_cannot_name_a_field_or_is_given_twice_keeps_nothing() -> None:
    parsed = read_csv(b"name,email,2nd role,Company,company,if,,\nAna,ana@acme.example,x,Acme,Acme,y,,\n"
                      b"Bo,not-an-address,,,,,,\n", source="x.csv")
    assert problems(parsed) == [
        (1, 'column 3 ("2nd role") cannot name a template field: start its header with a letter'),
        (1, 'column 5 ("company") has the same header as column 4: rename or remove one of them'),
        (1, 'column 6 ("if") is a word templates reserve: rename it (e.g. "if value")'),
        (3, '"not-an-address" is not an email address: expected name@example.com'),  # still checked
    ]
    assert parsed.rows == []  # the columns cannot be trusted until the header is fixed


def test_a_value_under_an_empty_header_is_a_problem_but_empty_trailing_columns_are_not() -> None:
    parsed = read_csv(b"name,email,,\nAna,ana@acme.example,,\nBo,bo@acme.example,,oops\n", source="x.csv")
    assert problems(parsed) == [(3, "column 4 has a value but no header: name the column in the header, or "
                                    "remove the value")]
    assert [r.name for r in parsed.rows] == ["Ana"]


def test_several_addresses_in_one_cell_are_refused_with_how_to_list_them() -> None:
    parsed = read_csv(b'name,email\nAna,"ana@acme.example, ana@home.example"\n', source="x.csv")
    assert problems(parsed) == [(2, '"ana@acme.example, ana@home.example" holds more than one address: put '
                                    "each address in its own column (work email 2, email 3 …)")]


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize(("cell", "message"), [
    ("ana@x.example,boss@corp.example", '"ana@x.example,boss@corp.example" holds more than one address: put each '
                                        "address in its own column (work email 2, email 3 …)"),
    ("ana@@x..example", '"ana@@x..example" is not an email address (the part after the @-sign contains invalid '
                        "characters: '@'): expected name@example.com"),
    ('"a@b"@x.example', '""a@b"@x.example" has quotes before the @: expected a plain address such as '
                        "name@example.com"),
    ("ana@x.example\r\nBcc: evil@x.example", '"ana@x.example\\r\\nBcc: evil@x.example" contains a line break '
                                             "(U+000D): expected one address on one line, such as name@example.com"),
])
def test_an_address_a_provider_would_misread_is_refused_on_its_line(cell: str, message: str) -> None:
    """Two recipients in one cell, a doubled @, a quoted local part holding an @, a header smuggled
    after a line break: each would misdirect the email (issue 13)."""
    parsed = read_csv(("name,email\nBo,bo@acme.example\nAna," + _csv_cell(cell) + "\n").encode(), source="x.csv")
    assert problems(parsed) == [(3, message)]
    assert [r.name for r in parsed.rows] == ["Bo"]


def test_a_control_character_in_a_name_or_field_is_refused_but_a_field_may_span_lines() -> None:
    rows = [("Ana", _csv_cell("Li\rma"), "ana@acme.example", "Acme", ""),
            ("Bo", "Chen", "bo@acme.example", _csv_cell("Ini\x01tech"), ""),
            ("Cy", _csv_cell("Pa\u2028rk"), "cy@acme.example", "Globex", ""),
            ("Di", "Ng", "di@acme.example", "Hooli", _csv_cell("two\nlines"))]
    text = "first name,last name,email,company,notes\n" + "".join(",".join(row) + "\n" for row in rows)
    parsed = read_pasted(text)
    assert problems(parsed) == [  # Ana's quoted CR ends a line: Bo's row starts on line 4
        (2, 'the cell in column "last name" contains a line break (U+000D): remove it, a name is one line of '
            "plain text"),
        (4, 'the cell in column "company" contains a control character (U+0001): remove it'),
        (5, 'the cell in column "last name" contains a line separator (U+2028): remove it, a name is one line '
            "of plain text"),
    ]
    assert [(r.name, r.fields) for r in parsed.rows] == [("Di Ng", {"company": "Hooli", "notes": "two\nlines", "first_name": "Di", "last_name": "Ng"})]


@pytest.mark.parametrize(("name", "encoding", "people"), [
    ("utf8_bom.csv", "utf-8-sig", ["José Müller"]),
    ("utf16.csv", "utf-16", ["José Müller", "Zoë Ørsted"]),
    ("cp1252.csv", "cp1252", ["José Müller", "François Lefèvre"]),  # what Excel on Windows writes
])
def test_files_in_other_encodings_read_names_as_written(name: str, encoding: str, people: list[str]) -> None:
    parsed = fixture(name)
    assert parsed.problems == [] and parsed.encoding == encoding
    assert [r.name for r in parsed.rows] == people
    assert parsed.rows[0].addresses == [("jose@acme.example", O)]
    assert "name" not in parsed.rows[0].fields  # the BOM is not part of the first header


def test_a_semicolon_separated_file_keeps_commas_inside_values() -> None:
    parsed = fixture("semicolon.csv")
    assert parsed.problems == []
    assert [(r.name, r.fields) for r in parsed.rows] == [
        ("José Müller", {"company": "Müller & Söhne, GmbH", "first_name": "José", "last_name": "Müller"}),
        ("Ana Lima", {"company": "Acme; Europe", "first_name": "Ana", "last_name": "Lima"})]


def test_rows_pasted_from_a_spreadsheet_are_read_tab_separated() -> None:
    parsed = read_pasted((FIXTURES / "pasted.tsv").read_text(encoding="utf-8"))
    assert parsed.problems == []
    assert parsed.rows == [
        CandidateRow(2, "Ana Lima", [("ana@acme.example", W), ("ana.lima@mail.example", P)],
                     {"company": "Acme", "first_name": "Ana", "last_name": "Lima"}),
        CandidateRow(3, "Bo Chen", [("bo@initech.example", W)], {"company": "Initech", "first_name": "Bo", "last_name": "Chen"}),
    ]


def test_a_spreadsheet_or_binary_file_is_refused_with_one_problem() -> None:
    assert problems(fixture("candidates.xlsx")) == [(1, NOT_CSV)]
    assert problems(read_csv(b"name,email\nAna\x00\x01,ana@acme.example\n", source="list.csv")) == [(1, NOT_CSV)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("content.xml", "<x/>")
    assert problems(read_csv(buf.getvalue(), source="list.ods")) == [(1, NOT_CSV)]


def test_rows_sharing_an_address_are_merged_into_the_first_with_a_note() -> None:
    parsed = fixture("duplicates.csv")
    assert parsed.problems == []
    assert parsed.rows == [
        CandidateRow(2, "Ana Lima", [("ana@acme.example", W), ("ana.lima@mail.example", W)],
                     {"company": "Acme", "role": "Frontend"}),  # the first non-empty value of each field
        CandidateRow(3, "Bo Chen", [("bo@initech.example", W)], {"company": "Initech", "role": "Backend"}),
    ]
    assert parsed.merged == ["line 4 merged into line 2: same address ana@acme.example",
                             "line 5 merged into line 2: same address ana@acme.example"]


def test_a_row_that_links_two_earlier_rows_merges_all_three() -> None:
    parsed = read_csv(b"name,work email,personal email,company\nA,a@x.example,,\nB,b@x.example,,Acme\n"
                      b"AB,a@x.example,b@x.example,Initech\n", source="x.csv")
    assert parsed.rows == [CandidateRow(2, "A", [("a@x.example", W), ("b@x.example", W)], {"company": "Acme"})]
    assert parsed.merged == ["line 3 merged into line 2: line 4 shares b@x.example with it",
                             "line 4 merged into line 2: same address a@x.example"]


def test_an_unclosed_quote_is_reported_where_it_opens() -> None:
    parsed = read_csv(b'name,email\nAna,ana@acme.example\nBo,"bo@acme.example\nCid,cid@acme.example\n',
                      source="x.csv")
    assert problems(parsed) == [(3, 'a quote (") opened on this line is never closed, so the rest of the file '
                                    "was read as one cell: close the quote or remove it")]


def test_over_the_row_or_size_limit_nothing_is_kept_and_the_limit_is_named() -> None:
    many = b"name,email\n" + b"".join(b"C%d,c%d@acme.example\n" % (n, n) for n in range(10_001))
    parsed = read_csv(many, source="x.csv")
    assert problems(parsed) == [(10_002, "the file has more than 10,000 rows: split it into files of at most "
                                         "10,000 rows")]
    assert parsed.rows == []
    assert len(read_csv(many[:-len(b"C10000,c10000@acme.example\n")], source="x.csv").rows) == 10_000
    huge = b"name,email,notes\n" + b"Ana,ana@acme.example,x\n" * 240_000  # 5.5 MB
    assert problems(read_csv(huge, source="x.csv")) == [(1, "the file is over 5 MB: split it into smaller files")]


def test_rows_and_problems_survive_the_json_column() -> None:
    parsed = fixture("good.csv")
    stored = json.loads(json.dumps([r.to_json() for r in parsed.rows]))
    assert [CandidateRow.from_json(r) for r in stored] == parsed.rows
    problem = RowProblem(8, '"bob(at)x.com" is not an email address')
    assert RowProblem.from_json(json.loads(json.dumps(problem.to_json()))) == problem


# --- Writing --------------------------------------------------------------------------------------

def _campaign(session: Session, clock: Clock) -> Campaign:
    """A draft campaign of Rita's, from her mailbox (both made the first time)."""
    rita = factories.recruiter(session, clock)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.owner_id == rita.id))
    mailbox = mailbox or factories.sandbox_mailbox(session, rita, clock)
    return factories.campaign_with_candidates(session, rita, mailbox, clock, candidates=0)


def _stage(runtime: Runtime, csv_text: str, *, campaign_id: int | None = None) -> tuple[int, int]:
    """Stage `csv_text` for Rita's campaign (created unless given); returns (upload id, campaign id)."""
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.get(Campaign, campaign_id) if campaign_id else _campaign(session, runtime.clock)
        assert campaign is not None
        upload = stage_upload(session, campaign=campaign, user=campaign.owner,
                              parsed=read_csv(csv_text.encode(), source="people.csv"), source="people.csv",
                              clock=runtime.clock)
        return upload.id, campaign.id


def _confirm(runtime: Runtime, upload_id: int, slack_id: str = "U0RITA") -> candidate_uploads.ConfirmResult:
    with transaction(runtime.sessions, write=True) as session:
        user = session.scalar(select(User).where(User.slack_user_id == slack_id))
        assert user is not None
        return confirm_upload(session, upload_id=upload_id, user=user, clock=runtime.clock, rng=random.Random(3))


def _people(runtime: Runtime) -> list[tuple[str, list[tuple[str, str, int | None]], dict[str, str]]]:
    with transaction(runtime.sessions) as session:
        return [(c.name, [(a.address, a.kind.value, a.added_by_id) for a in c.addresses], c.fields)
                for c in session.scalars(select(Candidate).order_by(Candidate.id))]


GOOD = (FIXTURES / "good.csv").read_text()


def test_staging_keeps_the_rows_and_problems_and_writes_nothing_else(runtime: Runtime) -> None:
    upload_id, _ = _stage(runtime, (FIXTURES / "bad_rows.csv").read_text())
    with transaction(runtime.sessions) as session:
        upload = session.get(CandidateUpload, upload_id)
        assert upload is not None and upload.confirmed_at is None and upload.source == "people.csv"
        assert [r["line"] for r in upload.rows] == [2, 3, 12]
        assert [p["line"] for p in upload.problems] == [6, 7, 8, 10, 11]
        assert session.scalar(select(func.count()).select_from(Candidate)) == 0
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 0


def test_confirming_creates_the_candidates_and_enrolls_them(runtime: Runtime) -> None:
    upload_id, campaign_id = _stage(runtime, GOOD)
    assert _confirm(runtime, upload_id) == candidate_uploads.ConfirmResult(added=3, merged_with_existing=0,
                                                                       already_enrolled=0)
    assert _people(runtime)[1] == ("Bo Chen", [("bo.chen@mail.example", "personal", None),
                                               ("bo@old.example", "other", None)], {"company_name": "Initech, Inc."})
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).where(Enrollment.campaign_id == campaign_id)) == 3
        assert session.scalar(select(func.count()).select_from(OutboundMessage)) == 0  # a draft plans nothing
        assert session.get(CandidateUpload, upload_id).confirmed_at == runtime.clock.now()  # type: ignore[union-attr]


def test_a_known_candidate_is_reused_and_other_campaigns_keep_their_values(runtime: Runtime) -> None:
    clock = runtime.clock
    with transaction(runtime.sessions, write=True) as session:
        campaign = _campaign(session, clock)
        known = add_candidate(session, added_by=campaign.owner, name="Ana Lima", clock=clock,
                              fields={"company_name": "Acme", "team": "Core"},
                              addresses=[("ana@acme.example", W)])
        other = factories.campaign_with_candidates(session, campaign.owner, campaign.mailbox, clock, candidates=0)
        session.add(Enrollment(campaign_id=other.id, candidate_id=known.id, created_at=clock.now()))
        campaign_id, known_id = campaign.id, known.id
    upload_id, _ = _stage(runtime, "name,personal email,work email,company name,role\n"
                                   "Ana Lima,ana.lima@mail.example,ANA@acme.example,Acme Europe,Backend\n",
                          campaign_id=campaign_id)
    assert _confirm(runtime, upload_id) == candidate_uploads.ConfirmResult(added=1, merged_with_existing=1,
                                                                       already_enrolled=0)
    with transaction(runtime.sessions) as session:
        candidate = session.get(Candidate, known_id)
        assert candidate is not None and session.scalar(select(func.count()).select_from(Candidate)) == 1
        assert [(a.address, a.kind, a.position, a.added_by_id) for a in candidate.addresses] == [
            ("ana@acme.example", W, 1, None), ("ana.lima@mail.example", P, 2, None)]
        # A new key lands on the candidate; a different value only in this campaign.
        assert candidate.fields == {"company_name": "Acme", "team": "Core", "role": "Backend"}
        enrollment = session.scalar(select(Enrollment).where(Enrollment.campaign_id == campaign_id))
        assert enrollment is not None and enrollment.fields_override == {"company_name": "Acme Europe"}
        elsewhere = session.scalar(select(Enrollment).where(Enrollment.campaign_id != campaign_id))
        assert elsewhere is not None and elsewhere.fields_override == {}


def test_an_address_another_recruiter_added_by_hand_does_not_match(runtime: Runtime) -> None:
    clock = runtime.clock
    with transaction(runtime.sessions, write=True) as session:
        campaign = _campaign(session, clock)
        teammate = factories.recruiter(session, clock, slack_id="U0TOM")
        hidden = add_candidate(session, added_by=teammate, name="Ana Lima", addresses=[("ana@acme.example", W)],
                               clock=clock)
        hidden.addresses[0].added_by_id = teammate.id  # added by hand: only Tom sees it (SPEC, seed 002)
        campaign_id = campaign.id
    upload_id, _ = _stage(runtime, "name,email\nAna Lima,ana@acme.example\n", campaign_id=campaign_id)
    assert _confirm(runtime, upload_id).merged_with_existing == 0
    assert len(_people(runtime)) == 2


def test_a_candidate_already_in_the_campaign_is_not_enrolled_twice(runtime: Runtime) -> None:
    upload_id, campaign_id = _stage(runtime, GOOD)
    _confirm(runtime, upload_id)
    again, _ = _stage(runtime, GOOD + "Dan Ng,dan@acme.example,,,Acme,\n", campaign_id=campaign_id)
    assert _confirm(runtime, again) == candidate_uploads.ConfirmResult(added=1, merged_with_existing=3,
                                                                   already_enrolled=3)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 4
        assert session.scalar(select(func.count()).select_from(Candidate)) == 4


def test_only_the_person_who_uploaded_can_confirm(runtime: Runtime) -> None:
    upload_id, _ = _stage(runtime, GOOD)
    with transaction(runtime.sessions, write=True) as session:
        factories.recruiter(session, runtime.clock, slack_id="U0TOM")
    with pytest.raises(UserError, match="Only the person who uploaded"):
        _confirm(runtime, upload_id, slack_id="U0TOM")
    assert _people(runtime) == []


def test_rows_cannot_be_confirmed_twice(runtime: Runtime) -> None:
    upload_id, _ = _stage(runtime, GOOD)
    _confirm(runtime, upload_id)
    with pytest.raises(UserError, match="already added"):
        _confirm(runtime, upload_id)
    assert len(_people(runtime)) == 3


def test_rows_shared_without_a_campaign_go_to_the_campaign_named_at_confirmation(runtime: Runtime) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign = _campaign(session, runtime.clock)
        other = _campaign(session, runtime.clock)
        upload = stage_upload(session, campaign=None, user=campaign.owner, source="people.csv",
                              parsed=read_csv(GOOD.encode(), source="people.csv"), clock=runtime.clock)
        upload_id, campaign_id, other_id = upload.id, campaign.id, other.id
    with pytest.raises(UserError, match="Pick the campaign"):
        _confirm(runtime, upload_id)
    with transaction(runtime.sessions, write=True) as session:
        rita, campaign = session.scalars(select(User)).one(), session.get(Campaign, campaign_id)
        result = confirm_upload(session, upload_id=upload_id, user=rita, campaign=campaign, clock=runtime.clock)
        assert result.describe() == "Added 3 candidates"
    with transaction(runtime.sessions) as session:
        assert session.get(CandidateUpload, upload_id).campaign_id == campaign_id  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).where(Enrollment.campaign_id == other_id)) == 0

    again, _ = _stage(runtime, GOOD, campaign_id=campaign_id)
    with transaction(runtime.sessions, write=True) as session, pytest.raises(UserError, match="another campaign"):
        confirm_upload(session, upload_id=again, user=session.scalars(select(User)).one(),
                       campaign=session.get(Campaign, other_id), clock=runtime.clock)


def test_discarded_rows_cannot_be_confirmed_and_only_the_uploader_discards(runtime: Runtime) -> None:
    upload_id, _ = _stage(runtime, GOOD)
    with transaction(runtime.sessions, write=True) as session:
        tom = factories.recruiter(session, runtime.clock, slack_id="U0TOM")
        with pytest.raises(UserError, match="Only the person who uploaded"):
            candidate_uploads.discard_upload(session, upload_id=upload_id, user=tom)
    with transaction(runtime.sessions, write=True) as session:
        rita = session.scalar(select(User).where(User.slack_user_id == "U0RITA"))
        candidate_uploads.discard_upload(session, upload_id=upload_id, user=rita)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="This upload expired"):
        _confirm(runtime, upload_id)
    assert _people(runtime) == []


def test_the_result_says_what_was_added_and_what_was_known() -> None:
    result = candidate_uploads.ConfirmResult(added=3, merged_with_existing=2, already_enrolled=1)
    assert result.describe() == "Added 3 candidates (2 already known; 1 was already in the campaign)"
    assert candidate_uploads.ConfirmResult(0, 2, 2).describe() == ("Added no candidates (2 already known; 2 were "
                                                                "already in the campaign)")


def test_a_finished_campaign_cannot_take_candidates(runtime: Runtime) -> None:
    upload_id, campaign_id = _stage(runtime, GOOD)
    with transaction(runtime.sessions, write=True) as session:
        session.get(Campaign, campaign_id).status = CampaignStatus.FINISHED  # type: ignore[union-attr]
    with pytest.raises(UserError, match="has finished"):
        _confirm(runtime, upload_id)
    assert _people(runtime) == []


def test_rows_added_to_a_started_campaign_get_step_one_no_sooner_than_twenty_minutes(
    runtime: Runtime, clock: FakeClock,
) -> None:
    with transaction(runtime.sessions, write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=1)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        campaign_id = campaign.id
    clock.advance(timedelta(hours=3))  # the first candidate's step 1 has gone out long ago
    upload_id, _ = _stage(runtime, "name,work email,company\nBo Chen,bo@initech.example,Initech\n",
                          campaign_id=campaign_id)
    confirmed_at = clock.now()
    _confirm(runtime, upload_id)
    with transaction(runtime.sessions) as session:
        [row] = session.scalars(select(OutboundMessage).where(OutboundMessage.to_address == "bo@initech.example"))
        assert row.step_position == 1 and row.window_start is not None
        assert row.window_start >= confirmed_at + timedelta(minutes=20)

    dispatcher = Dispatcher(session_factory=runtime.sessions, providers=runtime.providers, clock=clock,
                            rng=random.Random(2))
    clock.advance(timedelta(minutes=19, seconds=59))
    dispatcher.run_once()
    office = PostOffice(runtime.providers.sandbox)  # type: ignore[attr-defined]
    assert [recipient_of(m) for m in office.sent("rita@acme.example")] == ["ana0@work.example"]
    clock.advance(timedelta(minutes=21))
    dispatcher.run_once()
    bo = [m for m in office.sent("rita@acme.example") if recipient_of(m) == "bo@initech.example"]
    assert [m["Subject"] for m in bo] == ["Backend role at Initech"]
    dispatcher.close()


def test_rows_added_to_a_paused_campaign_are_planned_from_the_resume(runtime: Runtime, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        campaign = _campaign(session, clock)
        enroll(session, campaign=campaign, clock=clock, candidates=[add_candidate(
            session, added_by=campaign.owner, name="Ana", addresses=[("ana@acme.example", W)], clock=clock,
            fields={"company": "Acme"})])
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
        pause_campaign(session, campaign=campaign, clock=clock)
        campaign_id = campaign.id
    upload_id, _ = _stage(runtime, "name,email,company\nBo Chen,bo@initech.example,Initech\n",
                          campaign_id=campaign_id)
    _confirm(runtime, upload_id)
    with transaction(runtime.sessions) as session:  # nothing is planned while paused: resume plans it
        assert session.scalars(select(OutboundMessage.id)
                               .where(OutboundMessage.to_address == "bo@initech.example")).all() == []
    clock.advance(timedelta(days=2))
    with transaction(runtime.sessions, write=True) as session:
        resume_campaign(session, campaign=session.get(Campaign, campaign_id), clock=clock,  # type: ignore[arg-type]
                        rng=random.Random(4))
    with transaction(runtime.sessions) as session:
        [due] = session.scalars(select(OutboundMessage.window_start)
                                .where(OutboundMessage.to_address == "bo@initech.example"))
        assert due >= clock.now() + timedelta(minutes=20)


def test_confirming_more_rows_takes_no_more_queries(runtime: Runtime, engine: Engine) -> None:
    """Bulk lookups and inserts: the number of statements does not grow with the rows."""
    def statements_for(rows: int, known: int) -> int:
        tag = f"r{rows}"
        csv_text = "name,work email,personal email,company\n" + "".join(
            f"C{n},{tag}c{n}@acme.example,{tag}c{n}@home.example,Acme\n" for n in range(rows))
        with transaction(runtime.sessions, write=True) as session:
            campaign = _campaign(session, runtime.clock)
            enroll(session, campaign=campaign, clock=runtime.clock, candidates=[  # some rows are people known
                add_candidate(session, added_by=campaign.owner, name=f"C{n}", fields={"company": "Initech"},
                              addresses=[(f"{tag}c{n}@acme.example", W)], clock=runtime.clock)
                for n in range(known)])
            start_campaign(session, campaign=campaign, clock=runtime.clock, rng=random.Random(1))
            upload_id = stage_upload(session, campaign=campaign, user=campaign.owner, source="x.csv",
                                     parsed=read_csv(csv_text.encode(), source="x.csv"), clock=runtime.clock).id
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            result = _confirm(runtime, upload_id)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert (result.added, result.already_enrolled) == (rows - known, known)
        return len(seen)

    assert statements_for(10, known=3) == statements_for(300, known=100)


def test_confirming_an_upload_with_misread_addresses_writes_only_the_good_rows(runtime: Runtime) -> None:
    cells = ["ana@x.example,boss@corp.example", "ana@@x..example", '"a@b"@x.example',
             "ana@x.example\r\nBcc: evil@x.example"]
    text = "name,email\nBo,bo@acme.example\n" + "".join(f"Ana{n},{_csv_cell(c)}\n" for n, c in enumerate(cells))
    upload_id, _ = _stage(runtime, text)
    assert _confirm(runtime, upload_id).added == 1
    assert _people(runtime) == [("Bo", [("bo@acme.example", "other", None)], {})]
