"""Counts in words people read: "1 candidate", "2 candidates", never "candidate(s)". (inflect does
this for every English noun but takes 1.6 s to import, which every command-line call would pay.)"""
from __future__ import annotations


def counted(n: int, one: str, many: str | None = None) -> str:
    """`n` and the noun that agrees with it; `many` where the plural is not `one` + "s"."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def agrees(n: int, singular: str, plural: str) -> str:
    """The word (a verb, mostly) that agrees with a count: agrees(n, "is", "are")."""
    return singular if n == 1 else plural
