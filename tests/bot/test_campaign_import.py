"""`outreach campaign import`: a good file writes everything, a bad one reports every problem with
its line and writes nothing. Through the real database fixtures (SQLite, and PostgreSQL when set)."""
from __future__ import annotations

import json
import random
import textwrap
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from bot.campaign_import import ImportProblems, import_campaign, import_campaign_text, schema, writing
from bot.clock import FakeClock
from bot.cli import main
from bot.db import make_engine, transaction, upgrade
from bot.errors import UserError
from bot.models import (
    AddressKind,
    Base,
    Campaign,
    CampaignStatus,
    Candidate,
    Enrollment,
    Mailbox,
    MailboxStatus,
    OutboundMessage,
    Provider,
    SendPreference,
    Sequence,
    User,
)
from bot.runtime import Runtime, build_runtime
from bot.services.template_check import missing_fields
from tests.conftest import make_settings
from tests.factories import recruiter, sandbox_mailbox

FIXTURES = Path(__file__).parent / "fixtures" / "import"
GOOD = FIXTURES / "good.yaml"


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def assert_empty(engine: Engine) -> None:
    assert {name: n for name, n in row_counts(engine).items() if n} == {}


def variant(tmp_path: Path, *changes: tuple[str, str], name: str = "campaign.yaml") -> Path:
    """good.yaml with each `old` text (found exactly once) replaced by `new`."""
    source = GOOD.read_text()
    for old, new in changes:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    path = tmp_path / name
    path.write_text(source)
    return path


def line_of(path: Path, fragment: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if fragment in line]
    return hits[occurrence - 1]


def problems(runtime: Runtime, path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ImportProblems) as caught:
        import_campaign(runtime, path, **kwargs)  # type: ignore[arg-type]
    assert isinstance(caught.value, UserError)
    return [str(p) for p in caught.value.problems]


# --- A good file ------------------------------------------------------------------------------

def test_a_good_file_imports_owner_mailbox_sequence_campaign_and_candidates(runtime: Runtime, engine: Engine) -> None:
    result = import_campaign(runtime, GOOD)

    assert (result.campaign_name, result.candidates, result.steps, result.started) == ("Backend Q4", 3, 2, False)
    assert result.created_owner and result.created_mailbox
    assert result.summary() == (f"Imported campaign {result.campaign_id} 'Backend Q4': 3 candidates, 2 steps, "
                                "from rita@acme.example; not started (a draft; --start or `start: true` "
                                "starts it at import)")
    with transaction(runtime.sessions) as session:
        owner = session.scalars(select(User)).one()
        assert (owner.slack_user_id, owner.name, owner.email, owner.tz) == (
            "U0RITA", "Rita Recruiter", "rita@acme.example", "America/New_York")
        assert owner.organisation.slack_team_id == "T0LOCAL"

        mailbox = session.scalars(select(Mailbox)).one()
        assert (mailbox.address, mailbox.provider, mailbox.status, mailbox.owner_id) == (
            "rita@acme.example", Provider.SANDBOX, MailboxStatus.CONNECTED, owner.id)
        assert (mailbox.daily_cap, mailbox.min_spacing_seconds) == (150, 90)

        sequence = session.scalars(select(Sequence)).one()
        assert sequence.name == "Backend engineers"
        assert [(s.position, s.subject, s.delay_days) for s in sequence.steps] == [
            (1, "Backend role at {{ company }}", 0), (2, "Re: Backend role at {{ company }}", 2)]
        assert sequence.steps[0].body == ("Hi {{ first_name }},\nWould you like to talk about backend work at "
                                          "{{ company }}?\nRita\n")

        campaign = session.scalars(select(Campaign)).one()
        assert campaign.id == result.campaign_id
        assert (campaign.name, campaign.status, campaign.send_preference, campaign.specific_time) == (
            "Backend Q4", CampaignStatus.DRAFT, SendPreference.STARTED, None)
        assert (campaign.timezone, campaign.send_days, campaign.holidays) == (
            "America/New_York", "01234", ["2026-12-25", "2027-01-01"])
        assert (campaign.email_preference, campaign.strict_preference, campaign.alert_channel_id,
                campaign.same_thread) == (AddressKind.WORK, False, "C0HIRING", True)
        assert (campaign.sequence_id, campaign.mailbox_id, campaign.owner_id) == (sequence.id, mailbox.id, owner.id)

        people = {c.name: c for c in session.scalars(select(Candidate))}
        assert sorted(people) == ["Ana Lima", "Bo Chen", "Cy Park"]
        assert people["Ana Lima"].fields == {"company": "Acme"}
        assert [(a.position, a.address, a.kind, a.use_first) for a in people["Ana Lima"].addresses] == [
            (1, "ana@acme.example", AddressKind.WORK, False),
            (2, "ana.lima@mail.example", AddressKind.PERSONAL, True)]
        assert [(a.address, a.kind) for a in people["Bo Chen"].addresses] == [
            ("bo@initech.example", AddressKind.WORK), ("bo@old.example", AddressKind.OTHER)]
        assert all(c.created_by_id == owner.id for c in people.values())

        enrollments = list(session.scalars(select(Enrollment)))
        assert sorted(e.candidate_id for e in enrollments) == sorted(c.id for c in people.values())
        assert {e.campaign_id for e in enrollments} == {campaign.id}
    assert row_counts(engine)["outbound_messages"] == 0


