"""Counts read as people write them: "1 candidate", "2 candidates", never "candidate(s)"."""
from __future__ import annotations

from bot.wording import agrees, counted


def test_a_count_agrees_with_its_noun_and_its_verb() -> None:
    assert [counted(n, "candidate") for n in (0, 1, 2, 10_000)] == [
        "0 candidates", "1 candidate", "2 candidates", "10,000 candidates"]
    assert counted(1, "reply", "replies") == "1 reply" and counted(3, "reply", "replies") == "3 replies"
    assert [f"{counted(n, 'campaign')} {agrees(n, 'is', 'are')} paused" for n in (1, 2)] == [
        "1 campaign is paused", "2 campaigns are paused"]
