"""The composition root: what every entry point (serve, worker, demo, tests) wires together."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.crypto import CredentialCipher
from bot.db import make_engine, session_factory
from bot.provider_registry import DefaultProviders, ProviderRegistry


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    providers: ProviderRegistry
    rng: random.Random = field(default_factory=random.Random)
    cipher: CredentialCipher | None = None  # None when no OUTREACH_ENCRYPTION_KEYS (sandbox mailboxes only)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    engine: Engine | None = None,
    providers: ProviderRegistry | None = None,
) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    cipher = CredentialCipher([str(k.get_secret_value()) for k in settings.encryption_keys]) \
        if settings.encryption_keys else None
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
        providers=providers or DefaultProviders(
            sandbox_dir=settings.sandbox_dir, sandbox_latency=settings.sandbox_latency_ms / 1000, cipher=cipher,
            endpoints=settings.endpoints(), google=settings.google_client(), microsoft=settings.microsoft_client()),
        rng=rng or random.Random(),
        cipher=cipher,
    )
