"""The return date an out-of-office reply states: "I'm out of the office until 14 December", "bis
zum 14.12.", "jusqu'au 14 décembre", "hasta el 14 de diciembre", "back on Monday 12/14".

Pure: standard library only, nothing of the app. A date counts only right after a cue that says
when the writer is back or away until ("until", "back on", "bis zum", "ab dem", "jusqu'au", "de
retour le", "hasta el", "de vuelta el"), so a phone number or an unrelated date is never read.

Conservative by design, as a wrong date holds a step back for nothing: a numeric date is read day
first after a German, French or Spanish cue; after an English cue only when one part is above 12
(12/14 is month first, 14/12 day first), so 03/04 in English gives no date. A year left out is the
next occurrence on or after the message's day; a weekday alone is the next such day after it. A
date in the past or more than MAX_AHEAD ahead gives None: the sequence then goes on as before.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

MAX_AHEAD = timedelta(days=90)

_MONTHS = {
    # English
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
    "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    # German (folded: "März" reads "marz")
    "januar": 1, "februar": 2, "marz": 3, "maerz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10,
    "dezember": 12, "okt": 10, "dez": 12,
    # French
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7, "aout": 8, "septembre": 9,
    "octobre": 10, "novembre": 11, "decembre": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonntag": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
}
_CUES = {
    "en": r"until|till|through|back(?: in the office| at work| in office)?(?: on)?|returning(?: to the office)?(?: on)?"
          r"|return(?: to the office)? on|in the office (?:on|from)",
    "de": r"bis(?: zum| zur| einschliesslich| am)?|ab(?: dem| den)?|zuruck(?: am| ab)?|wieder (?:am|ab)",
    "fr": r"jusqu'(?:au|a)|de retour(?: au bureau)?(?: le)?|retour(?: le)?|a partir du|des le",
    "es": r"hasta(?: el)?|de vuelta(?: el)?|de regreso(?: el)?|volvere(?: el)?|a partir del",
}


def _words(names: dict[str, int]) -> str:
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True))


_MONTH = _words(_MONTHS)
_WEEKDAY = _words(_WEEKDAYS)
_DATE = (
    rf"(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})(?!\d)"
    rf"|(?P<a>\d{{1,2}})(?P<sep>[./])(?P<b>\d{{1,2}})(?:(?P=sep)(?P<y>\d{{4}}|\d{{2}})?)?(?![\d/.]\d)"
    rf"|(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s*(?:of\s+|de\s+)?(?P<m>{_MONTH})(?!\w)\.?(?:,?\s+(?:de\s+)?(?P<y2>\d{{4}}))?"
    rf"|(?P<m2>{_MONTH})(?!\w)\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:,?\s+(?P<y3>\d{{4}}))?"
    rf"|(?P<wd>{_WEEKDAY})(?!\w)"
)
_FILLER = r"(?:(?:the|le|el|dem|den|am|on|del|au)\s+)?"
_PATTERN = re.compile(
    r"(?<![\w'])(?:" + "|".join(f"(?P<{lang}>{cue})" for lang, cue in _CUES.items()) + r")\s+"
    + _FILLER + rf"(?:(?:{_WEEKDAY}),?\s+{_FILLER})?(?:{_DATE})")


def _fold(text: str) -> str:
    """Lower case, no accents, ’ as ': "Décembre" and "decembre" read alike."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'")).lower()
    return "".join(c for c in text if not unicodedata.combining(c))


def _numeric(a: int, b: int, lang: str) -> tuple[int, int] | None:
    """(month, day) of a numeric a/b date, or None when it cannot be told."""
    if lang != "en":
        return b, a  # day first in German, French and Spanish
    if a > 12 >= b:
        return b, a
    if b > 12 >= a:
        return a, b
    return None  # 03/04 in English: March 4 or 3 April, so neither


def _next(month: int, day: int, year: int | None, sent_on: date) -> date | None:
    if year is not None:
        year = year + 2000 if year < 100 else year
        try:
            return date(year, month, day)
        except ValueError:
            return None
    for candidate_year in (sent_on.year, sent_on.year + 1):
        try:
            found = date(candidate_year, month, day)
        except ValueError:
            continue
        if found >= sent_on:
            return found
    return None


def _read(match: re.Match[str], sent_on: date) -> date | None:
    lang = next(name for name in _CUES if match.group(name) is not None)
    g = match.group
    if g("iy"):
        return _next(int(g("im")), int(g("id")), int(g("iy")), sent_on)
    if g("a"):
        if g("sep") == "." and lang == "en":
            lang = "de"  # 14.12. is day first whoever writes it
        parts = _numeric(int(g("a")), int(g("b")), lang)
        return _next(*parts, int(g("y")) if g("y") else None, sent_on) if parts else None
    if g("m"):
        return _next(_MONTHS[g("m")], int(g("d")), int(g("y2")) if g("y2") else None, sent_on)
    if g("m2"):
        return _next(_MONTHS[g("m2")], int(g("d2")), int(g("y3")) if g("y3") else None, sent_on)
    ahead = (_WEEKDAYS[g("wd")] - sent_on.weekday() - 1) % 7 + 1  # the next one, never the same day
    return sent_on + timedelta(days=ahead)


def return_date(*texts: str | None, sent_on: date) -> date | None:
    """The first return date stated in `texts` (the subject, then the body), read as of `sent_on`,
    the message's day; None when none can be read or it is out of range."""
    for text in texts:
        for match in _PATTERN.finditer(_fold(text or "")[:20_000]):
            found = _read(match, sent_on)
            if found is not None and sent_on <= found <= sent_on + MAX_AHEAD:
                return found
    return None