def test_start_plans_step_1_between_20_and_40_minutes_after_now(runtime: Runtime, clock: FakeClock) -> None:
    result = import_campaign(runtime, GOOD, start=True)

    now = clock.now()
    with transaction(runtime.sessions) as session:
        campaign = session.get(Campaign, result.campaign_id)
        assert campaign is not None and campaign.status == CampaignStatus.SCHEDULED
        assert campaign.started_at == now
        rows = list(session.scalars(select(OutboundMessage)))
        to = {row.enrollment.candidate.name: row.to_address for row in rows}
    assert len(rows) == 3 and {row.step_position for row in rows} == {1}
    for row in rows:
        assert now + timedelta(minutes=20) <= row.due_at <= now + timedelta(minutes=40)
        assert now + timedelta(minutes=20) <= row.window_start < row.window_end <= now + timedelta(minutes=40)
    # use_first wins; else the preferred type; else (not strict) the others
    assert to == {"Ana Lima": "ana.lima@mail.example", "Bo Chen": "bo@initech.example",
                  "Cy Park": "cy@mail.example"}
    assert result.started and result.first_due == min(r.due_at for r in rows)
    assert result.last_due == max(r.due_at for r in rows)
    local = result.first_due.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert f"started, step 1 due {local:%Y-%m-%d %H:%M}–" in result.summary()


def test_start_true_in_the_file_starts_as_the_flag_does(runtime: Runtime, engine: Engine, tmp_path: Path) -> None:
    path = variant(tmp_path, ("  same_thread: true\n", "  same_thread: true\n  start: true\n"))
    assert import_campaign(runtime, path).started
    assert row_counts(engine)["outbound_messages"] == 3


def test_specific_time_weekday_digits_and_unquoted_yaml_times(runtime: Runtime, tmp_path: Path) -> None:
    # YAML 1.1 reads 9:30 as 570 and 01234 as an octal number: neither is meant here.
    path = variant(tmp_path, ("  preference: started\n", "  preference: specific\n  at: 9:30\n"),
                   ("  send_days: [mon, tue, wed, thu, fri]\n", "  send_days: 01234\n"))
    result = import_campaign(runtime, path, start=True)
    with transaction(runtime.sessions) as session:
        campaign = session.get(Campaign, result.campaign_id)
        assert campaign is not None
        assert (campaign.send_preference, campaign.specific_time, campaign.send_days) == (
            SendPreference.SPECIFIC, time(9, 30), "01234")
    # started 08:30 New York on a Monday: 09:30 is more than 20 minutes away, so today 09:30–09:50
    local = result.first_due.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert (local.date(), time(9, 30) <= local.time() <= time(9, 50)) == (date(2026, 11, 23), True)


def test_the_example_in_the_schema_docstring_imports(runtime: Runtime) -> None:
    example = textwrap.dedent(schema.example().split(":\n", 1)[1])
    result = import_campaign_text(runtime, example, file="example.yaml")
    assert (result.campaign_name, result.candidates, result.steps) == ("Backend Q4", 2, 2)
    with transaction(runtime.sessions) as session:
        campaign = session.get(Campaign, result.campaign_id)
        assert campaign is not None and campaign.specific_time == time(9, 30)


