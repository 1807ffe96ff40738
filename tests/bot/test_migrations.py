from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.db import alembic_config, session_factory, transaction
from bot.models import Base, Organisation


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
