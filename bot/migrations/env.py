"""Alembic environment: the engine comes from bot.db (never from alembic.ini), so the same
migrations run from `outreach db upgrade`, at `serve` start-up and in the tests."""
from __future__ import annotations

import warnings
from typing import Any

from alembic import context
from sqlalchemy import exc

from bot.models import Base

config = context.config
target_metadata = Base.metadata


# SQLite's reflection cannot read an index on an expression (the case-blind unique names of 0013):
# SQLAlchemy warns and skips it. So `alembic check` skips those indexes on SQLite, the tests prove
# them by refusing a duplicate, and a batch migration of `sequences` or `campaigns` on SQLite must
# create them again (it rebuilds the table from reflection).
EXPRESSION_INDEXES = frozenset({"uq_sequences_owner_name", "uq_campaigns_owner_name"})


def _compared_on_sqlite(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", exc.SAWarning)
    warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index", UserWarning)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
            compare_type=True,
            include_object=_compared_on_sqlite if connection.dialect.name == "sqlite" else None,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