def test_an_existing_owner_and_their_connected_mailbox_are_used_as_they_are(runtime: Runtime, clock: FakeClock,
                                                                             tmp_path: Path) -> None:
    with transaction(runtime.sessions, write=True) as session:
        owner = recruiter(session, clock, tz="Europe/Paris")
        sandbox_mailbox(session, owner, clock)
    path = variant(tmp_path, ("  timezone: America/New_York\n", ""), ("  provider: sandbox\n", ""))
    result = import_campaign(runtime, path)
    assert not result.created_owner and not result.created_mailbox
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        user = session.scalars(select(User)).one()
        assert user.tz == "Europe/Paris"  # the file's tz is for a new user only
        campaign = session.get(Campaign, result.campaign_id)
        assert campaign is not None and campaign.timezone == "Europe/Paris"  # the owner's, by default
        assert campaign.mailbox.daily_cap == 150  # the file's limits are applied


def test_dry_run_checks_everything_and_writes_nothing(runtime: Runtime, engine: Engine) -> None:
    result = import_campaign(runtime, GOOD, start=True, dry_run=True)
    assert result.dry_run and result.started and result.first_due is not None
    assert "dry run, nothing was written" in result.summary()
    assert_empty(engine)


# --- Bad files: every problem with its line, and nothing written ------------------------------

BAD_FILES = [
    # id, changes, (line fragment, occurrence), field path, what the message says
    ("yaml-syntax", [("  name: Backend Q4\n", "  name: Backend: Q4\n")], ("Backend: Q4", 1),
     "", "YAML syntax error: mapping values are not allowed here"),
    ("unknown-key", [("  strict: false\n", "  strickt: false\n")], ("strickt", 1),
     "campaign.strickt", "unknown key 'strickt' (did you mean 'strict'?)"),
    ("wrong-type", [("      delay_days: 2\n", "      delay_days: two\n")], ("delay_days: two", 1),
     "sequence.steps[2].delay_days", "'two' is not a whole number"),
    ("wrong-type-list", [("  alert_channel: C0HIRING\n", "  alert_channel: [C0HIRING]\n")], ("alert_channel", 1),
     "campaign.alert_channel", "a list is not text"),
    ("bad-time-zone", [("  timezone: America/New_York\n", "  timezone: America/Gotham\n")], ("Gotham", 1),
     "campaign.timezone", "'America/Gotham' is not a time zone"),
    ("bad-time", [("  preference: started\n", "  preference: specific\n  at: \"25:00\"\n")], ('"25:00"', 1),
     "campaign.at", "'25:00' is not a time of day: expected HH:MM"),
    ("specific-without-time", [("  preference: started\n", "  preference: specific\n")], ("specific", 1),
     "campaign.preference", "'specific' needs a time of day"),
    ("negative-delay", [("      delay_days: 2\n", "      delay_days: -2\n")], ("delay_days: -2", 1),
     "sequence.steps[2].delay_days", "-2 is too small"),
    ("subject-does-not-parse", [('"Backend role at {{ company }}"', '"Backend role at {{ company }"')],
     ("{{ company }\"", 1), "sequence.steps[1].subject", "the template does not parse: unexpected '}'"),
    ("body-does-not-parse", [("        Rita\n", "        {% if company %}Rita\n")], ("{% if company %}", 1),
     "sequence.steps[1].body", "the template does not parse: Unexpected end of template"),
    ("missing-field", [("      company: Globex\n", "      firm: Globex\n")], ("fields:", 3),
     "candidates[3].fields.company", "Cy Park has no field 'company', which step 1's subject and step 1's "
                                     "body and step 2's subject use"),
    ("no-allowed-address", [("  email_preference: work\n", "  email_preference: personal\n"),
                            ("  strict: false\n", "  strict: true\n")], ("addresses:", 2),
     "candidates[2].addresses", "Bo Chen has no personal address and the campaign is strict"),
    ("duplicate-candidate", [("      - personal: cy@mail.example\n", "      - personal: Ana@Acme.example\n")],
     ("Ana@Acme.example", 1), "candidates[3].addresses[1]",
     "ana@acme.example is already an address of candidates[1] (Ana Lima, line 40)"),
    ("unknown-mailbox", [("  provider: sandbox\n", "  provider: gmail\n")], ("Rita@Acme.example", 1),
     "mailbox.address", "rita@acme.example is not connected"),
    ("step-1-delay", [('    - subject: "Backend role at {{ company }}"\n',
                       '    - subject: "Backend role at {{ company }}"\n      delay_days: 1\n')],
     ("delay_days: 1", 1), "sequence.steps[1].delay_days", "step 1 goes out when the campaign starts"),
    ("blank-sequence-name", [("  name: Backend engineers\n", '  name: "   "\n')], ('name: "   "', 1),
     "sequence.name", "the name is blank: expected the sequence's name"),
]


