from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select
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
