"""A candidate's first and last name from their full name, by a kept name parser (nameparser), so
"Dr. Pat O'Brien, Jr." is greeted "Hi Pat", not "Hi Dr.".

A parse costs about 0.1 ms, and every send renders its candidate's name: a name of one or two
plain words, neither a title, a suffix (nor a roman numeral), a prefix nor a conjunction the parser knows, is split
directly (the parser gives the same answer, a property test holds them together); anything else
goes to the parser, remembered for the names seen most recently.
"""
from __future__ import annotations

import functools
import re

from nameparser import HumanName
from nameparser.config import CONSTANTS

_SPECIAL = (CONSTANTS.titles, CONSTANTS.suffix_acronyms, CONSTANTS.suffix_not_acronyms, CONSTANTS.prefixes,
            CONSTANTS.conjunctions)


_ROMAN = CONSTANTS.regexes.roman_numeral
_WORD = re.compile(r"[^\W_][\w'’-]*")  # letters and digits, inner apostrophes and hyphens: no "." or ",", no initial


def _plain(word: str) -> bool:
    lowered = word.lower()
    return (len(word) > 1 and _WORD.fullmatch(word) is not None and not any(lowered in words for words in _SPECIAL)
            and not _ROMAN.match(word))  # "IX" ends a name as a suffix, as "Jr" does


def first_and_last(name: str) -> tuple[str, str]:
    """(first name, last name); a name the parser finds no first name in keeps its first word."""
    words = name.split()
    if len(words) <= 2 and all(_plain(word) for word in words):
        return (words[0] if words else ""), (words[1] if len(words) == 2 else "")
    return _parsed(" ".join(words))


@functools.lru_cache(maxsize=4096)
def _parsed(name: str) -> tuple[str, str]:
    parsed = HumanName(name)
    return (parsed.first or name.split()[0] if name else ""), parsed.last