@pytest.mark.parametrize(("changes", "where", "path", "message"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES])
def test_a_bad_file_names_the_line_and_field_and_writes_nothing(
    runtime: Runtime, engine: Engine, tmp_path: Path, changes: list[tuple[str, str]], where: tuple[str, int],
    path: str, message: str,
) -> None:
    bad = variant(tmp_path, *changes)
    found = problems(runtime, bad, start=True)
    prefix = f"{bad}:{line_of(bad, *where)}: " + (f"{path}: " if path else "")
    assert len(found) == 1, found
    assert found[0].startswith(prefix + message), found
    assert ": expected" in found[0]
    assert_empty(engine)


def test_every_problem_in_a_file_is_reported_at_once(runtime: Runtime, engine: Engine) -> None:
    path = FIXTURES / "many_problems.yaml"
    found = problems(runtime, path)
    assert [p.split(": ", 2)[:2] for p in found] == [
        [f"{path}:5", "owner.timezone"],
        [f"{path}:7", "mailbox.address"],
        [f"{path}:11", "sequence.steps[1].subject"],
        [f"{path}:15", "sequence.steps[2].delay_days"],
        [f"{path}:18", "campaign.at"],
        [f"{path}:19", "campaign.timezone"],
        [f"{path}:22", "candidates[1].fields.role"],
        [f"{path}:27", "candidates[2].addresses"],
    ]
    assert_empty(engine)


def test_the_importer_and_start_name_the_same_missing_fields(runtime: Runtime, engine: Engine,
                                                          tmp_path: Path) -> None:
    """One rule (bot.templates.missing_fields) for the importer and Start's check. They used to
    disagree: the importer rendered with an empty stand-in for a missing field and also reported
    what the stand-in broke (`100 // ""`: "cannot be written"), which Start's check never does."""
    body = ("        Rita\n", "        Rita, for a team of {{ 100 // team_size }}\n")
    ana = ("{company: Acme}", "{company: Acme, team_size: 5}")
    missing = variant(tmp_path, body, ana, name="missing.yaml")
    found = problems(runtime, missing)
    assert [p.split(": ", 2)[1:] for p in found] == [
        ["candidates[2].fields.team_size", "Bo Chen has no field 'team_size', which step 1's body uses: expected "
                                           "`team_size: …` under this candidate's fields"],
        ["candidates[3].fields.team_size", "Cy Park has no field 'team_size', which step 1's body uses: expected "
                                           "`team_size: …` under this candidate's fields"],
    ]
    assert_empty(engine)

    complete = variant(tmp_path, body, ana, ("{company: Initech}", "{company: Initech, team_size: 2}"),
                       ("      company: Globex\n", "      company: Globex\n      team_size: 9\n"), name="complete.yaml")
    result = import_campaign(runtime, complete)
    with transaction(runtime.sessions, write=True) as session:
        campaign = session.get(Campaign, result.campaign_id)
        assert campaign is not None
        for candidate in session.scalars(select(Candidate).where(Candidate.name != "Ana Lima")):
            candidate.fields = {"company": candidate.fields["company"]}  # as in missing.yaml
        session.flush()
        from_start = [(m.candidate, m.step, m.field) for m in missing_fields(session, campaign=campaign)]
    from_importer = [(p.split(": ", 2)[2].split(" has no field")[0], 1, p.split(": ", 2)[1].rsplit(".", 1)[1])
                     for p in found]
    assert from_start == from_importer == [("Bo Chen", 1, "team_size"), ("Cy Park", 1, "team_size")]


