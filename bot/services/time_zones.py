"""A candidate's own time zone: read from an upload's `time zone` cell, and the one zone every
send-time rule uses for a candidate (`zone_of`): theirs when set, else the campaign's.

A cell holds an IANA name ("Europe/Berlin") or a city, read as the last part of an IANA name with
underscores as spaces ("New York", "Sao Paulo"), whatever its case or accents. A city the zone
database names in more than one zone (or in none) is a problem, since guessing would send at night.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


def _fold(text: str) -> str:
    """Case, accents, underscores and spacing folded away: "São_Paulo" and "sao paulo" match."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(ascii_text.replace("_", " ").casefold().split())


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    names: dict[str, str] = {}
    cities: dict[str, set[str]] = {}
    for name in available_timezones():
        names[_fold(name)] = name
        if "/" in name and not name.startswith(("Etc/", "SystemV/")):
            cities.setdefault(_fold(name.rsplit("/", 1)[1]), set()).add(name)
    return names, {city: _distinct(zones) for city, zones in cities.items()}


def _distinct(zones: set[str]) -> tuple[str, ...]:
    """Old aliases (America/Buenos_Aires for America/Argentina/Buenos_Aires) are one zone, not a
    choice: names whose clocks agree from 1990 to 2040 count once, under the longest name."""
    ordered = sorted(zones, key=lambda z: (-len(z), z))
    if len(ordered) == 1:
        return tuple(ordered)
    moments = [datetime(1990, 1, 1, tzinfo=timezone.utc) + timedelta(days=7 * week) for week in range(52 * 50)]
    kept: list[tuple[str, list[timedelta | None]]] = []
    for name in ordered:
        offsets = [moment.astimezone(ZoneInfo(name)).utcoffset() for moment in moments]
        if all(offsets != other for _, other in kept):
            kept.append((name, offsets))
    return tuple(sorted(name for name, _ in kept))


def read_zone(cell: str) -> tuple[str | None, str | None]:
    """(the IANA zone, None) or (None, what to write instead)."""
    names, cities = _tables()
    folded = _fold(cell)
    if folded in names:
        return names[folded], None
    zones = cities.get(folded, ())
    if len(zones) == 1:
        return zones[0], None
    if zones:
        return None, (f'time zone "{cell.strip()}" names more than one zone ({", ".join(zones)}): '
                      "write the one you mean")
    return None, (f'time zone "{cell.strip()}" is not a zone or a city we know: write an IANA name such as '
                  "Europe/Berlin, or the city it is named after, such as Berlin")


def zone_of(campaign_zone: str, candidate_zone: str | None) -> ZoneInfo:
    """The zone the send-time rules run in for one candidate: their own when known."""
    return ZoneInfo(candidate_zone or campaign_zone)


def follows(candidate_zone: str | None) -> str:
    """Whose time a send follows, for `/outreach when` and the campaign message."""
    return f"candidate's time, {candidate_zone}" if candidate_zone else "campaign's time"
