"""The composition root: what every entry point (serve, worker, demo, tests) wires together."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import make_engine, session_factory
from providers.registry import DefaultProviders, ProviderRegistry


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    providers: ProviderRegistry
    rng: random.Random = field(default_factory=random.Random)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    engine: Engine | None = None,
    providers: ProviderRegistry | None = None,
) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
        providers=providers or DefaultProviders(sandbox_dir=settings.sandbox_dir,
                                                 sandbox_latency=settings.sandbox_latency_ms / 1000),
        rng=rng or random.Random(),
    )