@pytest.mark.parametrize(("source", "expected"), [
    ("", "x.yaml:1: the file is empty"),
    ("- a\n- b\n", "x.yaml:1: the file holds a list: expected a mapping with owner"),
    ("owner: {team: T0LOCAL, user: U0RITA}\nowner: {team: T0LOCAL, user: U0RITA}\n",
     "x.yaml:2: owner: 'owner' is given twice (first on line 1)"),
    ("owner: !!python/object:os.system x\n", "x.yaml:1: owner: cannot read this value"),
    ("a: 1\n---\nb: 2\n", "x.yaml:2: YAML syntax error: but found another document"),
])
def test_files_that_are_not_campaigns(runtime: Runtime, engine: Engine, source: str, expected: str) -> None:
    with pytest.raises(ImportProblems) as caught:
        import_campaign_text(runtime, source, file="x.yaml")
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value.problems
    assert_empty(engine)


def test_a_campaign_without_candidates_imports_as_a_draft_but_cannot_start(runtime: Runtime, engine: Engine,
                                                                           tmp_path: Path) -> None:
    source = GOOD.read_text()
    path = tmp_path / "nobody.yaml"
    path.write_text(source[:source.index("candidates:")] + "candidates: []\n")
    found = problems(runtime, path, start=True)
    assert found == [f"{path}:{line_of(path, 'candidates: []')}: candidates: a campaign without candidates cannot "
                     "start: expected a list of candidates, or no --start (and no `start: true`)"]
    assert_empty(engine)
    assert import_campaign(runtime, path).candidates == 0


def test_a_missing_file_is_a_problem_not_a_traceback(runtime: Runtime, tmp_path: Path) -> None:
    found = problems(runtime, tmp_path / "nope.yaml")
    assert found == [f"{tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"]


def test_sandbox_mailboxes_are_created_only_where_allowed(engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, OUTREACH_SANDBOX_MAILBOXES=False)
    runtime = build_runtime(settings, clock=clock, rng=random.Random(7), engine=engine)
    found = problems(runtime, GOOD)
    assert found == [f"{GOOD}:{line_of(GOOD, 'provider: sandbox')}: mailbox.provider: rita@acme.example is not "
                     "connected and sandbox mailboxes are off here: expected OUTREACH_SANDBOX_MAILBOXES=true, "
                     "or a mailbox connected in Slack (/outreach connect)"]
    assert_empty(engine)


