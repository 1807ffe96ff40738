"""Many rows of values as one bound parameter, so a bulk `UPDATE … FROM rows` is compiled once and
cached. (A `VALUES` list is part of the statement: SQLAlchemy compiled it anew for every batch, and
that was most of a batch's cost.) PostgreSQL reads the rows from arrays with `unnest`, SQLite from a
JSON array with `json_each`; both give the same named, typed columns."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, FromClause, any_, bindparam, cast, column, func, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

Columns = Sequence[tuple[str, TypeEngine[Any]]]


def rows_table(backend: str, name: str, columns: Columns) -> FromClause:
    """A FROM clause named `name` whose columns are `columns`, read from `rows_params`' parameters
    (`backend`: the dialect's name)."""
    if backend == "postgresql":
        return func.unnest(*[cast(bindparam(f"{name}_{c}"), ARRAY(t)) for c, t in columns]).table_valued(
            *[column(c, t) for c, t in columns]).render_derived(name=name)
    each = func.json_each(bindparam(f"{name}_json")).table_valued("value").alias(f"{name}_each")
    return select(*[type_coerce(func.json_extract(each.c.value, f"$[{i}]"), t).label(c)
                    for i, (c, t) in enumerate(columns)]).select_from(each).subquery(name)


def rows_params(dialect: Dialect, name: str, columns: Columns, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    if dialect.name == "postgresql":
        return {f"{name}_{c}": [row[i] for row in rows] for i, (c, _) in enumerate(columns)}
    # Values as SQLite stores them (a time as SQLAlchemy's text form), since they bypass the types.
    processors = [t.dialect_impl(dialect).bind_processor(dialect) for _, t in columns]
    return {f"{name}_json": json.dumps([[p(v) if p and v is not None else v for p, v in zip(processors, row)]
                                        for row in rows])}


def among(column: Any, ids: Sequence[int], dialect: Dialect) -> Any:
    """`column IN ids` for a batch of ids: on PostgreSQL one array parameter (`= ANY`), so the
    statement's text is the same for every batch; psycopg converts a long IN list's text anew each
    time (it keeps only short statements)."""
    if dialect.name == "postgresql":
        return column == any_(bindparam(f"{column.key}_ids", list(ids), type_=ARRAY(column.type)))
    return column.in_(list(ids))
