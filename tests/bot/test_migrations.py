from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.db import alembic_config, session_factory, transaction
from bot.clock import FakeClock
from bot.models import Base, Organisation
from bot.services.campaigns import start_campaign
from tests import factories


def test_migrations_produce_exactly_the_models(engine: Engine) -> None:
    command.check(alembic_config(engine))  # raises when the models and the migrated schema differ
    assert set(inspect(engine).get_table_names()) >= {t.name for t in Base.metadata.sorted_tables}


def test_timestamps_come_back_aware_utc(engine: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    with transaction(session_factory(engine), write=True) as session:
        session.add(Organisation(slack_team_id="T1", created_at=datetime(2026, 1, 1, 13, 0, tzinfo=paris)))
    with transaction(session_factory(engine)) as session:
        org = session.scalar(select(Organisation))
        assert org.created_at == datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
        assert org.created_at.tzinfo is timezone.utc


def test_unknown_enum_values_and_naive_times_are_refused(engine: Engine) -> None:
    sessions = session_factory(engine)
    with pytest.raises((StatementError, ValueError)):
        with transaction(sessions, write=True) as session:
            session.add(Organisation(slack_team_id="T2", created_at=datetime(2026, 1, 1)))
    with pytest.raises(IntegrityError):
        with transaction(sessions, write=True) as session:
            now = datetime.now(timezone.utc)
            session.add_all([Organisation(slack_team_id="T3", created_at=now),
                             Organisation(slack_team_id="T3", created_at=now)])


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    config = alembic_config(engine)
    command.downgrade(config, "base")
    assert "organisations" not in inspect(engine).get_table_names()
    command.upgrade(config, "head")
    command.check(config)


def test_0013_renames_colliding_names_then_refuses_a_duplicate_whatever_its_case(engine: Engine) -> None:
    """Sequences named "SRE" and "sre" by one owner before 0013 come out as "SRE" and "sre (2)"; after
    it, a third "Sre" is refused by the database itself (an archived one frees its name)."""
    config = alembic_config(engine)
    command.downgrade(config, "0012")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO organisations (id, slack_team_id, name, permission_level, created_at) "
                                "VALUES (1, 'T1', 'Org', 'basic', :now)"), {"now": now})
        connection.execute(text("INSERT INTO users (id, organisation_id, slack_user_id, name, tz, is_admin, created_at) "
                                "VALUES (1, 1, 'U1', 'Rita', 'UTC', false, :now), (2, 1, 'U2', 'Omar', 'UTC', false, :now)"),
                           {"now": now})
        for row_id, owner, name in ((1, 1, "SRE"), (2, 1, "sre"), (3, 2, "SRE")):
            connection.execute(text("INSERT INTO sequences (id, organisation_id, owner_id, name, created_at) "
                                    "VALUES (:id, 1, :owner, :name, :now)"),
                               {"id": row_id, "owner": owner, "name": name, "now": now})
    command.upgrade(config, "head")
    with engine.connect() as connection:
        names = dict(connection.execute(text("SELECT id, name FROM sequences ORDER BY id")).all())
    assert names == {1: "SRE", 2: "sre (2)", 3: "SRE"}  # another owner's "SRE" is no collision
    insert = text("INSERT INTO sequences (id, organisation_id, owner_id, name, created_at, archived_at) "
                  "VALUES (:id, 1, 1, :name, :now, :archived)")  # ids given: PostgreSQL's counter never moved
    with pytest.raises(IntegrityError, match="owner_name"):
        with engine.begin() as connection:
            connection.execute(insert, {"id": 10, "name": "Sre", "now": now, "archived": None})
    with engine.begin() as connection:  # archived: no longer holds the name
        connection.execute(insert, {"id": 11, "name": "Sre", "now": now, "archived": now})


def test_an_upgrade_keeps_every_row_of_the_tables_it_rebuilds(engine: Engine, clock: FakeClock) -> None:
    """SQLite's batch mode rebuilds a table by copying it and dropping the old one; with foreign keys
    on, that drop would cascade into every child table (0013 rebuilds `enrollments`: its sends and
    replies would go). Rows made at head are all there after a downgrade to 0012 and back."""
    config = alembic_config(engine)
    with transaction(session_factory(engine), write=True) as session:
        rita = factories.recruiter(session, clock)
        campaign = factories.campaign_with_candidates(session, rita, factories.sandbox_mailbox(session, rita, clock),
                                                      clock, candidates=2)
        start_campaign(session, campaign=campaign, clock=clock, rng=random.Random(1))
    tables = ("organisations", "users", "mailboxes", "sequences", "campaigns", "candidates", "enrollments",
              "outbound_messages")
    with engine.connect() as connection:
        before = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
    command.downgrade(config, "0012")
    command.upgrade(config, "head")
    with engine.connect() as connection:
        after = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    assert after == before and before["outbound_messages"] == 2
    with engine.connect() as connection:  # the pool's connections enforce foreign keys again
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