def test_a_mailbox_connected_by_someone_else_is_refused(runtime: Runtime, engine: Engine, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        omar = recruiter(session, clock, slack_id="U0OMAR")
        sandbox_mailbox(session, omar, clock)
    before = row_counts(engine)
    found = problems(runtime, GOOD)
    assert len(found) == 1 and found[0].startswith(
        f"{GOOD}:{line_of(GOOD, 'Rita@Acme.example')}: mailbox.address: rita@acme.example is connected by "
        "Rita Recruiter, not by this campaign's owner")
    assert row_counts(engine) == before


def test_a_real_mailbox_must_be_the_owners_and_match_the_provider(runtime: Runtime, clock: FakeClock,
                                                                  tmp_path: Path) -> None:
    from bot.services.mailboxes import connect_mailbox

    with transaction(runtime.sessions, write=True) as session:
        rita = recruiter(session, clock)
        connect_mailbox(session, owner=rita, provider=Provider.GMAIL, address="rita@acme.example",
                        credentials=None, clock=clock)
    found = problems(runtime, GOOD)  # the file says sandbox; its cap would also be fine for Gmail
    assert found == [f"{GOOD}:{line_of(GOOD, 'provider: sandbox')}: mailbox.provider: rita@acme.example is a "
                     "gmail mailbox: expected provider: gmail, or no provider"]
    over_cap = variant(tmp_path, ("  provider: sandbox\n", "  provider: gmail\n"),
                       ("  daily_cap: 150\n", "  daily_cap: 5000\n"))
    found = problems(runtime, over_cap)
    assert found == [f"{over_cap}:{line_of(over_cap, 'daily_cap')}: mailbox.daily_cap: 5000 is over the gmail "
                     "limit for rita@acme.example: expected at most 2000 a day"]
    result = import_campaign(runtime, variant(tmp_path, ("  provider: sandbox\n", "  provider: gmail\n"),
                                              name="gmail.yaml"), start=True)
    assert result.started and result.mailbox_address == "rita@acme.example"


def test_a_failure_while_writing_rolls_everything_back(runtime: Runtime, engine: Engine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_start(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the planner fell over")

    monkeypatch.setattr(writing, "start_campaign", broken_start)
    with pytest.raises(RuntimeError):
        import_campaign(runtime, GOOD, start=True)
    assert_empty(engine)


# --- The command line -------------------------------------------------------------------------

@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("OUTREACH_SANDBOX_MAILBOXES", "true")
    monkeypatch.setenv("OUTREACH_SANDBOX_DIR", str(tmp_path / "sandbox"))
    return url


def test_the_command_imports_into_a_fresh_database_and_exits_0(
    cli_database: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["campaign", "import", str(GOOD), "--start"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Imported campaign 1 'Backend Q4': 3 candidates, 2 steps, from rita@acme.example; "
                          "started, step 1 due ") and out.count("\n") == 1, (out, err)
    engine = make_engine(cli_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT status FROM campaigns")).scalar_one() == "scheduled"
            assert conn.execute(text("SELECT count(*) FROM outbound_messages")).scalar_one() == 3
    finally:
        engine.dispose()


def test_the_command_reports_every_problem_and_exits_2(
    cli_database: str, capsys: pytest.CaptureFixture[str],
) -> None:
    path = FIXTURES / "many_problems.yaml"
    assert main(["campaign", "import", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 9 and lines[-1] == f"outreach: 8 problems in {path}; nothing was imported"
    assert lines[0].startswith(f"{path}:5: owner.timezone: unknown key 'timezone'")
    engine = make_engine(cli_database)
    try:
        upgrade(engine)  # the command migrated the fresh file; nothing else is in it
        assert_empty(engine)
    finally:
        engine.dispose()


def test_the_command_reads_standard_input_and_dry_runs(
    cli_database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD.read_text()))
    assert main(["campaign", "import", "-", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("Checked campaign 'Backend Q4': 3 candidates")
    monkeypatch.setattr("sys.stdin", io.StringIO("owner: [\n"))
    assert main(["campaign", "import", "-"]) == 2
    assert capsys.readouterr().err.startswith("<stdin>:1: YAML syntax error")


def test_a_large_import_tells_its_phases_on_stderr_and_keeps_stdout_for_the_summary(
    cli_database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 §7: a file of PROGRESS_FROM candidates or more (here 3) says where it is, each phase with
    the seconds since the command began, on an injected monotonic clock (each reading 0.5 s later)."""
    from bot.campaign_import import cli

    ticks = iter(i * 0.5 for i in range(100))
    monkeypatch.setattr(cli, "monotonic", lambda: next(ticks))
    monkeypatch.setattr(writing, "PROGRESS_FROM", 3)
    assert main(["campaign", "import", str(GOOD), "--start"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Imported campaign 1 'Backend Q4': 3 candidates") and out.count("\n") == 1
    assert err.splitlines() == [
        f"outreach: read 3 candidates from {GOOD} (0.5 s)",
        "outreach: checked: no problems; writing (1.0 s)",
        "outreach: added 3 candidates (1.5 s)",
        "outreach: enrolled 3 candidates in 'Backend Q4' (2.0 s)",
        "outreach: started: step 1 planned for 3 candidates (2.5 s)",
        "outreach: committed; refreshing the database's statistics (3.0 s)",
    ]


def test_a_small_import_says_nothing_on_stderr(cli_database: str, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writing, "PROGRESS_FROM", 4)
    assert main(["campaign", "import", str(GOOD), "--dry-run"]) == 0
    assert capsys.readouterr().err == ""


def test_campaign_needs_a_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["campaign"])
    assert exited.value.code == 2
    assert "required: CAMPAIGN_COMMAND" in capsys.readouterr().err


# --- Addresses and one-line texts: refused on their line, nothing written ---------------------

# Each is what a provider would read as two recipients, or a header of its own (issue 13).
BAD_ADDRESSES = [
    ("ana@x.example,boss@corp.example", '"ana@x.example,boss@corp.example" holds more than one address: expected '
                                        "one address per list item"),
    ("ana@@x..example", '"ana@@x..example" is not an email address (the part after the @-sign contains invalid '
                        "characters: '@'): expected name@example.com"),
    ('"a@b"@x.example', '""a@b"@x.example" has quotes before the @: expected a plain address'),
    ("ana@x.example\r\nBcc: evil@x.example", '"ana@x.example\\r\\nBcc: evil@x.example" contains a line break '
                                             "(U+000D): expected one address on one line"),
]


@pytest.mark.parametrize(("address", "message"), BAD_ADDRESSES)
def test_an_address_that_is_not_one_plain_address_is_refused_on_its_line(
        runtime: Runtime, engine: Engine, tmp_path: Path, address: str, message: str) -> None:
    quoted = json.dumps(address)  # a YAML double-quoted scalar reads JSON's escapes
    bad = variant(tmp_path, ("      - other: bo@old.example\n", f"      - other: {quoted}\n"),
                  ("  email: rita@acme.example\n", f"  email: {quoted}\n"))
    found = problems(runtime, bad)
    assert [p.split(": ", 2)[:2] for p in found] == [[f"{bad}:{line_of(bad, 'email: ')}", "owner.email"],
                                                     [f"{bad}:{line_of(bad, '- other: ')}",
                                                      "candidates[2].addresses[2].address"]]
    assert all(p.split(": ", 2)[2].startswith(message) for p in found), found
    assert_empty(engine)


def test_the_mailbox_address_is_checked_as_any_other(runtime: Runtime, engine: Engine, tmp_path: Path) -> None:
    bad = variant(tmp_path, ("  address: Rita@Acme.example\n", "  address: rita@acme.example,boss@corp.example\n"))
    assert [p.split(": ", 2)[1] for p in problems(runtime, bad)] == ["mailbox.address"]
    assert_empty(engine)


@pytest.mark.parametrize(("change", "path", "what"), [
    (("  - name: Bo Chen\n", '  - name: "Bo\\rChen"\n'), "candidates[2].name", "a line break (U+000D)"),
    (("  - name: Bo Chen\n", '  - name: "Bo\\u2028Chen"\n'), "candidates[2].name", "a line separator (U+2028)"),
    (("    fields: {company: Initech}\n", '    fields: {company: "Init\\0ech"}\n'), "candidates[2].fields.company",
     "a NUL character (U+0000)"),
    (('    - subject: "Re: Backend role at {{ company }}"\n', '    - subject: "Re: Backend\\rrole"\n'),
     "sequence.steps[2].subject", "the subject has several lines"),
    (('    - subject: "Re: Backend role at {{ company }}"\n', '    - subject: "Re: Backend\\x1brole"\n'),
     "sequence.steps[2].subject", "a control character (U+001B)"),
    (("  name: Rita Recruiter\n", '  name: "Rita\\nRecruiter"\n'), "owner.name", "a line break (U+000A)"),
])
def test_a_control_character_in_a_name_subject_or_field_is_refused_on_its_line(
        runtime: Runtime, engine: Engine, tmp_path: Path, change: tuple[str, str], path: str, what: str) -> None:
    bad = variant(tmp_path, change)
    [found] = problems(runtime, bad)
    assert found.startswith(f"{bad}:{line_of(bad, change[1].strip())}: {path}: "), found
    assert what in found and ": expected" in found
    assert_empty(engine)


def test_a_field_may_hold_line_breaks_for_a_body(runtime: Runtime, tmp_path: Path) -> None:
    good = variant(tmp_path, ("    fields: {company: Initech}\n", '    fields: {company: Initech, note: "a\\nb"}\n'))
    assert import_campaign(runtime, good).candidates == 3


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(8))


@pytest.fixture
def yaml_work(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How much YAML work an import did: nodes composed, and Python objects built from them. Bounded
    work is what "ends at once" means, measured without a clock (a timed assertion fails on a loaded
    machine and proves nothing on a fast one)."""
    import yaml

    from bot import yaml_limits

    work = {"composed": 0, "built": 0}
    compose, construct = yaml_limits.LimitedLoader.compose_node, yaml.constructor.BaseConstructor.construct_object

    def counted_compose(self: Any, parent: Any, index: Any) -> Any:
        work["composed"] += 1
        return compose(self, parent, index)

    def counted_construct(self: Any, node: Any, deep: bool = False) -> Any:
        work["built"] += 1
        return construct(self, node, deep)

    monkeypatch.setattr(yaml_limits.LimitedLoader, "compose_node", counted_compose)
    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_object", counted_construct)
    return work


@pytest.mark.parametrize(("source", "expected"), [
    (BILLION_LAUGHS, "more than 300,000 values once its aliases (*name) are expanded"),
    ("candidates: [" + "1, " * 400_000 + "]\n", "the file holds more than 300,000 values"),
    ("candidates: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
])
def test_an_alias_bomb_or_a_huge_document_ends_at_once_with_one_line(
        cli_database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, source: str, expected: str,
        yaml_work: dict[str, int]) -> None:
    from bot.yaml_limits import MAX_NODES

    path = tmp_path / "bomb.yaml"
    path.write_text(source)
    assert main(["campaign", "import", str(path)]) == 2
    # Stopped while composing, before any value was built: at most the node limit's worth of work.
    assert yaml_work["built"] == 0 and yaml_work["composed"] <= MAX_NODES + 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and expected in err and "Traceback" not in err, err


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
        cli_database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, yaml_work: dict[str, int]) -> None:
    import io

    path = tmp_path / "huge.yaml"
    with path.open("w") as out:
        out.write("candidates:\n")
        out.truncate(50_000_000)  # 50 MB (sparse: nothing to write)
    assert main(["campaign", "import", str(path)]) == 2
    assert yaml_work["composed"] == 0  # refused on its size, before the parser read a byte
    assert capsys.readouterr().err == (f"outreach: {path}: the file is 50.0 MB, over the 2 MB a campaign file may "
                                       "be: import fewer candidates per file; nothing was imported\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("# padding\n" * 300_000))
    assert main(["campaign", "import", "-"]) == 2
    assert capsys.readouterr().err.startswith("outreach: <stdin>: the file is 2.0 MB, over the 2 MB")


# --- Names taken (issue 17 §2) ------------------------------------------------------------------

def test_a_second_file_reuses_the_same_sequence_and_needs_its_own_campaign_name(runtime: Runtime,
                                                                               tmp_path: Path) -> None:
    """The campaign is always new, so its taken name (any case) is a problem on its line; the sequence,
    named as the owner's with the same steps, is reused rather than refused or duplicated."""
    first = import_campaign(runtime, GOOD)
    again = variant(tmp_path, ("  name: Backend Q4\n", "  name: backend q4\n"))
    assert problems(runtime, again) == [
        f"{again}:{line_of(again, 'name: backend q4')}: campaign.name: Rita Recruiter already has a campaign "
        "called 'Backend Q4': expected another name for this one (`name:` under campaign)"]
    second = import_campaign(runtime, variant(tmp_path, ("  name: Backend Q4\n", "  name: Backend Q1\n"),
                                              name="q1.yaml"))
    assert second.sequence_id == first.sequence_id
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Sequence)) == 1


def test_a_taken_sequence_name_with_other_steps_is_a_problem_on_its_line(runtime: Runtime, engine: Engine,
                                                                         tmp_path: Path) -> None:
    import_campaign(runtime, GOOD)
    before = row_counts(engine)
    other = variant(tmp_path, ("  name: Backend engineers\n", "  name: BACKEND ENGINEERS\n"),
                    ("  name: Backend Q4\n", "  name: Backend Q1\n"), ("any thoughts?", "any news?"))
    assert problems(runtime, other) == [
        f"{other}:{line_of(other, 'name: BACKEND ENGINEERS')}: sequence.name: Rita Recruiter already has a "
        "sequence called 'Backend engineers' with other steps: expected another name, or exactly its steps "
        "to reuse it"]
    assert row_counts(engine) == before
