"""The bulk writers refresh PostgreSQL's statistics after they commit (bot/services/fresh_statistics.py):
a CSV confirmed into a campaign, Start, and `outreach campaign import`. What is checked is that an
ANALYZE ran (pg_stat_user_tables.analyze_count counts manual ones only, never autovacuum's)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.campaign_import import import_campaign_text
from bot.clock import FakeClock
from bot.db import transaction
from bot.local.slack import Person
from bot.runtime import Runtime
from bot.services.fresh_statistics import BULK_ROWS
from handlers.ids import Action
from tests import factories
from tests.handlers.conftest import RITA

ROWS = BULK_ROWS + 10
GOOD = Path(__file__).parents[1] / "bot" / "fixtures" / "import" / "good.yaml"


def analysed(engine: Engine) -> int:
    """How many times ANALYZE ran on enrollments (by a command, not by autovacuum)."""
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT coalesce(sum(analyze_count), 0) FROM pg_stat_user_tables "
                                    "WHERE schemaname = current_schema() AND relname = 'enrollments'")) or 0)


@pytest.fixture(autouse=True)
def postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no statistics to refresh")


def test_a_confirmed_csv_and_start_refresh_the_statistics(
        rita: Person, runtime: Runtime, engine: Engine, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        factories.campaign_with_candidates(session, owner, factories.sandbox_mailbox(session, owner, clock), clock)
    csv = "name,email,company\n" + "".join(f"Person {n},p{n}@corp.example,Acme\n" for n in range(ROWS))
    rita.upload("team.csv", csv.encode())
    before = analysed(engine)
    assert rita.click(Action.UPLOAD_CONFIRM.value).ok
    assert analysed(engine) == before + 1
    assert rita.click(Action.CAMPAIGN_START.value).ok  # plans step 1 for each: another bulk write
    assert analysed(engine) == before + 2


def test_a_small_confirm_leaves_them_to_autovacuum(
        rita: Person, runtime: Runtime, engine: Engine, clock: FakeClock) -> None:
    with transaction(runtime.sessions, write=True) as session:
        owner = factories.recruiter(session, clock, slack_id=RITA)
        factories.campaign_with_candidates(session, owner, factories.sandbox_mailbox(session, owner, clock), clock)
    rita.upload("team.csv", b"name,email,company\nDee Eve,dee@acme.example,Acme\n")
    before = analysed(engine)
    assert rita.click(Action.UPLOAD_CONFIRM.value).ok
    assert analysed(engine) == before


def test_an_import_refreshes_them(runtime: Runtime, engine: Engine) -> None:
    head = GOOD.read_text().split("\ncandidates:\n")[0]
    people = "".join(f"  - name: Person {n}\n    fields: {{company: Acme}}\n    addresses:\n"
                     f"      - work: p{n}@corp.example\n" for n in range(ROWS))
    before = analysed(engine)
    result = import_campaign_text(runtime, f"{head}\ncandidates:\n{people}")
    assert len(result.candidate_ids) == ROWS
    assert analysed(engine) == before + 1
