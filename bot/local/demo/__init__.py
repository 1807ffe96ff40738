"""`outreach demo`: a scripted, offline walk through the bot's main job (see story.py)."""
from __future__ import annotations

from bot.local.demo.story import run_demo

__all__ = ["run_demo"]
