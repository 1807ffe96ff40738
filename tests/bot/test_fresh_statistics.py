"""Plans that do not wait for autovacuum (issue 16, part 2). Right after a bulk write PostgreSQL plans
status, when and the campaign message with statistics from before it; the writer refreshes them
(bot/services/fresh_statistics.py). What is checked is the shape of the plan PostgreSQL runs (how
many row pairs a join compared and threw away, from EXPLAIN ANALYZE), never how long it took."""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from bench._recruiter import RITA
from bench._slack_seed import BIG, seed
from bot.db import make_engine, session_factory, transaction, upgrade
from bot.models import Campaign, User
from bot.services import access
from bot.services.campaign_list import campaign_page
from bot.services.campaign_status import campaign_status
from bot.services.campaigns import upcoming_sends
from bot.services.fresh_statistics import BULK_ROWS, TABLES, refresh_after_bulk_write

PG_URL = os.environ.get("OUTREACH_TEST_DATABASE_URL")
pg_only = pytest.mark.skipif(not PG_URL, reason="set OUTREACH_TEST_DATABASE_URL to run against PostgreSQL")
CANDIDATES = 2_000


@pytest.fixture
def fresh_pg() -> Iterator[Engine]:
    """A schema of its own, migrated and never analysed: the test's tables have no history."""
    schema = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})  # type: ignore[arg-type]
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _reads(engine: Engine, campaign_id: int) -> list[tuple[str, Any]]:
    """The statements of `/outreach status <campaign>`, `/outreach when` and the campaign list."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))
    event.listen(engine, "before_cursor_execute", keep)
    try:
        with transaction(session_factory(engine)) as session:
            user = session.scalars(select(User).where(User.slack_user_id == RITA)).one()
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            seen_as = access.campaign(session, user=user, campaign_id=campaign_id, need=access.Need.SEE)
            campaign_status(session, campaign, viewer=seen_as)
            upcoming_sends(session, campaign, viewer_id=user.id)
            campaign_page(session, user=user, offset=0)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen


def _pairs_thrown_away(node: dict[str, Any]) -> int:
    own = int(node.get("Rows Removed by Join Filter", 0)) * int(node.get("Actual Loops", 1))
    return own + sum(_pairs_thrown_away(child) for child in node.get("Plans", []))


def worst_join(engine: Engine, campaign_id: int) -> int:
    """The most row pairs any of the reads' joins compared and discarded: a few at most in a plan
    that finds each row by an index or a hash, enrollments × pending sends in a blind nested loop."""
    worst = 0
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in _reads(engine, campaign_id):
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            worst = max(worst, _pairs_thrown_away(plan[0]["Plan"]))
    return worst


def _never_analysed(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not conn.scalar(text(
            "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND relname = ANY(:tables) AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"),
            {"tables": list(TABLES)})


@pg_only
def test_after_a_bulk_write_status_when_and_the_list_find_rows_by_index_or_hash(fresh_pg: Engine) -> None:
    campaign_id = seed(fresh_pg, sizes={BIG: CANDIDATES}, campaigns=3)[BIG]
    if _never_analysed(fresh_pg):  # as the issue saw it (autovacuum may have come round meanwhile)
        assert worst_join(fresh_pg, campaign_id) >= CANDIDATES * 10
    assert refresh_after_bulk_write(session_factory(fresh_pg), rows=CANDIDATES)
    assert not _never_analysed(fresh_pg)
    assert worst_join(fresh_pg, campaign_id) < CANDIDATES


@pg_only
def test_a_small_write_leaves_the_statistics_to_autovacuum(fresh_pg: Engine) -> None:
    assert not refresh_after_bulk_write(session_factory(fresh_pg), rows=BULK_ROWS - 1)
    assert refresh_after_bulk_write(session_factory(fresh_pg), rows=BULK_ROWS)


def test_sqlite_needs_no_statistics(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(engine)
    assert not refresh_after_bulk_write(session_factory(engine), rows=BULK_ROWS * 10)
    engine.dispose()
