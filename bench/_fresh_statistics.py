"""For bench/slack.py, PostgreSQL: status, when and the campaign message's reads of a 10,000-candidate
campaign right after its rows were bulk-inserted into a fresh schema (never analysed), then after
refresh_after_bulk_write (what the bulk writers now call), in the same run. A read is cut off at
STATEMENT_TIMEOUT seconds (then "fresh_timed_out": true and fresh_s is the cut-off)."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from bench._databases import drop_database, fresh_database
from bench._recruiter import RITA
from bench._slack_seed import BIG, seed
from bot.db import session_factory, transaction
from bot.models import Campaign, User
from bot.services import access
from bot.services.campaign_list import campaign_page
from bot.services.campaign_status import campaign_status
from bot.services.campaigns import upcoming_sends
from bot.services.fresh_statistics import refresh_after_bulk_write
from handlers.views.campaigns import campaign_blocks

STATEMENT_TIMEOUT = 10


def _reads() -> dict[str, Callable[[Any, User, Campaign], Any]]:
    def status(session: Any, user: User, campaign: Campaign) -> Any:
        seen = access.campaign(session, user=user, campaign_id=campaign.id, need=access.Need.SEE)
        return campaign_blocks(campaign_status(session, campaign, viewer=seen))

    return {
        "status_campaign": status,
        "campaign_message": lambda session, user, campaign: campaign_blocks(campaign_status(session, campaign)),
        "when": lambda session, user, campaign: upcoming_sends(session, campaign, viewer_id=user.id),
        "status_all": lambda session, user, campaign: campaign_page(session, user=user, offset=0),
    }


def _timed(sessions: Any, campaign_id: int, read: Callable[[Any, User, Campaign], Any]) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        with transaction(sessions) as session:
            session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}s'"))
            user = session.scalars(select(User).where(User.slack_user_id == RITA)).one()
            read(session, user, session.get(Campaign, campaign_id))
    except OperationalError:  # cancelled by statement_timeout
        return time.perf_counter() - started, True
    return time.perf_counter() - started, False


def bench_fresh_statistics(pg_url: str, workdir: Path) -> None:
    url, engine = fresh_database("postgresql", pg_url, workdir)
    try:
        campaign_id = seed(engine)[BIG]
        sessions = session_factory(engine)
        fresh = {name: _timed(sessions, campaign_id, read) for name, read in _reads().items()}
        refresh_after_bulk_write(sessions, rows=10_000)
        for name, read in _reads().items():
            analysed = min(_timed(sessions, campaign_id, read)[0] for _ in range(3))
            seconds, timed_out = fresh[name]
            print(json.dumps({"bench": "slack_ack", "part": "fresh_statistics", "backend": "postgresql",
                              "read": name, "candidates": 10_000, "fresh_s": round(seconds, 3),
                              "fresh_timed_out": timed_out, "analysed_s": round(analysed, 4),
                              "ratio": round(seconds / analysed, 1)}), flush=True)
    finally:
        drop_database("postgresql", url, engine, pg_url)
