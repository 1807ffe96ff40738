"""A throwaway database for a benchmark: a SQLite file, or a PostgreSQL schema dropped afterwards."""
from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from bot.db import make_engine, upgrade


def fresh_database(backend: str, pg_url: str | None, workdir: Path) -> tuple[str, Engine]:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        engine = make_engine(url)
    else:
        assert pg_url
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with make_engine(pg_url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{pg_url}?options=-csearch_path%3D{schema}"
        engine = make_engine(url)
    upgrade(engine)
    return url, engine


def drop_database(backend: str, url: str, engine: Engine, pg_url: str | None) -> None:
    engine.dispose()
    if backend == "postgresql":
        schema = url.rsplit("%3D", 1)[1]
        with make_engine(pg_url).begin() as conn:  # type: ignore[arg-type]
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
