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
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (copy, drop the old, rename): with foreign keys on, the drop
            # would cascade into every child table (or be refused). Off for the migration only, set
            # outside any transaction (SQLite ignores the pragma inside one); the connection is then
            # discarded, so the pool's next one enforces them again (bot.db turns them on at connect).
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,  # SQLite cannot ALTER most things
                compare_type=True,
                include_object=_compared_on_sqlite if sqlite else None,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("a migration left rows whose foreign keys point nowhere: rolled back")
            connection.commit()
        finally:
            if sqlite:
                connection.invalidate()


run_migrations_online()
